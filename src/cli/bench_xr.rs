//! `hologuide bench xr`: the OpenXR backend on the project's Monado (headless, its own service).
//!
//! - frames submitted vs display periods the runtime predicted over the run (target: none
//!   missed at the runtime's rate — 20 Hz on Monado headless);
//! - our CPU time per frame: this thread's CPU time from xrWaitFrame's return to xrEndFrame's
//!   (app state, scene, encoding and submitting both eyes, the OpenXR calls); lavapipe's own
//!   rasterising threads are not counted (a GPU does that work on a headset);
//! - launch → first submitted frame: from spawning `hologuide run` (re-exec, loader, instance,
//!   Vulkan device through the runtime, pipelines, session) to the first xrEndFrame with a
//!   projection layer; measured cold (first run) and warm (a second run right after).

use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use hologuide::platform::monado::MonadoInstall;

#[derive(Debug, Args)]
pub struct BenchXrArgs {
    /// Seconds of rendering measured.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Swapchain size per eye, WIDTHxHEIGHT; the runtime's recommended size by default.
    #[arg(long, value_name = "WxH", value_parser = super::demo::parse_size)]
    eye_size: Option<(u32, u32)>,
    /// The table as one JSON object instead.
    #[arg(long)]
    json: bool,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

fn numbers(report: &Value, key: &str) -> Vec<f64> {
    report[key]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// One `hologuide run` through the tree; returns its report and launch → first frame (ms).
fn run_once(
    install: &MonadoInstall,
    runtime_dir: &Path,
    args: &[String],
    timeout: Duration,
) -> anyhow::Result<(Value, Option<u64>)> {
    let exe = std::env::current_exe().context("finding this program")?;
    let launched = unix_ms();
    let mut child = install
        .client_command(&exe, runtime_dir, None)
        .args(args)
        .env("OXR_NO_PRINTING", "1")
        .env("XRT_LOG", "warning")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting hologuide run through the Monado tree")?;
    let started = Instant::now();
    while child.try_wait()?.is_none() {
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!(
                "hologuide run did not finish within {} s",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).with_context(|| {
        format!(
            "hologuide run failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })?;
    let first = report["first_frame_unix_ms"]
        .as_u64()
        .map(|t| t.saturating_sub(launched));
    Ok((report, first))
}

pub fn run(args: BenchXrArgs) -> anyhow::Result<ExitCode> {
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        anyhow::bail!("--seconds must be a positive number, not {}", args.seconds);
    }
    let install = MonadoInstall::locate().context("bench xr runs on the project's Monado")?;
    let dir = tempfile_dir()?;
    let service = install
        .start_service(&dir)
        .context("starting monado-service for the benchmark")?;
    let mut common = vec!["run".to_owned(), "--json".to_owned()];
    if let Some((w, h)) = args.eye_size {
        common.extend(["--eye-size".to_owned(), format!("{w}x{h}")]);
    }
    let mut short = common.clone();
    short.extend(["--frames".to_owned(), "10".to_owned()]);
    let mut long = common;
    long.extend(["--seconds".to_owned(), args.seconds.to_string()]);
    let timeout = Duration::from_secs_f64(args.seconds + 60.0);

    eprintln!("bench xr: cold start, then {} s of frames…", args.seconds);
    let cold = run_once(&install, &dir, &short, Duration::from_secs(60));
    let measured = cold.and_then(|(_, cold_first)| {
        run_once(&install, &dir, &long, timeout).map(|(r, warm)| (r, cold_first, warm))
    });
    drop(service);
    let _ = std::fs::remove_dir_all(&dir);
    let (report, cold_first, warm_first) = measured?;

    let waited = report["frames_waited"].as_u64().unwrap_or(0);
    let ended = report["frames_ended"].as_u64().unwrap_or(0);
    let rendered = report["frames_rendered"].as_u64().unwrap_or(0);
    let missed = report["frames_missed"].as_u64().unwrap_or(0);
    let predicted = report["frames_predicted"].as_u64().unwrap_or(0);
    let period = report["display_period_ms"].as_f64().unwrap_or(f64::NAN);
    let cpu = numbers(&report, "frame_cpu_ms");
    let wall = numbers(&report, "frame_wall_ms");
    let end = numbers(&report, "frame_end_ms");
    let summary = serde_json::json!({
        "runtime": report["runtime"],
        "system": report["system"],
        "graphics": report["graphics"],
        "eye_size": report["eye_size"],
        "multiview": report["multiview"],
        "seconds": args.seconds,
        "display_rate_hz": 1000.0 / period,
        "frames_predicted": predicted,
        "frames_waited": waited,
        "frames_submitted": ended,
        "frames_rendered": rendered,
        "frames_missed": missed,
        "missed_before_frame": report["missed_before_frame"],
        "cpu_ms_median": percentile(&cpu, 0.5),
        "cpu_ms_p99": percentile(&cpu, 0.99),
        "wall_ms_median": percentile(&wall, 0.5),
        "wall_ms_p99": percentile(&wall, 0.99),
        "end_ms_median": percentile(&end, 0.5),
        "end_ms_p99": percentile(&end, 0.99),
        "launch_to_first_frame_ms_cold": cold_first,
        "launch_to_first_frame_ms_warm": warm_first,
        "wgpu_errors": report["wgpu_errors"],
    });
    if args.json {
        super::out(&format!("{summary}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    line!(
        text,
        "runtime:  {} — {}",
        summary["runtime"].as_str().unwrap_or(""),
        summary["system"].as_str().unwrap_or("")
    );
    line!(
        text,
        "device:   {}",
        summary["graphics"].as_str().unwrap_or("")
    );
    line!(
        text,
        "eyes:     {} per eye{}",
        summary["eye_size"],
        if summary["multiview"] == true {
            ", multiview"
        } else {
            ""
        }
    );
    line!(text, "{:<44} {:>12}", "measure", "value");
    let rows: [(&str, String); 13] = [
        ("display rate (Hz)", format!("{:.1}", 1000.0 / period)),
        ("seconds rendered", format!("{}", args.seconds)),
        (
            "frames predicted by the runtime",
            (waited + missed).to_string(),
        ),
        ("frames submitted (xrEndFrame)", ended.to_string()),
        ("frames missed", missed.to_string()),
        (
            "CPU per frame, our code, median (ms)",
            format!("{:.2}", percentile(&cpu, 0.5)),
        ),
        (
            "CPU per frame, our code, p99 (ms)",
            format!("{:.2}", percentile(&cpu, 0.99)),
        ),
        (
            "wait → end wall time, median (ms)",
            format!("{:.2}", percentile(&wall, 0.5)),
        ),
        (
            "wait → end wall time, p99 (ms)",
            format!("{:.2}", percentile(&wall, 0.99)),
        ),
        (
            "release + xrEndFrame (GPU wait), median (ms)",
            format!("{:.2}", percentile(&end, 0.5)),
        ),
        (
            "release + xrEndFrame (GPU wait), p99 (ms)",
            format!("{:.2}", percentile(&end, 0.99)),
        ),
        (
            "launch → first frame, cold (ms)",
            cold_first.map_or("-".into(), |v| v.to_string()),
        ),
        (
            "launch → first frame, warm (ms)",
            warm_first.map_or("-".into(), |v| v.to_string()),
        ),
    ];
    for (name, value) in rows {
        line!(text, "{name:<44} {value:>12}");
    }
    if missed > 0 {
        line!(
            text,
            "late predictions (1.5 periods or more after the previous) before waited frames {}",
            summary["missed_before_frame"]
        );
    }
    super::out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// A short private runtime directory (Unix socket paths are limited to 108 bytes).
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("hg-bench-xr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
