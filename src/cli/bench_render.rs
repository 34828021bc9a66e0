//! `hologuide bench render`: CPU time to encode and submit a stereo frame of the demo scene,
//! GPU memory for its assets, asset load time, and GPU allocations once warm.
//!
//! The CPU time is measured from building the scene to `queue.submit` returning; the GPU work
//! (lavapipe's rasterisation, on the CPU here) is waited for after the clock stops, so it is not
//! counted, and reported separately as the whole frame time.

use std::num::NonZeroU32;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use hologuide::app::GuideSource;
use hologuide::app::driver::{Driver, DriverSettings};
use hologuide::guide::AssetSource;
use hologuide::xr::headless::{Headless, HeadlessConfig, scripted_head};
use hologuide::xr::{Content, Standalone};

#[derive(Debug, Args)]
pub struct RenderBenchArgs {
    /// Frames measured (after 10 warm-up frames).
    #[arg(long, default_value_t = 300)]
    frames: usize,
    /// Demo step shown (step 1 has the most geometry: the pump and the arrow).
    #[arg(long, default_value_t = NonZeroU32::MIN)]
    step: NonZeroU32,
    /// Eye size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1440x1600")]
    size: String,
}

pub(super) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: RenderBenchArgs) -> anyhow::Result<ExitCode> {
    let (width, height) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .filter(|&(w, h): &(u32, u32)| (16..=8192).contains(&w) && (16..=8192).contains(&h))
        .context("--size must be WIDTHxHEIGHT, each 16 to 8192")?;
    let package = Arc::new(hologuide::demo::load().context("opening the demo guide")?);
    let config = HeadlessConfig {
        width,
        height,
        ..HeadlessConfig::stereo_headset()
    };
    let mut headless = Headless::new(config).context("starting the renderer")?;
    let read = |path: &str| package.read(path);

    let mut text = String::new();
    line!(text, "device: {}", headless.gpu.describe());
    line!(
        text,
        "eyes: 2 × {width}×{height}, {} samples, {}",
        config.sample_count,
        if headless.is_multiview() {
            "one multiview pass"
        } else {
            "one pass per eye"
        }
    );
    line!(
        text,
        "\nasset load (read + parse + upload, once per asset):"
    );
    let mut load_total = Duration::ZERO;
    for asset in package.guide.asset_paths() {
        let started = Instant::now();
        let result = headless.renderer.prepare_asset(asset, &read);
        let took = started.elapsed();
        load_total += took;
        line!(
            text,
            "  {asset:<28} {:>8.2} ms{}",
            ms(took),
            result
                .err()
                .map(|e| format!("  FAILED: {e}"))
                .unwrap_or_default()
        );
    }
    line!(text, "  {:<28} {:>8.2} ms", "all", ms(load_total));

    // The app as every shell drives it: a still head, the step shown from the first frame.
    let mut driver = Driver::new(
        Content::from_package(Arc::clone(&package), GuideSource::Demo),
        Box::new(Standalone),
        DriverSettings {
            start_step: Some(args.step),
            ..DriverSettings::default()
        },
    );
    let head = scripted_head();
    let mut cpu = Vec::with_capacity(args.frames);
    let mut whole = Vec::with_capacity(args.frames);
    let mut warm_allocations = 0;
    for i in 0..args.frames + 10 {
        // Fixed clock at 60 Hz: animations advance as on a headset.
        let started = Instant::now();
        let frame = driver.frame(head, 1.0 / 60.0);
        headless.submit(frame, head, &read)?;
        let encoded = started.elapsed();
        headless.wait()?;
        let done = started.elapsed();
        if i == 9 {
            warm_allocations = headless.renderer.stats().gpu_allocations;
        }
        if i >= 10 {
            cpu.push(encoded);
            whole.push(done);
        }
    }
    let allocations_after_warm = headless.renderer.stats().gpu_allocations - warm_allocations;
    cpu.sort();
    whole.sort();
    let memory = headless.renderer.memory();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    line!(
        text,
        "\n{:<44} {:>10} {:>10}",
        "per stereo frame",
        "median",
        "p99"
    );
    line!(
        text,
        "{:<44} {:>7.3} ms {:>7.3} ms",
        "CPU: scene + encode + submit",
        ms(percentile(&cpu, 0.5)),
        ms(percentile(&cpu, 0.99))
    );
    line!(
        text,
        "{:<44} {:>7.1} ms {:>7.1} ms",
        "whole frame incl. lavapipe rasterisation",
        ms(percentile(&whole, 0.5)),
        ms(percentile(&whole, 0.99))
    );
    line!(text, "\nGPU memory (MiB):");
    line!(
        text,
        "  demo models (buffers + textures) {:>8.2}",
        mib(memory.models)
    );
    line!(
        text,
        "  panel faces                      {:>8.2}",
        mib(memory.panel_faces)
    );
    line!(
        text,
        "  depth + MSAA targets             {:>8.2}",
        mib(memory.depth_and_msaa)
    );
    line!(
        text,
        "  uniforms                         {:>8.2}",
        mib(memory.uniforms)
    );
    line!(
        text,
        "\nGPU allocations during the {} measured frames: {allocations_after_warm}",
        cpu.len()
    );
    super::out(&text)?;
    let errors = headless.gpu.uncaptured_errors();
    anyhow::ensure!(errors.is_empty(), "wgpu errors: {}", errors.join("; "));
    Ok(ExitCode::SUCCESS)
}
