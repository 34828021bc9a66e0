//! `hologuide bench records`: answers recorded on the device (N6) and uploaded (N5).
//!
//! - Recording an answer: from the app's call to the record being durable in the encrypted
//!   cache (`Store::add_result`, one transaction each), median and p99. Target p99 < 5 ms. No
//!   network involved.
//! - Uploading the records kept offline on reconnect (10,000 by default) to a real
//!   `hologuide-server` on 127.0.0.1: time and requests used.
//! - Photos (N6): encoding a 1280×720 camera frame as the JPEG an answer names (on the camera's
//!   thread, off the frame loop), keeping photo and record durable, and sending the photos.

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
    /// Photo answers taken, kept and uploaded.
    #[arg(long, default_value_t = 40)]
    photos: usize,
}

/// A 1280×720 grey frame with texture (a smooth frame would compress unrealistically well),
/// different for each `n`.
fn camera_frame(n: usize) -> hologuide::camera::CameraFrame {
    let (width, height) = (1280, 720);
    let mut state = 0x9E37_79B9_u32 ^ n as u32;
    let pixels = (0..width * height)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let (x, y) = (i % width, i / width);
            ((x / 8 + y / 6 + n) % 200) as u8 + (state % 40) as u8
        })
        .collect();
    hologuide::camera::CameraFrame {
        pixels,
        width,
        height,
        stride: width,
        captured_at: Duration::ZERO,
        intrinsics: hologuide::camera::Intrinsics::from_hfov(width, height, 64.69),
        camera_from_head: hologuide::scene::Pose::IDENTITY,
        head: None,
    }
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

    // Photos: encoded off the frame loop, then kept with their record, then sent.
    let (mut encoding, mut keeping, mut bytes) = (Vec::new(), Vec::new(), 0usize);
    for n in 0..args.photos {
        let frame = camera_frame(n);
        let started = Instant::now();
        let photo = hologuide::camera::photo::encode(&frame)?;
        encoding.push(started.elapsed());
        bytes += photo.jpeg.len();
        let mut answer = record(n);
        answer.value = Some(serde_json::json!({
            "kind": "photo", "sha256": photo.sha256, "bytes": photo.jpeg.len(),
            "width": photo.width, "height": photo.height,
        }));
        let started = Instant::now();
        store.add_photo(&photo.sha256, &photo.jpeg)?;
        store.add_result(&answer)?;
        keeping.push(started.elapsed());
    }
    encoding.sort();
    keeping.sort();
    let started = Instant::now();
    let sent = device.upload_results()?;
    let photo_upload = started.elapsed();
    anyhow::ensure!(
        sent.photos == args.photos && store.unsent_photos()?.is_empty(),
        "the upload took {} of {} photos",
        sent.photos,
        args.photos
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
    let mean_kb = bytes as f64 / args.photos.max(1) as f64 / 1000.0;
    println!(
        "{} photo answers, 1280×720 grey, {mean_kb:.0} KB each on average",
        args.photos
    );
    println!(
        "  JPEG encoding (camera thread): median {:.1} ms, p99 {:.1} ms",
        ms(percentile(&encoding, 0.5)),
        ms(percentile(&encoding, 0.99))
    );
    println!(
        "  photo and record durable in the cache: median {:.3} ms, p99 {:.3} ms",
        ms(percentile(&keeping, 0.5)),
        ms(percentile(&keeping, 0.99))
    );
    println!(
        "  sent on reconnect: {:.3} s, {} requests, {:.1} MB/s",
        photo_upload.as_secs_f64(),
        sent.requests,
        bytes as f64 / 1e6 / photo_upload.as_secs_f64().max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
