//! The device holds under a hostile guide service (issue 13, finding 5). A small HTTP/1.1 server
//! written here answers sign-in, guide, manifest and blob requests as the real service does,
//! except for one hostile behaviour per test; the real `hologuide` binary talks to it on
//! 127.0.0.1. Each case must end with a clear message within its deadline, with the device's
//! peak memory under 256 MB, nothing over the disk bound written, and `hologuide cache verify`
//! sound afterwards.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};

use super::cli::client;

const GUIDE_ID: &str = "7d3c1f0a-5b2e-4c8d-9a6f-1e2d3c4b5a69";
const USER_ID: &str = "0f8e7d6c-5b4a-4392-8171-6f5e4d3c2b1a";
/// The issue's bound on the device's peak memory under a hostile service.
const MAX_DEVICE_RSS_KB: i64 = 256 * 1024;
/// Bytes the device may write to its data folder in any case here: the encrypted database and
/// the few kilobytes of a small blob, far below what an endless blob would write.
const DISK_BOUND: u64 = 32 * 1024 * 1024;
/// Each case must end well within this, on a debug build on a loaded 2-core machine; the
/// hostile behaviours run forever or for an hour when not stopped.
const CASE_DEADLINE: Duration = Duration::from_secs(30);

/// The one way the test service misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostility {
    /// `POST /v1/session` answers an endless JSON document.
    EndlessSignIn,
    /// `GET /v1/guides/{id}` answers an endless JSON document.
    EndlessGuide,
    /// The manifest lists 1,000,000 assets.
    MillionAssets,
    /// The manifest and the blob's Content-Length declare 10^13 bytes; the blob never ends.
    HugeBlob,
    /// The manifest is honest (4 KiB), the blob's Content-Length declares 10^13 bytes.
    HugeBlobOnTheWire,
    /// The blob arrives one byte a second.
    DrippingBlob,
    /// The blob arrives steadily at 640 bytes/s, above the minimum rate but past the deadline.
    SlowSteadyBlob,
    /// The manifest lists an asset at `../outside.png`.
    EscapingPath,
}

/// The small, honest blob of the cases that serve one: 4 KiB of a pattern.
fn blob() -> Vec<u8> {
    (0..4096u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

struct HostileService {
    url: String,
    stop: Arc<AtomicBool>,
}

impl HostileService {
    fn start(hostility: Hostility) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Acquire) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let stop = stopping.clone();
                std::thread::spawn(move || {
                    // A client hanging up mid-answer is what ends the endless ones.
                    let _ = serve(stream, hostility, &stop);
                });
            }
        });
        HostileService { url, stop }
    }
}

impl Drop for HostileService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// One request per connection, answered with `Connection: close`.
fn serve(stream: TcpStream, hostility: Hostility, stop: &AtomicBool) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut content_length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; content_length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut out = stream;
    let now = time::OffsetDateTime::now_utc();
    let guide_path = format!("/v1/guides/{GUIDE_ID}");
    let blob = blob();
    match (method.as_str(), path.as_str()) {
        ("GET", "/v1/health") => answer(&mut out, 200, &json!({ "status": "ok" })),
        ("POST", "/v1/session") if hostility == Hostility::EndlessSignIn => {
            endless_json(&mut out, r#"{"access_token":""#, stop)
        }
        ("POST", "/v1/session") => answer(
            &mut out,
            200,
            &json!({
                "access_token": "hostile-access",
                "access_expires_at": rfc3339(now + time::Duration::hours(1)),
                "refresh_token": "hostile-refresh",
                "refresh_expires_at": rfc3339(now + time::Duration::days(90)),
                "device_id": "whatever",
                "user": { "id": USER_ID, "username": "alice", "role": "operator" },
            }),
        ),
        ("GET", p) if p == guide_path && hostility == Hostility::EndlessGuide => endless_json(
            &mut out,
            r#"{"id":"7d3c1f0a-5b2e-4c8d-9a6f-1e2d3c4b5a69","title":""#,
            stop,
        ),
        ("GET", p) if p == guide_path => answer(
            &mut out,
            200,
            &json!({
                "id": GUIDE_ID,
                "organisation": "acme",
                "title": "Hostile guide",
                "description": "",
                "active": true,
                "latest_version": 1,
                "content_hash": "x",
                "published_at": rfc3339(now),
                "total_bytes": blob.len(),
            }),
        ),
        ("GET", p) if p == format!("{guide_path}/versions/1") => {
            manifest(&mut out, hostility, now, &blob, stop)
        }
        ("GET", p) if p.starts_with("/v1/blobs/") => match hostility {
            Hostility::HugeBlob | Hostility::HugeBlobOnTheWire => {
                out.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                      Content-Length: 10000000000000\r\nConnection: close\r\n\r\n",
                )?;
                let zeros = vec![0u8; 64 * 1024];
                while !stop.load(Ordering::Acquire) {
                    out.write_all(&zeros)?;
                }
                Ok(())
            }
            Hostility::DrippingBlob => trickle(&mut out, &blob, 1, Duration::from_secs(1), stop),
            Hostility::SlowSteadyBlob => {
                trickle(&mut out, &blob, 64, Duration::from_millis(100), stop)
            }
            _ => {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n",
                    blob.len()
                )?;
                out.write_all(&blob)
            }
        },
        ("POST", "/v1/telemetry") => answer(
            &mut out,
            200,
            &json!({ "accepted": [], "duplicates": [], "rejected": [] }),
        ),
        _ => answer(
            &mut out,
            404,
            &json!({ "error": "not_found", "message": "No such thing here." }),
        ),
    }
}

fn answer(out: &mut TcpStream, status: u16, body: &serde_json::Value) -> std::io::Result<()> {
    let text = body.to_string();
    write!(
        out,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    )
}

/// A JSON document that never ends: `start`, then an endless string, without a length.
fn endless_json(out: &mut TcpStream, start: &str, stop: &AtomicBool) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
    )?;
    out.write_all(start.as_bytes())?;
    let filler = vec![b'a'; 64 * 1024];
    while !stop.load(Ordering::Acquire) {
        out.write_all(&filler)?;
    }
    Ok(())
}

/// `blob` announced whole, sent `piece` bytes every `every`.
fn trickle(
    out: &mut TcpStream,
    blob: &[u8],
    piece: usize,
    every: Duration,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        blob.len()
    )?;
    for chunk in blob.chunks(piece) {
        if stop.load(Ordering::Acquire) {
            break;
        }
        out.write_all(chunk)?;
        out.flush()?;
        std::thread::sleep(every);
    }
    Ok(())
}

fn manifest(
    out: &mut TcpStream,
    hostility: Hostility,
    now: time::OffsetDateTime,
    blob: &[u8],
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let guide = json!({
        "schema_version": 1,
        "id": GUIDE_ID,
        "version": 1,
        "title": "Hostile guide",
        "organisation": "acme",
        "modified_at": "2026-11-20T08:15:00Z",
        "tasks": [{ "id": "t", "title": "The task", "steps": [
            { "id": "s1", "title": "Look", "body": "Look at the picture.",
              "media": { "path": "media/picture.png" } }
        ]}]
    });
    let head = |total: u64| {
        format!(
            r#"{{"guide_id":"{GUIDE_ID}","version":1,"content_hash":"x","published_at":"{}","total_bytes":{total},"assets":["#,
            rfc3339(now)
        )
    };
    let tail = format!(
        r#"],"guide":{guide},"lease_expires_at":"{}"}}"#,
        rfc3339(now + time::Duration::days(30))
    );
    let asset = |path: &str, bytes: u64| {
        json!({ "path": path, "sha256": sha256(blob), "bytes": bytes }).to_string()
    };
    if hostility == Hostility::MillionAssets {
        // Streamed, without a length, as a service would send a manifest it builds on the fly.
        out.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
        )?;
        out.write_all(head(1_000_000).as_bytes())?;
        let mut batch = String::new();
        for i in 0..1_000_000u32 {
            if stop.load(Ordering::Acquire) {
                return Ok(());
            }
            if i > 0 {
                batch.push(',');
            }
            batch.push_str(&format!(
                r#"{{"path":"media/{i}.png","sha256":"{}","bytes":1}}"#,
                "ab".repeat(32)
            ));
            if batch.len() > 64 * 1024 {
                out.write_all(batch.as_bytes())?;
                batch.clear();
            }
        }
        out.write_all(batch.as_bytes())?;
        return out.write_all(tail.as_bytes());
    }
    let (path, bytes) = match hostility {
        Hostility::HugeBlob => ("media/picture.png", 10_000_000_000_000),
        Hostility::EscapingPath => ("../outside.png", blob.len() as u64),
        _ => ("media/picture.png", blob.len() as u64),
    };
    let text = format!("{}{}{tail}", head(bytes), asset(path, bytes));
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    )
}

/// How one run of the device went.
struct Run {
    success: bool,
    stderr: String,
    took: Duration,
    peak_rss_kb: i64,
}

/// Runs `hologuide args… --data-dir data` with `env` (and `stdin` written to it), measuring its peak memory with wait4's
/// rusage; kills it and fails the test past [`CASE_DEADLINE`].
fn run_device(data: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let mut command = client(data, args);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let started = Instant::now();
    // Reaped with wait4 below, which also reports its peak memory; std's wait would not.
    #[allow(clippy::zombie_processes)]
    let mut child: Child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let mut stdout_pipe = child.stdout.take().unwrap();
    std::thread::spawn(move || std::io::copy(&mut stdout_pipe, &mut std::io::sink()));
    let pid = child.id() as libc::pid_t;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: plain out-parameters; the child is ours and reaped only here.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break (status, usage);
        }
        // Watched while it runs too, so a device that would exhaust the machine is stopped
        // as soon as it crosses a bound.
        let failure = if started.elapsed() > CASE_DEADLINE {
            Some(format!("still running after {CASE_DEADLINE:?}"))
        } else if peak_rss_kb(pid).is_some_and(|kb| kb >= MAX_DEVICE_RSS_KB) {
            Some(format!("past {} MB of memory", MAX_DEVICE_RSS_KB / 1024))
        } else if folder_bytes(data) >= DISK_BOUND {
            Some(format!("past {DISK_BOUND} bytes written"))
        } else {
            None
        };
        if let Some(failure) = failure {
            let _ = child.kill();
            let mut status = 0;
            // SAFETY: as above; reaps the killed child.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!(
                "hologuide {args:?} was {failure} (peak RSS {} MB, {} bytes written, {:?}); \
                 stderr: {}",
                usage.ru_maxrss / 1024,
                folder_bytes(data),
                started.elapsed(),
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        stderr: stderr.join().unwrap(),
        took: started.elapsed(),
        peak_rss_kb: usage.ru_maxrss,
    }
}

/// VmHWM of a running process, in kB.
fn peak_rss_kb(pid: libc::pid_t) -> Option<i64> {
    let bytes = crate::support::process_memory_bytes(u32::try_from(pid).ok()?, "VmHWM")?;
    i64::try_from(bytes / 1024).ok()
}

fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .map(|entry| match entry.metadata() {
                Ok(m) if m.is_dir() => folder_bytes(&entry.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

fn login(service: &HostileService, data: &Path) -> Run {
    run_device(
        data,
        &[
            "login",
            "--server",
            &service.url,
            "--user",
            "alice",
            "--password-stdin",
        ],
        &[],
        "alice's password\n",
    )
}

/// Checks what every case must hold after the device stopped: a refusal that says `expected`
/// (and not that the network is missing), peak memory, disk, and a sound cache.
fn assert_held(run: &Run, data: &Path, expected: &str) {
    assert!(!run.success, "the device accepted it: {}", run.stderr);
    assert!(
        run.stderr.contains(expected),
        "expected a message saying '{expected}', got: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("network connection"),
        "not a network problem: {}",
        run.stderr
    );
    assert!(
        run.peak_rss_kb < MAX_DEVICE_RSS_KB,
        "peak RSS {} MB, bound {} MB",
        run.peak_rss_kb / 1024,
        MAX_DEVICE_RSS_KB / 1024
    );
    let written = folder_bytes(data);
    assert!(
        written < DISK_BOUND,
        "{written} bytes written, bound {DISK_BOUND}"
    );
    let verify = client(data, &["cache", "verify"]).output().unwrap();
    assert!(
        verify.status.success(),
        "cache verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// Signs in against the hostile service (its sign-in is honest in these cases), then opens the
/// guide with `env`, and checks the open held.
fn open_holds(hostility: Hostility, env: &[(&str, &str)], expected: &str) -> Run {
    let service = HostileService::start(hostility);
    let device = tempfile::tempdir().unwrap();
    let signed_in = login(&service, device.path());
    assert!(signed_in.success, "login: {}", signed_in.stderr);
    let run = run_device(device.path(), &["open", GUIDE_ID], env, "");
    assert_held(&run, device.path(), expected);
    run
}

#[test]
fn an_endless_sign_in_answer_is_refused_as_too_large_not_as_no_network() {
    let service = HostileService::start(Hostility::EndlessSignIn);
    let device = tempfile::tempdir().unwrap();
    let run = login(&service, device.path());
    assert_held(
        &run,
        device.path(),
        "answered more than 1 MiB for the sign-in",
    );
}

#[test]
fn an_endless_guide_answer_stops_at_its_bound() {
    open_holds(
        Hostility::EndlessGuide,
        &[],
        "answered more than 1 MiB for the guide's details",
    );
}

#[test]
fn a_manifest_of_a_million_assets_is_refused_while_it_is_read() {
    open_holds(
        Hostility::MillionAssets,
        &[],
        "the manifest lists more than 10000 assets",
    );
}

#[test]
fn a_blob_declared_as_ten_terabytes_is_refused_before_anything_is_written() {
    open_holds(
        Hostility::HugeBlob,
        &[],
        "'media/picture.png' is 10000000000000 bytes; a guide's file is at most 256 MiB",
    );
}

#[test]
fn a_blob_sent_as_ten_terabytes_against_its_manifest_is_refused_before_anything_is_written() {
    open_holds(
        Hostility::HugeBlobOnTheWire,
        &[],
        "is sent as 10000000000000 bytes from byte 0 on, the manifest lists 4096 in all",
    );
}

#[test]
fn a_dripping_blob_is_stopped_by_the_minimum_rate() {
    let run = open_holds(
        Hostility::DrippingBlob,
        &[
            ("HOLOGUIDE_DOWNLOAD_MIN_RATE", "1024"),
            ("HOLOGUIDE_DOWNLOAD_RATE_WINDOW", "2"),
        ],
        "below the 1024 bytes/s a download must keep up",
    );
    // One window of 2 s, and the start of the process; well before the 2 h default deadline.
    assert!(run.took < Duration::from_secs(15), "took {:?}", run.took);
}

#[test]
fn a_steady_but_endless_download_is_stopped_at_its_deadline() {
    let run = open_holds(
        Hostility::SlowSteadyBlob,
        &[
            ("HOLOGUIDE_DOWNLOAD_DEADLINE", "2"),
            // A tenth of the pace served, so a loaded machine slowing the test service does not
            // trip the minimum rate before the deadline.
            ("HOLOGUIDE_DOWNLOAD_MIN_RATE", "64"),
            ("HOLOGUIDE_DOWNLOAD_RATE_WINDOW", "1"),
        ],
        "did not finish within 2 s",
    );
    // The blob takes 6.4 s at the pace served; the deadline stops it at 2 s.
    assert!(run.took < Duration::from_secs(12), "took {:?}", run.took);
}

#[test]
fn a_manifest_asset_path_leaving_the_guide_is_refused() {
    open_holds(
        Hostility::EscapingPath,
        &[],
        "asset path '../outside.png' leaves the package through '.' or '..'",
    );
}
