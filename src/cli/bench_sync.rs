//! `hologuide bench sync`: an offline profile onto a new device, with the real
//! `hologuide-server` on 127.0.0.1 (issue 17's performance targets).
//!
//! - The first full sync of a profile of N guides (50 × 10 MB by default: 500 MB of assets).
//! - An incremental sync after one guide was republished with a new picture: what it
//!   transferred (only the changed blob is the target) and its time beyond those bytes at the
//!   first sync's rate (target < 1 s).
//! - The device's peak memory during the syncs above its idle memory (target < 64 MiB): the
//!   sync runs in this process, the service in its own.
//! - The app's frame times idle and during a background sync ([`super::bench_sync_frames`]).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use hologuide::cache::MemoryKeyStore;
use hologuide::client::{Device, DeviceConfig};
use hologuide::clock::SystemClock;
use hologuide::net::limits::human_bytes;
use hologuide::sync::{Approval, SyncOptions, SyncReport, run_cycle};

use super::bench_client::{PASSWORD, USER, admin, bench_service, serve, write_noise_package};

#[derive(Debug, Args)]
pub struct SyncBenchArgs {
    /// Guides in the profile.
    #[arg(long, default_value_t = 50)]
    guides: usize,
    /// Each guide's picture, in MB.
    #[arg(long, default_value_t = 10)]
    megabytes: usize,
    /// Frames of the app's frame loop timed idle and again during a background sync (0: not
    /// measured).
    #[arg(long, default_value_t = 200)]
    frames: usize,
    /// The headless frame's size, WIDTHxHEIGHT.
    #[arg(long, default_value = "640x400", value_parser = super::demo::parse_size)]
    size: (u32, u32),
}

/// This process's resident memory now and at its peak, bytes (Linux `/proc/self/status`).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn guide_id(n: usize) -> String {
    format!("5e{n:06x}-0000-4000-8000-000000000000")
}

fn sync(device: &mut Device) -> anyhow::Result<(SyncReport, f64)> {
    let started = Instant::now();
    let report = run_cycle(
        device,
        SyncOptions::default(),
        &mut |_| Approval::Go,
        &|_, _| {},
    )?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        matches!(report.outcome.as_str(), "done" | "nothing to do"),
        "the sync ended: {}",
        report.outcome
    );
    Ok((report, seconds))
}

pub fn run(args: SyncBenchArgs) -> anyhow::Result<ExitCode> {
    if args.frames > 0
        && let Some(code) = super::bench_sync_frames::through_tree()?
    {
        return Ok(code);
    }
    let (scratch, data) = bench_service("sync")?;
    let bytes = args.megabytes * 1_000_000;
    let mut profile = vec!["profile".to_owned(), "create".into(), "crew".into()];
    for n in 0..args.guides {
        let package = scratch.0.join(format!("package-{n}"));
        write_noise_package(
            &package,
            &guide_id(n),
            &format!("Guide {n}"),
            bytes,
            n as u64,
        )
        .context("writing a package")?;
        admin(
            &data,
            &["guide", "publish", &package.to_string_lossy(), "--as", USER],
        )?;
        std::fs::remove_dir_all(&package)?;
        profile.extend(["--guide".into(), guide_id(n)]);
    }
    let profile: Vec<&str> = profile.iter().map(String::as_str).collect();
    admin(&data, &profile)?;
    admin(&data, &["profile", "add-member", "crew", USER])?;
    let (_server, url) = serve(&data)?;

    let config = DeviceConfig::new(
        &scratch.0.join("device"),
        Arc::new(MemoryKeyStore::new()),
        Arc::new(SystemClock),
    );
    let mut device = Device::new(config)?;
    device.sign_in(Some(&url), USER, PASSWORD)?;
    let (idle, _) = memory();
    let (first, first_s) = sync(&mut device)?;

    // One guide republished with a new picture.
    let package = scratch.0.join("changed");
    write_noise_package(&package, &guide_id(0), "Guide 0", bytes, 1 << 40)?;
    admin(
        &data,
        &["guide", "publish", &package.to_string_lossy(), "--as", USER],
    )?;
    let (second, second_s) = sync(&mut device)?;
    let (third, third_s) = sync(&mut device)?;
    let (_, peak) = memory();

    let rate = first.downloaded_bytes as f64 / first_s.max(1e-9);
    let overhead = second_s - second.downloaded_bytes as f64 / rate.max(1.0);
    println!(
        "offline profile of {} guides × {} MB on loopback, one device (this process)",
        args.guides, args.megabytes
    );
    println!(
        "  {:<44} {:>10} {:>12} {:>10}",
        "", "seconds", "downloaded", "guides"
    );
    for (name, report, seconds) in [
        ("first full sync", &first, first_s),
        ("after one guide was republished", &second, second_s),
        ("again, nothing changed (304)", &third, third_s),
    ] {
        println!(
            "  {name:<44} {seconds:>10.3} {:>12} {:>10}",
            human_bytes(report.downloaded_bytes),
            report.stored.len()
        );
    }
    println!(
        "  first sync: {:.0} MB/s; the incremental one beyond its bytes at that rate: {:.3} s \
         (target < 1 s); it planned {} and moved {}",
        rate / 1e6,
        overhead,
        human_bytes(second.plan.download_bytes),
        human_bytes(second.downloaded_bytes)
    );
    println!(
        "  device memory: idle {}, peak {}: {} above idle (target < 64 MiB)",
        human_bytes(idle),
        human_bytes(peak),
        human_bytes(peak.saturating_sub(idle))
    );
    // After the memory figures: the renderer's own memory is no part of the sync's.
    if args.frames > 0 {
        super::bench_sync_frames::measure(&scratch.0, &url, args.frames, args.size)?.print();
    }
    Ok(ExitCode::SUCCESS)
}
