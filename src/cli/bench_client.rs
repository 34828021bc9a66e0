//! `hologuide bench client`: the offline-first client end to end, with the real
//! `hologuide-server` on 127.0.0.1 (started by the benchmark, beside this program).
//!
//! - Cold start offline to the first step: `hologuide open <demo guide>` as a new process while
//!   the service is down (start, probe, offline sign-in, cache read, decode). Target < 300 ms.
//! - A guide with a large picture (100 MB by default) downloaded by a new device into its
//!   encrypted cache, against a raw copy of as many bytes over a loopback TCP socket in the
//!   same run. Target ≥ 50 %. Every byte is verified against its sha256, which is sequential:
//!   the table also shows how fast one core hashes the same bytes, the ceiling for any
//!   verified download on this machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;

use hologuide::cache::MemoryKeyStore;
use hologuide::client::{Device, DeviceConfig, Target};
use hologuide::clock::SystemClock;

#[derive(Debug, Args)]
pub struct ClientBenchArgs {
    /// Size of the downloaded guide's picture, in MB.
    #[arg(long, default_value_t = 100)]
    megabytes: usize,
    /// Process starts measured for the cold start.
    #[arg(long, default_value_t = 20)]
    starts: usize,
    /// Downloads of the large guide (each by a new device); the median is reported.
    #[arg(long, default_value_t = 5)]
    downloads: usize,
}

pub(super) const USER: &str = "bench";
pub(super) const PASSWORD: &str = "bench-password-1";
const GUIDE: &str = "b3c4d5e6-f708-4912-a3b4-c5d6e7f80912";

pub(super) struct Scratch(pub(super) PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server_exe() -> anyhow::Result<PathBuf> {
    let mut exe = std::env::current_exe().context("finding this program")?;
    // Run through a dynamic loader (the Monado tree's, for its Mesa), this process is the
    // loader; the program is its first argument.
    if exe
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("ld-linux"))
        && let Some(program) = std::env::args_os().next()
    {
        exe = PathBuf::from(program);
    }
    let server = exe.with_file_name(format!("hologuide-server{}", std::env::consts::EXE_SUFFIX));
    if !server.is_file() {
        bail!(
            "hologuide-server is not beside {} (build both binaries)",
            exe.display()
        );
    }
    Ok(server)
}

pub(super) fn admin(data: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new(server_exe()?)
        .args(args)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .context("running hologuide-server")?;
    if !output.status.success() {
        bail!(
            "hologuide-server {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

pub(super) fn serve(data: &Path) -> anyhow::Result<(Server, String)> {
    let mut child = Command::new(server_exe()?)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting hologuide-server")?;
    let stdout = child.stdout.take().context("the server's output")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected first line from the server: {line:?}"))?
        .to_owned();
    Ok((server, url))
}

/// A guide package whose picture is a PNG of noise (incompressible) of about `bytes`.
fn write_package(dir: &Path, bytes: usize) -> anyhow::Result<()> {
    write_noise_package(dir, GUIDE, "Large guide", bytes, 0)
}

/// A package of guide `id` whose one picture is `bytes` of noise made from `seed` (another
/// seed, another picture).
pub(super) fn write_noise_package(
    dir: &Path,
    id: &str,
    title: &str,
    bytes: usize,
    seed: u64,
) -> anyhow::Result<()> {
    use image::ImageEncoder;
    std::fs::create_dir_all(dir.join("media"))?;
    let side = ((bytes / 3) as f64).sqrt().ceil() as u32;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x0100_0000_01b3);
    let pixels: Vec<u8> = (0..u64::from(side) * u64::from(side) * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let file = std::fs::File::create(dir.join("media/picture.png"))?;
    image::codecs::png::PngEncoder::new_with_quality(
        std::io::BufWriter::new(file),
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(&pixels, side, side, image::ExtendedColorType::Rgb8)?;
    let guide = serde_json::json!({
        "schema_version": 1, "id": id, "version": 1, "title": title,
        "organisation": hologuide::demo::ORGANISATION, "modified_at": "2026-11-20T08:00:00Z",
        "tasks": [{ "id": "t", "title": "Task", "steps": [
            { "id": "s", "title": "Look", "body": "A large picture.",
              "media": { "path": "media/picture.png" } }
        ]}]
    });
    std::fs::write(dir.join("guide.json"), serde_json::to_vec_pretty(&guide)?)?;
    Ok(())
}

/// Bytes per second of a plain copy over a loopback TCP socket (no HTTP, no disk).
fn raw_loopback(bytes: u64) -> anyhow::Result<f64> {
    raw_loopback_into(bytes, None)
}

/// Like [`raw_loopback`], or into the file `into` (written as it arrives, `fsync`ed at the end:
/// what storing a download costs without HTTP, verification or encryption).
fn raw_loopback_into(bytes: u64, into: Option<&Path>) -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut socket, _) = listener.accept()?;
        let chunk = vec![0x5au8; 256 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            socket.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        Ok(())
    });
    let started = Instant::now();
    let mut socket = TcpStream::connect(address)?;
    let mut file = into.map(std::fs::File::create).transpose()?;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut received = 0u64;
    while received < bytes {
        let n = socket.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        if let Some(file) = &mut file {
            file.write_all(&buffer[..n])?;
        }
        received += n as u64;
    }
    if let Some(file) = file {
        file.sync_all()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = into {
        std::fs::remove_file(path)?;
    }
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("the sender thread failed"))??;
    Ok(received as f64 / seconds)
}

fn median_rate(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn median(mut values: Vec<Duration>) -> (Duration, Duration) {
    values.sort();
    let at = |p: f64| values[((values.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.95))
}

/// A scratch folder for bench `name` (removed when dropped) holding a service data folder with
/// the bench's author in the demo's organisation; returns both.
pub(super) fn bench_service(name: &str) -> anyhow::Result<(Scratch, PathBuf)> {
    let scratch = Scratch(
        std::env::temp_dir().join(format!("hologuide-bench-{name}-{}", std::process::id())),
    );
    let data = scratch.0.join("service");
    admin(&data, &["init"])?;
    admin(
        &data,
        &[
            "user",
            "add",
            USER,
            "--role",
            "author",
            "--organisation",
            hologuide::demo::ORGANISATION,
            "--password",
            PASSWORD,
        ],
    )?;
    Ok((scratch, data))
}

pub fn run(args: ClientBenchArgs) -> anyhow::Result<ExitCode> {
    let (scratch, data) = bench_service("client")?;
    let demo = hologuide::demo::package_dir()?;
    admin(
        &data,
        &["guide", "publish", &demo.to_string_lossy(), "--as", USER],
    )?;
    let package = scratch.0.join("package");
    write_package(&package, args.megabytes * 1_000_000)?;
    admin(
        &data,
        &["guide", "publish", &package.to_string_lossy(), "--as", USER],
    )?;
    let (server, url) = serve(&data)?;

    // Download: a new device signs in and opens the large guide (everything goes through the
    // client: refresh, metadata, manifest, blobs into the encrypted cache, commit).
    let target = Target::parse(GUIDE)?;
    let mut client_rates = Vec::new();
    let mut bytes = 0;
    let mut opened_guide = None;
    for attempt in 0..args.downloads.max(1) {
        let device_dir = scratch.0.join(format!("device-{attempt}"));
        let config = DeviceConfig::new(
            &device_dir,
            Arc::new(MemoryKeyStore::new()),
            Arc::new(SystemClock),
        );
        let mut device = Device::new(config)?;
        device.sign_in(Some(&url), USER, PASSWORD)?;
        let started = Instant::now();
        let opened = device.open(&target, &|_| {})?;
        let download = started.elapsed();
        bytes = opened.downloaded_bytes;
        client_rates.push(bytes as f64 / download.as_secs_f64());
        opened_guide = Some((opened.guide_id, opened.version));
        drop(device);
        let _ = std::fs::remove_dir_all(&device_dir);
    }
    let client_rate = median_rate(client_rates);
    let (guide_id, version) = opened_guide.context("no download ran")?;
    let raw_file_rate = median_rate(
        (0..args.downloads.max(1))
            .map(|_| raw_loopback_into(bytes, Some(&scratch.0.join("raw-copy"))))
            .collect::<anyhow::Result<_>>()?,
    );
    let raw_rate = median_rate(
        (0..args.downloads.max(1))
            .map(|_| raw_loopback(bytes))
            .collect::<anyhow::Result<_>>()?,
    );

    // Where the time goes: the same blobs over HTTP into nothing, and through the same
    // resumable downloader into plain files instead of the encrypted cache.
    let api = hologuide::net::ApiClient::new(&url, &hologuide::net::ClientOptions::default())?;
    let token = api.sign_in(USER, PASSWORD, "bench-probe")?.access_token;
    let manifest = api.manifest(&token, guide_id, version)?;
    let started = Instant::now();
    for asset in &manifest.assets {
        let mut response = api.blob(&token, &asset.sha256, 0)?;
        std::io::copy(&mut response, &mut std::io::sink())?;
    }
    let http_rate = bytes as f64 / started.elapsed().as_secs_f64();
    let wanted: Vec<_> = manifest
        .assets
        .iter()
        .map(|a| hologuide::net::download::Wanted {
            sha256: a.sha256.clone(),
            bytes: a.bytes,
        })
        .collect();
    let folder = hologuide::net::download::FolderSink::new(scratch.0.join("files"))?;
    let started = Instant::now();
    hologuide::net::download::fetch_all(
        &api,
        &token,
        &folder,
        &wanted,
        &hologuide::net::download::DownloadOptions::default(),
        &|_| {},
    )?;
    let folder_rate = bytes as f64 / started.elapsed().as_secs_f64();

    // The floor set by verification: sha256 is sequential, so one core must hash every byte.
    let sample = std::fs::read(package.join("media/picture.png"))?;
    let hash_rate = median_rate(
        (0..args.downloads.max(1))
            .map(|_| {
                let started = Instant::now();
                let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
                for piece in sample.chunks(1 << 20) {
                    sha2::Digest::update(&mut hasher, piece);
                }
                std::hint::black_box(sha2::Digest::finalize(hasher));
                sample.len() as f64 / started.elapsed().as_secs_f64()
            })
            .collect(),
    );
    drop(sample);

    // Cold start offline: the CLI, as a new process each time, with the service down.
    let cli_data = scratch.0.join("cli");
    let exe = std::env::current_exe()?;
    let mut login = Command::new(&exe)
        .args([
            "login",
            "--server",
            &url,
            "--user",
            USER,
            "--password-stdin",
            "--data-dir",
        ])
        .arg(&cli_data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    if let Some(mut stdin) = login.stdin.take() {
        writeln!(stdin, "{PASSWORD}")?;
    }
    if !login.wait()?.success() {
        bail!("signing in for the cold start failed");
    }
    let demo_id = hologuide::demo::GUIDE_ID.to_string();
    let open_demo = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        let output = Command::new(&exe)
            .args(["open", &demo_id, "--data-dir"])
            .arg(&cli_data)
            .stdin(Stdio::null())
            .output()?;
        let elapsed = started.elapsed();
        if !output.status.success() {
            bail!("open failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(elapsed)
    };
    open_demo()?;
    drop(server);
    let mut starts = Vec::new();
    for _ in 0..args.starts.max(1) {
        starts.push(open_demo()?);
    }
    let (cold_median, cold_p95) = median(starts);

    let mut text = String::new();
    line!(text, "{:<58} {:>12} {:>10}", "measure", "value", "target");
    line!(
        text,
        "{:<58} {:>9.1} ms {:>10}",
        format!(
            "cold start offline to first step (median of {})",
            args.starts.max(1)
        ),
        cold_median.as_secs_f64() * 1000.0,
        "< 300 ms"
    );
    line!(
        text,
        "{:<58} {:>9.1} ms",
        "cold start offline to first step (p95)",
        cold_p95.as_secs_f64() * 1000.0
    );
    line!(
        text,
        "{:<58} {:>8.1} MB/s",
        format!(
            "guide download into the encrypted cache ({:.1} MB, median of {})",
            bytes as f64 / 1e6,
            args.downloads.max(1)
        ),
        client_rate / 1e6
    );
    line!(
        text,
        "{:<58} {:>8.1} MB/s",
        "  same blobs over HTTP, discarded",
        http_rate / 1e6
    );
    line!(
        text,
        "{:<58} {:>8.1} MB/s",
        "  same downloader into plain files, hashed after",
        folder_rate / 1e6
    );
    line!(
        text,
        "{:<58} {:>8.1} MB/s",
        format!(
            "raw loopback TCP copy, same bytes (median of {})",
            args.downloads.max(1)
        ),
        raw_rate / 1e6
    );
    line!(
        text,
        "{:<58} {:>8.1} MB/s",
        "  the same copy written into a file (fsync at the end)",
        raw_file_rate / 1e6
    );
    line!(
        text,
        "{:<58} {:>8.1} MB/s",
        "sha256 of the same bytes in memory, one core",
        hash_rate / 1e6
    );
    line!(
        text,
        "{:<58} {:>10.0} %",
        "  sha256 alone / raw loopback (what verifying allows)",
        100.0 * hash_rate / raw_rate
    );
    line!(
        text,
        "{:<58} {:>10.0} % {:>10}",
        "download / raw loopback",
        100.0 * client_rate / raw_rate,
        ">= 50 %"
    );
    line!(
        text,
        "{:<58} {:>10.0} %",
        "download / raw loopback copy into a file",
        100.0 * client_rate / raw_file_rate
    );
    super::out(&text)?;
    Ok(ExitCode::SUCCESS)
}
