//! `hologuide bench sync`, second part: the app's frame loop while the offline profile syncs in
//! the background (S5, target: p99 frame time within 10 % of idle).
//!
//! The demo scene is rendered headless (lavapipe: the GPU work is on the CPU too, so the sync
//! competes for the same cores) frame after frame, each timed from building the scene to the
//! GPU finishing it. Idle frames are measured before and after the sync frames, so a drift of
//! the machine shows as a difference between the two idle halves. During the sync, a new
//! device syncs the whole profile through [`BackgroundSync`], as the app does, paced at a
//! plant Wi-Fi's rate so that it lasts for the frames measured.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use hologuide::app::GuideSource;
use hologuide::app::driver::{Driver, DriverSettings};
use hologuide::cache::MemoryKeyStore;
use hologuide::client::{Device, DeviceConfig};
use hologuide::clock::SystemClock;
use hologuide::guide::AssetSource;
use hologuide::sync::{BackgroundSync, SyncSettings};
use hologuide::xr::headless::{Headless, HeadlessConfig, scripted_head};
use hologuide::xr::{Content, Standalone};

use super::bench_client::{PASSWORD, USER};
use super::bench_render::percentile;

/// Runs this `bench` again through the Monado tree's loader when the project has installed it
/// and this process is not already there; `None` when it goes on here.
///
/// Debian 12's lavapipe (Mesa 22.3) keeps about 18 MB for every frame that draws a textured
/// model: frames get slower as the run goes on (measured: idle p99 52 ms before the sync
/// frames, 102 ms after), which drowns what the sync does to them. The tree's Mesa 25
/// lavapipe keeps nothing (the same frames: 17 and 18 ms).
pub fn through_tree() -> anyhow::Result<Option<std::process::ExitCode>> {
    use hologuide::platform::monado::{INSIDE_TREE_ENV, MonadoInstall};
    if std::env::var_os(INSIDE_TREE_ENV).is_some() {
        return Ok(None);
    }
    let Ok(install) = MonadoInstall::locate() else {
        eprintln!(
            "note: frames are timed on this system's lavapipe; with Debian 12's Mesa 22.3 it slows \
             down as it runs (`scripts/setup` installs the Monado tree, with Mesa 25's)"
        );
        return Ok(None);
    };
    let exe = std::env::current_exe().context("finding this program")?;
    eprintln!("timing frames on the Monado tree's lavapipe (Mesa 25): running through its loader");
    let status = install
        .client_command(&exe, &std::env::temp_dir(), None)
        .args(std::env::args_os().skip(1))
        .status()
        .context("running the benchmark through the Monado tree's loader")?;
    Ok(Some(match status.code() {
        Some(0) => std::process::ExitCode::SUCCESS,
        _ => std::process::ExitCode::FAILURE,
    }))
}

/// The sync's pace: 20 MB/s (160 Mbit/s), a good plant Wi-Fi.
const SYNC_RATE: u64 = 20_000_000;

pub struct FrameTimes {
    pub idle: Vec<Duration>,
    pub syncing: Vec<Duration>,
    /// The idle frames' two halves (before, after), p99.
    pub idle_halves: (Duration, Duration),
    pub size: (u32, u32),
    /// The renderer's device, as wgpu names it.
    pub device: String,
}

impl FrameTimes {
    pub fn print(&self) {
        let row = |name: &str, times: &[Duration]| {
            let mut sorted = times.to_vec();
            sorted.sort();
            println!(
                "  {name:<44} {:>7} {:>9.2} {:>9.2}",
                sorted.len(),
                ms(percentile(&sorted, 0.5)),
                ms(percentile(&sorted, 0.99))
            );
            percentile(&sorted, 0.99)
        };
        println!(
            "\nframe loop (demo scene, headless {}x{}, {}) while a new device syncs the profile at \
             {} MB/s",
            self.size.0,
            self.size.1,
            self.device,
            SYNC_RATE / 1_000_000
        );
        println!(
            "  {:<44} {:>7} {:>9} {:>9}",
            "", "frames", "median ms", "p99 ms"
        );
        let idle = row("idle (half before, half after)", &self.idle);
        let syncing = row("during the background sync", &self.syncing);
        println!(
            "  p99 during the sync / idle: {:.3} (target ≤ 1.10); idle p99 before {:.2} ms, after \
             {:.2} ms",
            syncing.as_secs_f64() / idle.as_secs_f64().max(1e-9),
            ms(self.idle_halves.0),
            ms(self.idle_halves.1)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Renders `frames` idle frames (half before, half after) and up to `frames` frames while a
/// new device in `dir` syncs its profile from `url`.
pub fn measure(
    dir: &Path,
    url: &str,
    frames: usize,
    size: (u32, u32),
) -> anyhow::Result<FrameTimes> {
    let package = Arc::new(hologuide::demo::load().context("opening the demo guide")?);
    let mut headless = Headless::new(HeadlessConfig::screenshot(size.0, size.1))
        .context("starting the headless renderer")?;
    let read = |path: &str| package.read(path);
    let mut driver = Driver::new(
        Content::from_package(Arc::clone(&package), GuideSource::Demo),
        Box::new(Standalone),
        DriverSettings::default(),
    );
    let head = scripted_head();
    let mut frame = |driver: &mut Driver| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let built = driver.frame(head, 1.0 / 60.0);
        headless.submit(built, head, &read)?;
        headless.wait()?;
        Ok(started.elapsed())
    };
    for _ in 0..10 {
        frame(&mut driver)?;
    }
    let half = frames / 2;
    let mut idle = Vec::with_capacity(frames);
    for _ in 0..half {
        idle.push(frame(&mut driver)?);
    }

    let mut config = DeviceConfig::new(
        &dir.join("device-syncing"),
        Arc::new(MemoryKeyStore::new()),
        Arc::new(SystemClock),
    );
    config.download.max_rate = Some(SYNC_RATE);
    let mut device = Device::new(config)?;
    device.sign_in(Some(url), USER, PASSWORD)?;
    // The whole profile goes without asking: the prompt is not what is measured.
    let store = device.store().context("signed in")?;
    SyncSettings {
        ask_above_bytes: u64::MAX,
        ..SyncSettings::default()
    }
    .save(store)?;
    let sync = BackgroundSync::start(&device)?;
    let mut syncing = Vec::with_capacity(frames);
    while syncing.len() < frames && sync.cycles() == 0 {
        syncing.push(frame(&mut driver)?);
    }
    if syncing.len() < frames {
        eprintln!(
            "note: the sync ended after {} frames; a larger profile (--guides, --megabytes) \
             measures more",
            syncing.len()
        );
    }
    // Stops the sync between two reads, as closing the app does.
    drop(sync);

    let before = idle.clone();
    for _ in half..frames {
        idle.push(frame(&mut driver)?);
    }
    let p99 = |times: &[Duration]| {
        let mut sorted = times.to_vec();
        sorted.sort();
        percentile(&sorted, 0.99)
    };
    Ok(FrameTimes {
        idle_halves: (p99(&before), p99(&idle[half..])),
        idle,
        syncing,
        size,
        device: headless.gpu.describe(),
    })
}
