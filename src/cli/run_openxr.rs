//! `run` on an OpenXR runtime: re-executing through the project's Monado tree when only it can
//! load the runtime, a watchdog for a runtime that stops answering, signals that end the
//! session cleanly, and the run's report.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;

use hologuide::app::script::ScriptedCommand;
use hologuide::platform::monado::{INSIDE_TREE_ENV, MonadoInstall};
use hologuide::xr::openxr::{self, Capture, Heartbeat, RunOptions, RunReport, probe};

use super::{Chosen, RunArgs, driver, load_package, open_chosen};

/// A runtime that stops answering must not leave the user with a frozen command.
const WATCHDOG: Duration = Duration::from_secs(20);

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// What `--backend auto` found of the OpenXR runtime.
pub enum OpenXrVerdict {
    /// It can show the app: the one line to print.
    Usable(String),
    /// Why not: one clause of the line that names the backend taken instead.
    Unusable(String),
}

/// Whether `--backend auto` can use the OpenXR runtime. `window_only`: the options given that
/// only a window can honour.
pub fn openxr_verdict(window_only: &[&str]) -> OpenXrVerdict {
    OpenXrVerdict::Unusable(match probe::probe_runtime() {
        Ok(found) if !window_only.is_empty() => format!(
            "OpenXR runtime {} answered, but {} ask(s) for the window",
            found.runtime,
            window_only.join(", ")
        ),
        Ok(found) if found.system.is_some() && found.vulkan => {
            return OpenXrVerdict::Usable(format!(
                "backend: openxr ({} answered with {})",
                found.runtime,
                found.system.as_deref().unwrap_or_default()
            ));
        }
        Ok(found) if found.system.is_none() => {
            format!("OpenXR runtime {} has no headset", found.runtime)
        }
        Ok(found) => format!(
            "OpenXR runtime {} lacks XR_KHR_vulkan_enable2",
            found.runtime
        ),
        // Its message says which runtime is missing or silent, and how to start one.
        Err(why) => why.to_string(),
    })
}

pub(super) fn run_on_openxr(
    args: &RunArgs,
    chosen: Chosen,
    script: Vec<ScriptedCommand>,
) -> anyhow::Result<ExitCode> {
    // A package is checked before anything starts; a guide of the service is opened later,
    // in the process that shows it.
    if let Chosen::Package(path) = &chosen {
        load_package(path)?;
    }
    if let Some(seconds) = args.seconds
        && !(seconds.is_finite() && seconds > 0.0)
    {
        anyhow::bail!("--seconds must be a positive number of seconds, not {seconds}");
    }
    if std::env::var_os(INSIDE_TREE_ENV).is_none()
        && let Ok(install) = MonadoInstall::locate()
        && !runtime_answers_here()
    {
        return reexec_through_tree(&install);
    }
    args.camera
        .no_poses_here("on OpenXR the runtime moves the head")?;
    let (camera, sees) = args.camera.start_real_time()?;
    let (driver, opened) = driver(args, open_chosen(args, chosen)?, script, true, sees);
    install_signal_handlers();
    let heartbeat = Heartbeat::default();
    heartbeat.beat();
    start_watchdog(heartbeat.clone());
    let options = RunOptions {
        frames: args.frames,
        duration: args.seconds.map(Duration::from_secs_f64),
        capture: args
            .capture_frame
            .zip(args.out.clone())
            .map(|(frame, out)| Capture { frame, out }),
        eye_size: args.eye_size,
        stop: Arc::new(AtomicBool::new(false)),
        heartbeat,
        camera,
    };
    let stop = options.stop.clone();
    std::thread::Builder::new()
        .name("signal relay".into())
        .spawn(move || {
            loop {
                if STOP.load(Ordering::SeqCst) {
                    stop.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .context("starting the signal relay")?;
    // The driver (and with it a guide's telemetry worker, which uploads what it can as it
    // ends) is dropped when the session is over.
    let report = openxr::run_openxr(driver, options).context("running on the OpenXR runtime")?;
    print_report(&report, opened.as_ref(), args.json)?;
    if let Some(frame) = args.capture_frame
        && report.captured.is_none()
    {
        anyhow::bail!(
            "frame {frame} was never rendered, so nothing was captured (the session ended after {} rendered frames)",
            report.frames_rendered
        );
    }
    if !report.wgpu_errors.is_empty() {
        anyhow::bail!(
            "the GPU reported {} error(s): {}",
            report.wgpu_errors.len(),
            report.wgpu_errors.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A system runtime (not the project's Monado) that this process can load by itself.
fn runtime_answers_here() -> bool {
    // The tree's runtime cannot load here; asking the loader would only say so more slowly.
    if std::env::var_os("XR_RUNTIME_JSON").is_some_and(|p| {
        MonadoInstall::locate().is_ok_and(|i| p == i.runtime_manifest().as_os_str())
    }) {
        return false;
    }
    probe::answers_in_process()
}

fn reexec_through_tree(install: &MonadoInstall) -> anyhow::Result<ExitCode> {
    let runtime_dir = probe::monado_runtime_dir();
    if !probe::monado_service_running(&runtime_dir) {
        anyhow::bail!(
            "no OpenXR runtime is running: the project's Monado is installed, but monado-service has no socket in {} (start it, e.g. with `hologuide sim`)",
            runtime_dir.display()
        );
    }
    let exe = std::env::current_exe().context("finding this program")?;
    let mut command = install.client_command(&exe, &runtime_dir, None);
    command.args(std::env::args_os().skip(1));
    // A tester who enabled API layers (validation) keeps them.
    for name in [
        "XR_API_LAYER_PATH",
        "XR_ENABLE_API_LAYERS",
        "XR_CORE_VALIDATION_EXPORT_TYPE",
        "XR_CORE_VALIDATION_FILE_NAME",
    ] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    // Monado's client library prints every instance and device it creates on standard error;
    // users see hologuide's own one-line messages instead (unless they asked for Monado's).
    for (name, value) in [("OXR_NO_PRINTING", "1"), ("XRT_LOG", "warning")] {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    // Ctrl-C reaches the child too (same process group); this process just waits for it.
    install_signal_handlers();
    tracing::info!("running through the Monado tree's loader");
    let status = command
        .status()
        .context("running hologuide through the Monado tree's loader")?;
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(super::super::EXIT_FAILURE)),
        None => {
            eprintln!("error: hologuide (through the Monado tree) ended by a signal: {status}");
            ExitCode::from(super::super::EXIT_FAILURE)
        }
    })
}

fn start_watchdog(heartbeat: Heartbeat) {
    let spawned = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(250));
                if heartbeat.since_last() > WATCHDOG {
                    eprintln!(
                        "error: the OpenXR runtime stopped answering (nothing for {} s); is its service (monado-service) still running?",
                        WATCHDOG.as_secs()
                    );
                    std::process::exit(i32::from(super::super::EXIT_FAILURE));
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no watchdog: {e}");
    }
}

fn print_report(
    report: &RunReport,
    opened: Option<&hologuide::client::Opened>,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(report)?;
        // A guide of the service: how it was opened (origin, version, the link's step).
        if let Some(opened) = opened {
            value["opened"] = serde_json::to_value(opened)?;
        }
        super::super::out(&format!("{value}\n"))?;
        return Ok(());
    }
    eprintln!(
        "{} on {} ({}), {} {}x{} per eye{}: {} frames rendered, {} waited, {} ended; {}; ended: {}",
        report.system,
        report.runtime,
        report.blend_mode,
        report.swapchain_format,
        report.eye_size[0],
        report.eye_size[1],
        if report.multiview { ", multiview" } else { "" },
        report.frames_rendered,
        report.frames_waited,
        report.frames_ended,
        report.app.final_screen,
        report.ended_because
    );
    if report.app.frames_with_offline_banner > 0 {
        eprintln!(
            "Offline banner in {} of {} frames",
            report.app.frames_with_offline_banner, report.frames_rendered
        );
    }
    if let Some(path) = &report.captured {
        println!("{}", path.display());
    }
    Ok(())
}
