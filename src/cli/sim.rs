//! `hologuide sim`: the testers' simulator. Starts the project's Monado — with its own window
//! and keyboard/mouse-driven headset and controllers when a display exists, headless otherwise —
//! runs `hologuide run` against it, and stops Monado when the app ends.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitCode, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use hologuide::platform::monado::{MonadoInstall, ServiceMode};

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Monado without a window even when a display exists (its simulated headset, no keys).
    #[arg(long)]
    headless: bool,
    /// Enable the Khronos core validation layer in the app; its messages go to FILE.
    #[arg(long, value_name = "FILE")]
    validation_log: Option<PathBuf>,
    /// Options for `hologuide run` (the guide, --frames, --seconds, --capture-frame, --out,
    /// --input-script, --json …), after sim's own.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "RUN OPTIONS"
    )]
    run: Vec<OsString>,
}

/// The simulator's keys, from Monado 25's qwerty driver (`drivers/qwerty/qwerty_sdl.c`).
const KEYS: &str = "keys go to the window titled \"Monado! ✨⚡🔥\": WASD/QE move the head, \
arrows or right-drag turn it, left click = trigger (select), hold LCtrl/LAlt for the left/right \
controller; see the README's tester section";

pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let install = MonadoInstall::locate().context("finding the project's Monado")?;
    let exe = std::env::current_exe().context("finding this program")?;
    let (mode, why) = choose_mode(args.headless);
    let runtime_dir = std::env::temp_dir().join(format!("hologuide-sim-{}", std::process::id()));
    let service = install
        .start_service_in(&runtime_dir, &mode)
        .context("starting monado-service")?;
    match &mode {
        ServiceMode::Windowed { display } => eprintln!(
            "sim: Monado with its window on DISPLAY={} (pid {}); {KEYS}",
            display.to_string_lossy(),
            service.pid()
        ),
        ServiceMode::Headless => eprintln!("sim: Monado headless ({why}) (pid {})", service.pid()),
    }
    let mut app = install.client_command(&exe, &runtime_dir, args.validation_log.as_deref());
    app.arg("run").args(&args.run);
    let status = app
        .spawn()
        .context("running hologuide against Monado")
        .and_then(wait_passing_signals);
    let log = service.stop();
    eprintln!("sim: monado-service stopped");
    let status = status?;
    let _ = std::fs::remove_dir_all(&runtime_dir);
    if status.success() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("sim: the app ended with {status}; the end of Monado's log:");
    for line in tail(&log, 20) {
        eprintln!("  {line}");
    }
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .filter(|c| *c != 0)
            .unwrap_or(super::EXIT_FAILURE),
    ))
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Waits for the app. Ctrl-C or SIGTERM sent to sim is passed on to the app as SIGINT, so it
/// ends its session cleanly before Monado is stopped; sim itself never dies first and leaves
/// Monado running.
fn wait_passing_signals(mut app: Child) -> anyhow::Result<ExitStatus> {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    let mut passed_on = false;
    loop {
        if let Some(status) = app.try_wait().context("waiting for the app")? {
            return Ok(status);
        }
        if STOP.load(Ordering::SeqCst) && !passed_on {
            passed_on = true;
            // SAFETY: `app` is our child and not yet reaped, so its pid names no other process.
            unsafe {
                libc::kill(app.id() as libc::pid_t, libc::SIGINT);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Windowed when an X display is named and its socket exists (Monado's windows are X11: XCB
/// and SDL), headless otherwise; with the reason for headless.
fn choose_mode(headless: bool) -> (ServiceMode, String) {
    if headless {
        return (ServiceMode::Headless, "--headless".into());
    }
    let Some(display) = std::env::var_os("DISPLAY").filter(|d| !d.is_empty()) else {
        return (
            ServiceMode::Headless,
            "no display: DISPLAY is not set".into(),
        );
    };
    match local_display_socket(&display.to_string_lossy()) {
        Some(socket) if !socket.exists() => (
            ServiceMode::Headless,
            format!(
                "no display: DISPLAY={} has no X server ({} is missing)",
                display.to_string_lossy(),
                socket.display()
            ),
        ),
        _ => (ServiceMode::Windowed { display }, String::new()),
    }
}

/// `:N` or `:N.S` → `/tmp/.X11-unix/XN`; None for a remote display (host:N), which is trusted.
fn local_display_socket(display: &str) -> Option<PathBuf> {
    let number = display.strip_prefix(':')?;
    let number = number.split('.').next()?;
    number
        .parse::<u32>()
        .ok()
        .map(|n| Path::new("/tmp/.X11-unix").join(format!("X{n}")))
}

fn tail(text: &str, lines: usize) -> Vec<&str> {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_display_is_checked_by_its_socket_and_a_remote_one_is_trusted() {
        assert_eq!(
            local_display_socket(":7"),
            Some(PathBuf::from("/tmp/.X11-unix/X7"))
        );
        assert_eq!(
            local_display_socket(":12.0"),
            Some(PathBuf::from("/tmp/.X11-unix/X12"))
        );
        assert_eq!(local_display_socket("remote:0"), None);
        assert_eq!(local_display_socket(":x"), None);
    }
}
