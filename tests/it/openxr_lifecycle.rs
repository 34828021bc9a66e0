//! The OpenXR app's process lifecycle on Monado: Ctrl-C, the runtime dying under it, the
//! runtime probe, and input refused before any runtime is touched. (Frames, captures and
//! scripted input are in `openxr_frames`.)

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::openxr_frames::Runtime;
use crate::openxr_runtime::{monado_or_skip, runtime_dir};
use crate::support::*;

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Starts `run` for a long time and waits until the session is focused (its log says so).
fn start_long_run(runtime: &Runtime) -> (Child, PathBuf) {
    let log = runtime.dir.path().join("run.log");
    let child = runtime
        .hologuide(&["--log", "info", "run", "--seconds", "60"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("VISIBLE → FOCUSED")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never focused: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, log)
}

#[test]
fn ctrl_c_ends_the_session_through_stopping_and_exits_with_success() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let runtime = Runtime::start(install);
    let (mut child, log) = start_long_run(&runtime);
    // SAFETY: our own child, not yet reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let status = wait_with_timeout(&mut child, Duration::from_secs(20)).expect("exits");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(status.success(), "{status}\n{log}");
    assert!(log.contains("interrupted (Ctrl-C)"), "{log}");
    assert!(
        log.contains("STOPPING → IDLE") && log.contains("IDLE → EXITING"),
        "{log}"
    );
    assert_eq!(
        runtime.validation_complaints(),
        Vec::<String>::new(),
        "a Ctrl-C exit is as clean for the validation layer as a normal one"
    );
}

#[test]
fn monado_service_killed_mid_run_ends_the_app_with_a_clear_message_not_a_hang() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let mut runtime = Runtime::start(install);
    let (mut child, log) = start_long_run(&runtime);
    let service = runtime.service.take().unwrap();
    // SAFETY: the service is our own child process, not yet reaped.
    unsafe {
        libc::kill(service.pid() as libc::pid_t, libc::SIGKILL);
    }
    drop(service);
    let status = wait_with_timeout(&mut child, Duration::from_secs(40))
        .expect("the app ends by itself when its runtime dies");
    let log = std::fs::read_to_string(log).unwrap();
    assert_eq!(status.code(), Some(1), "{status}\n{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error:") && last.contains("runtime"),
        "the last line says what happened: {log}"
    );
}

#[test]
fn probe_runtime_names_monado_when_its_service_runs_and_says_why_not_when_it_does_not() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let hologuide = Path::new(env!("CARGO_BIN_EXE_hologuide"));
    let empty = runtime_dir();
    let started = Instant::now();
    let missing = hologuide::xr::openxr::probe_runtime_with(hologuide, empty.path())
        .expect_err("no service, no runtime");
    assert!(
        missing.to_string().contains("monado-service has no socket"),
        "{missing}"
    );
    assert!(!missing.to_string().contains('\n'), "one line: {missing}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answers quickly"
    );

    let runtime = Runtime::start(install);
    let summary = hologuide::xr::openxr::probe_runtime_with(hologuide, runtime.dir.path())
        .expect("Monado answers");
    assert!(summary.runtime.starts_with("Monado"), "{summary:?}");
    assert!(summary.vulkan, "Monado offers XR_KHR_vulkan_enable2");
    assert!(summary.through_monado_tree);
    assert!(
        summary.system.as_deref().unwrap_or("").contains("Monado"),
        "{summary:?}"
    );
}

#[test]
fn a_malformed_input_script_is_refused_before_any_runtime_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("input.txt");
    std::fs::write(&script, "10 next\n20 jump\n").unwrap();
    let output = run(hologuide()
        .args(["run", "--input-script", script.to_str().unwrap()])
        .env("XDG_RUNTIME_DIR", dir.path()));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("input script line 2") && message.contains("unknown action \"jump\""),
        "{message}"
    );
    let output = run(hologuide()
        .args(["run", "--input-script", "/nonexistent/input.txt"])
        .env("XDG_RUNTIME_DIR", dir.path()));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("reading the input script /nonexistent/input.txt"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn run_refuses_a_guide_folder_that_is_not_a_guide_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(hologuide()
        .args(["run", dir.path().to_str().unwrap(), "--frames", "5"])
        .env("XDG_RUNTIME_DIR", dir.path()));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!("opening {}", dir.path().display())),
        "{}",
        stderr(&output)
    );
}

#[test]
fn asking_to_capture_a_frame_the_session_never_reached_is_an_error_that_says_so() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let runtime = Runtime::start(install);
    let capture = runtime.dir.path().join("never.png");
    let output = run(&mut runtime.hologuide(&[
        "run",
        "--frames",
        "5",
        "--capture-frame",
        "50",
        "--out",
        capture.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("frame 50 was never rendered"),
        "{}",
        stderr(&output)
    );
    assert!(!capture.exists());

    let output = run(hologuide().args(["run", "--capture-frame", "0", "--out", "x.png"]));
    assert_eq!(output.status.code(), Some(2), "clap refuses frame 0");
}
