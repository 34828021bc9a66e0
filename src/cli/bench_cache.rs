//! `hologuide bench cache`: read throughput of the encrypted cache against, in the same run on
//! the same data, (a) plain SQLite holding the blobs as BLOB rows (the baseline, at two
//! page sizes) and (b) the cache's own code and file layout unencrypted (what encryption alone
//! costs); and the cold start offline to the demo guide's first step.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use hologuide::cache::package::from_package;
use hologuide::cache::{FileKeyStore, MemoryKeyStore, Store};
use hologuide::clock::SystemClock;

#[derive(Debug, Args)]
pub struct CacheBenchArgs {
    /// Data read per round, in MiB, spread over 4 MiB files (plus the demo guide).
    #[arg(long, default_value_t = 64)]
    megabytes: usize,
    /// Read rounds per store; the best round counts.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Process starts measured for the cold start.
    #[arg(long, default_value_t = 20)]
    starts: usize,
}

/// A scratch folder removed when the benchmark ends, however it ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Reproducible filler that does not compress (xorshift).
fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

pub fn run(args: CacheBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.rounds > 0 && args.starts > 0,
        "--rounds and --starts must be > 0"
    );
    let scratch = Scratch(
        std::env::temp_dir().join(format!("hologuide-bench-cache-{}", uuid::Uuid::new_v4())),
    );
    std::fs::create_dir_all(&scratch.0)
        .with_context(|| format!("creating {}", scratch.0.display()))?;
    let mut text = String::new();
    throughput(&scratch.0, &args, &mut text)?;
    cold_start(&scratch.0, &args, &mut text)?;
    super::out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn fill(store: &Store, blobs: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    let package = hologuide::demo::load().context("opening the demo guide")?;
    let packaged = from_package(&package, 1, None)?;
    let writer = store.begin_version(packaged.version.clone())?;
    for (sha, bytes) in packaged.blobs.iter().chain(blobs) {
        writer.put_blob(sha, bytes)?;
    }
    writer.commit()?;
    Ok(())
}

fn throughput(dir: &Path, args: &CacheBenchArgs, text: &mut String) -> anyhow::Result<()> {
    const PIECE: usize = 4 << 20;
    let blobs: Vec<(String, Vec<u8>)> = (0..args.megabytes.div_ceil(4).max(1))
        .map(|i| {
            let bytes = filler(i as u64 + 1, PIECE);
            (
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
                bytes,
            )
        })
        .collect();
    let total: usize = blobs.iter().map(|(_, b)| b.len()).sum();
    let clock = Arc::new(SystemClock);
    let keys = MemoryKeyStore::new();
    let encrypted = Store::open(&dir.join("encrypted"), "bench", &keys, clock.clone())?;
    let files = Store::open_unencrypted_baseline(&dir.join("plain.db"), clock)?;
    fill(&encrypted, &blobs)?;
    fill(&files, &blobs)?;
    let sqlite_small = plain_sqlite(&dir.join("plain-4k.db"), 4096, &blobs)?;
    let sqlite_large = plain_sqlite(&dir.join("plain-64k.db"), 65536, &blobs)?;
    let guide = hologuide::demo::GUIDE_ID;
    // Alternate the stores round by round, so a busy moment of the machine hits all of them.
    let mut best = [Duration::MAX; 5];
    let mut opens = [Duration::MAX; 2];
    for _ in 0..args.rounds {
        for (slot, connection) in [&sqlite_small, &sqlite_large].into_iter().enumerate() {
            let mut select =
                connection.prepare_cached("SELECT bytes FROM blobs WHERE sha256 = ?1")?;
            let started = Instant::now();
            for (sha, _) in &blobs {
                let bytes: Vec<u8> = select.query_row([sha], |row| row.get(0))?;
                std::hint::black_box(bytes);
            }
            best[slot] = best[slot].min(started.elapsed());
        }
        for (slot, store) in [&files, &encrypted].into_iter().enumerate() {
            let started = Instant::now();
            for (sha, _) in &blobs {
                std::hint::black_box(store.read_blob(sha)?);
            }
            best[2 + slot] = best[2 + slot].min(started.elapsed());
            let started = Instant::now();
            for _ in 0..100 {
                let version = store.current(guide)?.context("the demo guide is missing")?;
                std::hint::black_box(version.decode_guide()?);
            }
            opens[slot] = opens[slot].min(started.elapsed() / 100);
        }
        let started = Instant::now();
        for (sha, _) in &blobs {
            std::hint::black_box(encrypted.read_blob_on(sha, 1)?);
        }
        best[4] = best[4].min(started.elapsed());
    }
    let rate = |d: Duration| total as f64 / f64::from(1 << 20) / d.as_secs_f64();
    let sqlite = rate(best[0]).max(rate(best[1]));
    let ratio = rate(best[3]) / sqlite;
    line!(
        text,
        "cache read throughput: {} MiB in {} blobs of 4 MiB, best of {} rounds, {} core(s)",
        total >> 20,
        blobs.len(),
        args.rounds,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    line!(
        text,
        "{:<44} {:>10} {:>22}",
        "store",
        "MiB/s",
        "guide read+decode ms"
    );
    for (name, slot) in [
        ("plain SQLite, a BLOB row per blob, 4 KiB pages", 0),
        ("plain SQLite, a BLOB row per blob, 64 KiB pages", 1),
    ] {
        line!(text, "{:<44} {:>10.0} {:>22}", name, rate(best[slot]), "-");
    }
    for (name, slot) in [
        ("unencrypted files, the cache's own layout", 0),
        ("encrypted (the cache, all cores)", 1),
    ] {
        line!(
            text,
            "{:<44} {:>10.0} {:>22.3}",
            name,
            rate(best[2 + slot]),
            ms(opens[slot])
        );
    }
    line!(
        text,
        "{:<44} {:>10.0} {:>22}",
        "encrypted, one thread",
        rate(best[4]),
        "-"
    );
    line!(
        text,
        "encrypted / plain SQLite (the faster one): {ratio:.2}×  (target ≥ 0.80×: {})",
        if ratio >= 0.8 { "met" } else { "NOT met" }
    );
    line!(
        text,
        "encrypted / unencrypted files: {:.2}×  (what encryption itself costs); one thread / plain SQLite: {:.2}×",
        rate(best[3]) / rate(best[2]),
        rate(best[4]) / sqlite
    );
    Ok(())
}

/// The baseline: the same blobs as BLOB rows of a plain (unencrypted) SQLite database,
/// read with one SELECT each — what the cache would be without encryption, in the simplest
/// design.
fn plain_sqlite(
    path: &Path,
    page_size: u32,
    blobs: &[(String, Vec<u8>)],
) -> anyhow::Result<rusqlite::Connection> {
    let connection =
        rusqlite::Connection::open(path).with_context(|| format!("creating {}", path.display()))?;
    connection.execute_batch(&format!(
        "PRAGMA page_size = {page_size}; PRAGMA journal_mode = WAL;
         CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, bytes BLOB NOT NULL);"
    ))?;
    for (sha, bytes) in blobs {
        connection.execute(
            "INSERT INTO blobs (sha256, bytes) VALUES (?1, ?2)",
            rusqlite::params![sha, bytes],
        )?;
    }
    Ok(connection)
}

fn cold_start(dir: &Path, args: &CacheBenchArgs, text: &mut String) -> anyhow::Result<()> {
    let data_dir = dir.join("device");
    {
        let keys = FileKeyStore::in_data_dir(&data_dir);
        let store = Store::open(&data_dir, "operator", &keys, Arc::new(SystemClock))?;
        fill(&store, &[])?;
    }
    let exe = std::env::current_exe().context("finding this program")?;
    let time = |args: &[&str]| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let status = Command::new(&exe)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("running {}", exe.display()))?;
        let elapsed = started.elapsed();
        anyhow::ensure!(status.success(), "`hologuide {}` failed", args.join(" "));
        Ok(elapsed)
    };
    let data = data_dir.to_string_lossy().into_owned();
    let first_step = [
        "dev",
        "cache-first-step",
        "--user",
        "operator",
        "--data-dir",
        data.as_str(),
    ];
    // Warm the file system cache once, as an app started before would have.
    time(&first_step)?;
    let mut starts = Vec::with_capacity(args.starts);
    let mut bare = Vec::with_capacity(args.starts);
    for _ in 0..args.starts {
        starts.push(time(&first_step)?);
        bare.push(time(&["--version"])?);
    }
    starts.sort();
    bare.sort();
    let median = percentile(&starts, 0.5);
    line!(text, "");
    line!(
        text,
        "cold start offline to the demo guide's first step (new process: device secret, key \
         derivation, open, current version, decode, first step's holograms read), {} starts",
        args.starts
    );
    line!(
        text,
        "{:<28} {:>10} {:>10} {:>10}",
        "",
        "median ms",
        "p90 ms",
        "max ms"
    );
    for (label, sorted) in [("to first step", &starts), ("process start alone", &bare)] {
        line!(
            text,
            "{:<28} {:>10.1} {:>10.1} {:>10.1}",
            label,
            ms(percentile(sorted, 0.5)),
            ms(percentile(sorted, 0.9)),
            ms(sorted.last().copied().unwrap_or_default())
        );
    }
    line!(
        text,
        "median {:.1} ms (target < 300 ms: {})",
        ms(median),
        if median < Duration::from_millis(300) {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}
