//! `hologuide-server bench`: requests/s of `GET /v1/guides` and of sign-ins, and blob download
//! throughput with concurrent clients on loopback, against a plain file copy of the same blob. A
//! bounded run in a temporary data folder, removed at the end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hologuide::service::model::{AssetEntry, Role};
use hologuide::service::serve::ConnectionLimits;
use hologuide::service::{
    Config, DataLocation, Membership, PackageOrigin, Service, ServiceError, SystemClock,
};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Size of the blob downloaded, in MiB.
    #[arg(long, default_value_t = 16)]
    blob_mib: u64,
    /// Also compare SQLite with PostgreSQL (one instance and two) on this server: a URL whose
    /// user may create databases (the benchmark's own is dropped at the end). N4.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub measurement: String,
    pub value: f64,
    pub unit: &'static str,
    pub target: &'static str,
}

/// A data folder under the system temp dir, removed on drop.
pub(super) struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The demo guide with a large picture on its first step: the blob the download test fetches.
pub(super) fn bench_package(dir: &Path, blob_bytes: u64) -> anyhow::Result<()> {
    let demo = hologuide::demo::package_dir().context("finding the demo guide")?;
    std::fs::create_dir_all(dir.join("models"))?;
    std::fs::create_dir_all(dir.join("media"))?;
    for entry in std::fs::read_dir(demo.join("models"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), dir.join("models").join(entry.file_name()))?;
    }
    let mut guide: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.join("guide.json"))?)?;
    let Some(step) = guide.pointer_mut("/tasks/0/steps/0") else {
        bail!("the demo guide has no first step");
    };
    step["media"] = serde_json::json!({ "path": "media/big.png" });
    std::fs::write(dir.join("guide.json"), serde_json::to_vec_pretty(&guide)?)?;
    // PNG signature then pseudo-random bytes: the package check looks at the signature only.
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while (bytes.len() as u64) < blob_bytes {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(blob_bytes as usize);
    std::fs::write(dir.join("media/big.png"), bytes)?;
    Ok(())
}

/// A new service at `location` with the user `bench` (an admin) and `package` published; the
/// guide's id and its picture, the blob the downloads fetch.
pub(super) fn published_service(
    location: &DataLocation,
    package: &Path,
) -> anyhow::Result<(Service, uuid::Uuid, AssetEntry)> {
    Service::init(location)?;
    let service = Service::open(location, Config::default(), Arc::new(SystemClock))?;
    let user = service.add_user(
        "bench",
        "bench-password",
        Role::Admin,
        &Membership::of(hologuide::demo::ORGANISATION),
        &[],
    )?;
    let manifest = service.publish(package, PackageOrigin::Local, &user)?;
    let picture = manifest
        .assets
        .into_iter()
        .find(|a| a.path == "media/big.png")
        .context("the published guide lacks its picture")?;
    Ok((service, manifest.guide_id, picture))
}

/// Serves `service` on a free loopback port until the task is aborted; the task and the base URL.
pub(super) async fn start_instance(
    service: Arc<Service>,
) -> anyhow::Result<(tokio::task::JoinHandle<Result<(), ServiceError>>, String)> {
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(hologuide::service::serve::serve(
        service,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        None,
        ConnectionLimits::default(),
        move |address, _| {
            let _ = ready_tx.send(address);
        },
        std::future::pending(),
    ));
    let address = ready_rx.await.context("the server did not start")?;
    Ok((server, format!("http://{address}")))
}

/// Signs `bench` in at `base`; its access token.
pub(super) async fn bench_token(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let session: serde_json::Value = client
        .post(format!("{base}/v1/session"))
        .json(&serde_json::json!({ "username": "bench", "password": "bench-password", "device_id": "bench" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(session["access_token"]
        .as_str()
        .context("no access token")?
        .to_owned())
}

pub fn run(args: BenchArgs, json: bool) -> anyhow::Result<ExitCode> {
    if args.clients == 0 || !(0.1..=600.0).contains(&args.seconds) || args.blob_mib == 0 {
        bail!("--clients must be at least 1, --seconds 0.1–600, --blob-mib at least 1");
    }
    let scratch =
        Scratch(std::env::temp_dir().join(format!("hologuide-bench-{}", uuid::Uuid::new_v4())));
    let data = scratch.0.join("data");
    let package = scratch.0.join("package");
    bench_package(&package, args.blob_mib * 1024 * 1024)?;
    let (service, _, blob) = published_service(&DataLocation::folder(&data), &package)?;
    let blob_path = service
        .blobs()
        .path(&blob.sha256)
        .context("the blob has no path")?;
    let copy_rate = file_copy_rate(&blob_path, &scratch.0.join("copy"), args.seconds)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (guides_rate, blob_rate, (signed_in, busy, sign_in_seconds), errors) =
        runtime.block_on(async {
            let (server, base) = start_instance(Arc::new(service)).await?;
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(args.clients)
                .build()?;
            let token = bench_token(&client, &base).await?;
            let duration = Duration::from_secs_f64(args.seconds);
            let errors = Arc::new(AtomicU64::new(0));
            let guides = load(
                &client,
                &[format!("{base}/v1/guides")],
                &token,
                args.clients,
                duration,
                &errors,
            )
            .await;
            let blobs = load(
                &client,
                &[format!("{base}/v1/blobs/{}", blob.sha256)],
                &token,
                args.clients,
                duration,
                &errors,
            )
            .await;
            let sign_ins = sign_in_load(&client, &base, args.clients, duration, &errors).await;
            server.abort();
            anyhow::Ok((
                guides.0 as f64 / guides.2,
                blobs.1 as f64 / blobs.2,
                sign_ins,
                errors.load(Ordering::Relaxed),
            ))
        })?;
    if errors > 0 {
        bail!("{errors} requests failed during the benchmark");
    }
    let mib = |bytes_per_s: f64| bytes_per_s / (1024.0 * 1024.0);
    let mut rows = vec![
        Row {
            measurement: "GET /v1/guides".into(),
            value: guides_rate,
            unit: "requests/s",
            target: ">= 5000",
        },
        Row {
            measurement: "POST /v1/session".into(),
            value: signed_in as f64 / sign_in_seconds,
            unit: "sign-ins/s",
            target: "",
        },
        Row {
            measurement: "POST /v1/session busy (503)".into(),
            value: busy as f64 / sign_in_seconds,
            unit: "requests/s",
            target: "",
        },
        Row {
            measurement: "GET /v1/blobs/{sha256}".into(),
            value: mib(blob_rate),
            unit: "MiB/s",
            target: "",
        },
        Row {
            measurement: "plain file copy".into(),
            value: mib(copy_rate),
            unit: "MiB/s",
            target: "",
        },
        Row {
            measurement: "blob download / file copy".into(),
            value: 100.0 * blob_rate / copy_rate,
            unit: "%",
            target: ">= 50",
        },
    ];
    if let Some(server) = &args.database {
        rows.extend(super::bench_stores::compare(
            server,
            &scratch.0,
            &package,
            args.clients,
            args.seconds,
        )?);
    }
    super::print(json, &rows, || {
        let mut text = format!(
            "{} clients, {} s per measurement, {} MiB blob, loopback\n{:<52} {:>12}  {:<11} {}",
            args.clients, args.seconds, args.blob_mib, "measurement", "value", "unit", "target"
        );
        for row in &rows {
            text.push_str(&format!(
                "\n{:<52} {:>12.1}  {:<11} {}",
                row.measurement, row.value, row.unit, row.target
            ));
        }
        text
    })
}

/// `clients` tasks each asking `once` again and again until `duration` has passed; the two
/// counts each answer adds, summed over all tasks, and the seconds taken.
pub(super) async fn spread<F, A>(clients: usize, duration: Duration, once: F) -> (u64, u64, f64)
where
    F: Fn() -> A + Clone + Send + 'static,
    A: std::future::Future<Output = (u64, u64)> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let once = once.clone();
            tokio::spawn(async move {
                let (mut first, mut second) = (0u64, 0u64);
                while Instant::now() < deadline {
                    let (a, b) = once().await;
                    first += a;
                    second += b;
                }
                (first, second)
            })
        })
        .collect();
    let (mut first, mut second) = (0, 0);
    for task in tasks {
        if let Ok((a, b)) = task.await {
            first += a;
            second += b;
        }
    }
    (first, second, started.elapsed().as_secs_f64())
}

/// `clients` tasks each requesting `url` until `duration` has passed: (responses, body bytes,
/// seconds).
pub(super) async fn load(
    client: &reqwest::Client,
    urls: &[String],
    token: &str,
    clients: usize,
    duration: Duration,
    errors: &Arc<AtomicU64>,
) -> (u64, u64, f64) {
    let (client, urls, token, errors) = (
        client.clone(),
        urls.to_vec(),
        token.to_owned(),
        errors.clone(),
    );
    // Each request goes to the next URL in turn: with several instances, spread over them as
    // a round-robin load balancer would.
    let next = Arc::new(AtomicU64::new(0));
    spread(clients, duration, move || {
        let turn = next.fetch_add(1, Ordering::Relaxed) as usize;
        let (client, url, token, errors) = (
            client.clone(),
            urls[turn % urls.len()].clone(),
            token.clone(),
            errors.clone(),
        );
        async move {
            let result = async {
                let response = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await?
                    .error_for_status()?;
                response.bytes().await
            }
            .await;
            match result {
                Ok(body) => (1, body.len() as u64),
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    (0, 0)
                }
            }
        }
    })
    .await
}

/// `clients` tasks signing in with the right password until `duration` has passed, each asking
/// again at once when refused as busy (503: the password pool is full), so the pool is always
/// fed: (sign-ins, busy refusals, seconds).
async fn sign_in_load(
    client: &reqwest::Client,
    base: &str,
    clients: usize,
    duration: Duration,
    errors: &Arc<AtomicU64>,
) -> (u64, u64, f64) {
    let (client, url, errors) = (client.clone(), format!("{base}/v1/session"), errors.clone());
    let body = serde_json::json!({ "username": "bench", "password": "bench-password", "device_id": "bench" });
    spread(clients, duration, move || {
        let (client, url, errors, body) =
            (client.clone(), url.clone(), errors.clone(), body.clone());
        async move {
            match client.post(&url).json(&body).send().await {
                Ok(response) if response.status().as_u16() == 201 => (1, 0),
                Ok(response) if response.status().as_u16() == 503 => (0, 1),
                _ => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    (0, 0)
                }
            }
        }
    })
    .await
}

/// Bytes/s of copying the blob file (read + write, page cache warm) for about `seconds`.
fn file_copy_rate(from: &Path, to: &Path, seconds: f64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut bytes = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        bytes += std::fs::copy(from, to).context("copying the blob file")?;
    }
    Ok(bytes as f64 / started.elapsed().as_secs_f64())
}
