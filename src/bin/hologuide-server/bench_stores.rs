//! `hologuide-server bench --database postgres://…` (N4): the same requests on SQLite (one
//! instance), on PostgreSQL (one instance) and on PostgreSQL with two instances behind a
//! round-robin client, in one run on one machine, with how busy the machine's cores were.
//!
//! Every instance, the load's clients and PostgreSQL share this machine's cores: the table says
//! how busy they were, which is what bounds two instances against one.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{Context, bail};
use hologuide::service::{Config, DataLocation, Service, SystemClock};

use super::bench::{Row, bench_token, load, published_service, start_instance};

/// A database of its own on the server, dropped at the end.
struct BenchDatabase {
    server: String,
    name: String,
    url: String,
}

impl BenchDatabase {
    fn create(server: &str) -> anyhow::Result<Self> {
        let name = format!("hg_bench_{}", uuid::Uuid::new_v4().simple());
        let mut client = postgres::Client::connect(server, postgres::NoTls)
            .with_context(|| "connecting to the PostgreSQL server of --database")?;
        // The name is made here of hex digits; a statement cannot bind a database name.
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .context("creating the benchmark's database (the user needs CREATEDB)")?;
        let (base, _) = server
            .rsplit_once('/')
            .context("--database is a URL ending in /DATABASE")?;
        Ok(Self {
            server: server.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name));
        }
    }
}

/// Busy and total jiffies of all cores, from /proc/stat.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    // idle and iowait
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

fn busy_percent(before: Option<(u64, u64)>, after: Option<(u64, u64)>) -> f64 {
    match (before, after) {
        (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
            100.0 * (busy1 - busy0) as f64 / (total1 - total0) as f64
        }
        _ => f64::NAN,
    }
}

/// One published service: its instances (one or two `Service`s on the same store).
struct Store {
    label: &'static str,
    instances: Vec<Arc<Service>>,
    guide: String,
    blob: String,
}

fn store(label: &'static str, location: &DataLocation, package: &Path) -> anyhow::Result<Store> {
    let (service, guide, picture) = published_service(location, package)?;
    Ok(Store {
        label,
        instances: vec![Arc::new(service)],
        guide: guide.to_string(),
        blob: picture.sha256,
    })
}

struct Measured {
    guides_per_s: f64,
    manifests_per_s: f64,
    blob_bytes_per_s: f64,
    busy: [f64; 3],
}

impl Measured {
    fn guides(&self) -> f64 {
        self.guides_per_s
    }
    fn manifests(&self) -> f64 {
        self.manifests_per_s
    }
    fn blob_mib(&self) -> f64 {
        self.blob_bytes_per_s / (1024.0 * 1024.0)
    }
}

/// Requests/s of the guide list and of a version manifest, and blob bytes/s, for each store.
pub(super) fn compare(
    server: &str,
    scratch: &Path,
    package: &Path,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<Vec<Row>> {
    let database = BenchDatabase::create(server)?;
    let sqlite = store(
        "SQLite ×1",
        &DataLocation::folder(&scratch.join("sqlite")),
        package,
    )?;
    let postgres_location = DataLocation {
        data_dir: scratch.join("postgres"),
        database_url: Some(database.url.clone()),
        blobs_dir: Some(scratch.join("postgres-blobs")),
    };
    let postgres_one = store("PostgreSQL ×1", &postgres_location, package)?;
    // A second instance on the same database and blobs, as a second machine would run it.
    let mut postgres_two = Store {
        label: "PostgreSQL ×2",
        instances: postgres_one.instances.clone(),
        guide: postgres_one.guide.clone(),
        blob: postgres_one.blob.clone(),
    };
    postgres_two.instances.push(Arc::new(Service::open(
        &postgres_location,
        Config::default(),
        Arc::new(SystemClock),
    )?));
    let stores = [sqlite, postgres_one, postgres_two];

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let duration = Duration::from_secs_f64(seconds);
    let measured = runtime.block_on(async {
        let mut measured = Vec::new();
        for store in &stores {
            let mut servers = Vec::new();
            let mut bases = Vec::new();
            for instance in &store.instances {
                let (server, base) = start_instance(Arc::clone(instance)).await?;
                servers.push(server);
                bases.push(base);
            }
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(clients)
                .build()?;
            let token = bench_token(&client, &bases[0]).await?;
            let urls = |path: &str| -> Vec<String> {
                bases.iter().map(|base| format!("{base}{path}")).collect()
            };
            let errors = Arc::new(AtomicU64::new(0));
            let mut busy = [0.0; 3];
            let before = cpu_jiffies();
            let guides = load(
                &client,
                &urls("/v1/guides"),
                &token,
                clients,
                duration,
                &errors,
            )
            .await;
            let middle = cpu_jiffies();
            busy[0] = busy_percent(before, middle);
            let manifest_path = format!("/v1/guides/{}/versions/1", store.guide);
            let manifests = load(
                &client,
                &urls(&manifest_path),
                &token,
                clients,
                duration,
                &errors,
            )
            .await;
            let later = cpu_jiffies();
            busy[1] = busy_percent(middle, later);
            let blob_path = format!("/v1/blobs/{}", store.blob);
            let blobs = load(
                &client,
                &urls(&blob_path),
                &token,
                clients,
                duration,
                &errors,
            )
            .await;
            busy[2] = busy_percent(later, cpu_jiffies());
            for server in servers {
                server.abort();
                let _ = server.await;
            }
            let failed = errors.load(std::sync::atomic::Ordering::Relaxed);
            if failed > 0 {
                bail!(
                    "{failed} requests to {} failed during the benchmark",
                    store.label
                );
            }
            measured.push(Measured {
                guides_per_s: guides.0 as f64 / guides.2,
                manifests_per_s: manifests.0 as f64 / manifests.2,
                blob_bytes_per_s: blobs.1 as f64 / blobs.2,
                busy,
            });
        }
        anyhow::Ok(measured)
    })?;
    // The services are dropped after the runtime, outside it (see `serve` in main.rs).
    drop(runtime);
    drop(stores);

    let mut rows = Vec::new();
    let labels = ["SQLite ×1", "PostgreSQL ×1", "PostgreSQL ×2"];
    for (what, unit, value) in [
        (
            "GET /v1/guides",
            "requests/s",
            Measured::guides as fn(&Measured) -> f64,
        ),
        ("GET manifest", "requests/s", Measured::manifests),
        ("GET blob", "MiB/s", Measured::blob_mib),
    ] {
        for (label, m) in labels.iter().zip(&measured) {
            rows.push(Row {
                measurement: format!("{what}, {label}"),
                value: value(m),
                unit,
                target: "",
            });
        }
    }
    let ratio = |a: f64, b: f64| 100.0 * a / b;
    let [sqlite, one, two] = [&measured[0], &measured[1], &measured[2]];
    for (what, target_one, get) in [
        (
            "GET /v1/guides",
            ">= 70",
            Measured::guides as fn(&Measured) -> f64,
        ),
        ("GET manifest", ">= 70", Measured::manifests),
        ("GET blob", ">= 50", Measured::blob_mib),
    ] {
        rows.push(Row {
            measurement: format!("{what}: PostgreSQL ×1 / SQLite"),
            value: ratio(get(one), get(sqlite)),
            unit: "%",
            target: target_one,
        });
    }
    for (what, get) in [
        ("GET /v1/guides", Measured::guides as fn(&Measured) -> f64),
        ("GET manifest", Measured::manifests),
    ] {
        rows.push(Row {
            measurement: format!("{what}: PostgreSQL ×2 / ×1"),
            value: ratio(get(two), get(one)),
            unit: "%",
            target: ">= 150 where the cores allow",
        });
    }
    for (index, what) in ["GET /v1/guides", "GET manifest", "GET blob"]
        .iter()
        .enumerate()
    {
        for (label, m) in labels.iter().zip(&measured) {
            rows.push(Row {
                measurement: format!("cores busy during {what}, {label}"),
                value: m.busy[index],
                unit: "%",
                target: "",
            });
        }
    }
    drop(database);
    Ok(rows)
}
