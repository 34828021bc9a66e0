//! `hologuide bench records`: answers recorded on the device (N6) and uploaded (N5).
//!
//! - Recording an answer: from the app's call to the record being durable in the encrypted
//!   cache (`Store::add_result`, one transaction each), median and p99. Target p99 < 5 ms. No
//!   network involved.
//! - Uploading the records kept offline on reconnect (10,000 by default) to a real
//!   `hologuide-server` on 127.0.0.1: time and requests used.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use hologuide::cache::{MemoryKeyStore, PendingResult};
use hologuide::client::{Device, DeviceConfig};
use hologuide::clock::SystemClock;

use super::bench_client::{PASSWORD, USER, admin, bench_service, serve};
use super::bench_render::percentile;

#[derive(Debug, Args)]
pub struct RecordsBenchArgs {
    /// Answers recorded one by one for the latency figures.
    #[arg(long, default_value_t = 2000)]
    answers: usize,
    /// Records queued offline, then uploaded at once.
    #[arg(long, default_value_t = 10_000)]
    queued: usize,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: RecordsBenchArgs) -> anyhow::Result<ExitCode> {
    let (scratch, data) = bench_service("records")?;
    let demo = hologuide::demo::package_dir()?;
    admin(
        &data,
        &["guide", "publish", &demo.to_string_lossy(), "--as", USER],
    )?;
    let (_server, url) = serve(&data)?;
    let mut device = Device::new(DeviceConfig::new(
        &scratch.0.join("device"),
        Arc::new(MemoryKeyStore::new()),
        Arc::new(SystemClock),
    ))?;
    device.sign_in(Some(&url), USER, PASSWORD)?;
    let store = device
        .store()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("signed in"))?;
    let guide = hologuide::demo::GUIDE_ID;
    let step = hologuide::demo::load()?
        .guide
        .steps()
        .next()
        .map(|p| p.step.id.clone())
        .unwrap_or_default();
    let record = |n: usize| PendingResult {
        id: uuid::Uuid::new_v4(),
        guide_id: guide,
        version: 1,
        step_id: step.clone(),
        completed_at: time::OffsetDateTime::now_utc(),
        value: Some(serde_json::json!({ "kind": "check", "state": "done", "n": n })),
        rejected: None,
    };

    let mut latencies = Vec::with_capacity(args.answers);
    for n in 0..args.answers {
        let answer = record(n);
        let started = Instant::now();
        store.add_result(&answer)?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    // The latency records go up too, so that the upload below starts from `queued` only.
    device.upload_results()?;

    for n in 0..args.queued {
        store.add_result(&record(n))?;
    }
    let started = Instant::now();
    let uploaded = device.upload_results()?;
    let upload = started.elapsed();
    anyhow::ensure!(
        uploaded.accepted == args.queued && store.pending_results()?.is_empty(),
        "the upload took {} of {} records",
        uploaded.accepted,
        args.queued
    );

    println!(
        "answers recorded in the encrypted cache (press → durable), {} answers",
        args.answers
    );
    println!(
        "  median {:.3} ms, p99 {:.3} ms, max {:.3} ms (target p99 < 5 ms)",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "{} records kept offline, uploaded on reconnect to hologuide-server on 127.0.0.1",
        args.queued
    );
    println!(
        "  {:.3} s, {} requests ({} records each at most), {:.0} records/s",
        upload.as_secs_f64(),
        uploaded.requests,
        hologuide::client::RESULTS_PER_REQUEST,
        args.queued as f64 / upload.as_secs_f64().max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
