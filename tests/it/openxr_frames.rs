//! The OpenXR backend end to end on the project's Monado (headless, 20 Hz, 320×240 views) with
//! the Khronos core validation layer on: frames submitted, what the runtime received (captured
//! eye images against goldens), the session lifecycle, scripted input, and a runtime that is
//! missing or dies.
//!
//! Each test starts its own monado-service in its own runtime directory, so tests run side by
//! side. Captured images: `--capture-frame N --out F` copies the left eye of rendered frame N
//! from the swapchain image, after rendering and before release — what the runtime got.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use hologuide::platform::monado::{MonadoInstall, MonadoService};

use crate::openxr_runtime::{monado_or_skip, runtime_dir};
use crate::support::*;

/// A private runtime: the service, its directory and the validation layer's log.
pub(crate) struct Runtime {
    install: MonadoInstall,
    pub(crate) service: Option<MonadoService>,
    pub(crate) dir: tempfile::TempDir,
}

impl Runtime {
    /// The default simulated headset (it wobbles with the clock, as a head would).
    pub(crate) fn start(install: MonadoInstall) -> Self {
        Self::start_with(install, &[])
    }

    /// Monado's keyboard-driven headset, which stays still when nobody types: the frame the
    /// captures see is the same on every run.
    pub(crate) fn start_still(install: MonadoInstall) -> Self {
        Self::start_with(install, &[("QWERTY_ENABLE", "1")])
    }

    pub(crate) fn start_with(install: MonadoInstall, env: &[(&str, &str)]) -> Self {
        Self::start_in(install, runtime_dir(), env)
    }

    /// The service in `dir`, which may hold its home's configuration already.
    pub(crate) fn start_in(
        install: MonadoInstall,
        dir: tempfile::TempDir,
        env: &[(&str, &str)],
    ) -> Self {
        let service = install
            .start_service_with(dir.path(), env)
            .expect("monado-service starts");
        Self {
            install,
            service: Some(service),
            dir,
        }
    }

    pub(crate) fn validation_log(&self) -> PathBuf {
        self.dir.path().join("validation.log")
    }

    /// `hologuide ARGS` as an OpenXR client of this runtime, validation layer on.
    pub(crate) fn hologuide(&self, args: &[&str]) -> Command {
        let mut command = self.install.client_command(
            Path::new(env!("CARGO_BIN_EXE_hologuide")),
            self.dir.path(),
            Some(&self.validation_log()),
        );
        command.env_remove("RUST_LOG").args(args);
        command
    }

    pub(crate) fn service_log(&self) -> String {
        self.service.as_ref().map(|s| s.log()).unwrap_or_default()
    }

    /// The validation layer's messages other than its own start/stop notes.
    pub(crate) fn validation_complaints(&self) -> Vec<String> {
        let messages = std::fs::read_to_string(self.validation_log())
            .expect("the validation layer wrote its log");
        assert!(
            messages.contains("Core Validation Layer is initialized"),
            "the validation layer did not run: {messages}"
        );
        messages
            .lines()
            .filter(|l| l.starts_with('[') && !l.contains("VALID_DEBUG"))
            .map(str::to_owned)
            .collect()
    }
}

pub(crate) fn report(output: &Output) -> Value {
    serde_json::from_str(stdout(output).trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); status {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            stdout(output),
            stderr(output)
        )
    })
}

pub(crate) fn assert_clean_run(runtime: &Runtime, output: &Output, report: &Value) {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr:\n{}\nservice log:\n{}",
        output.status.code(),
        stderr(output),
        runtime.service_log()
    );
    assert_eq!(
        report["frames_waited"], report["frames_ended"],
        "every waited frame is ended: {report:#}"
    );
    assert_eq!(
        report["frames_waited"], report["frames_begun"],
        "{report:#}"
    );
    assert_eq!(report["wgpu_errors"], Value::Array(vec![]), "{report:#}");
    assert_eq!(
        runtime.validation_complaints(),
        Vec::<String>::new(),
        "validation layer messages"
    );
}

const LIFECYCLE: [&str; 10] = [
    "IDLE",
    "READY",
    "SYNCHRONIZED",
    "VISIBLE",
    "FOCUSED",
    "VISIBLE",
    "SYNCHRONIZED",
    "STOPPING",
    "IDLE",
    "EXITING",
];

#[test]
fn demo_submits_200_frames_on_monado_with_the_validation_layer_silent_and_exits_cleanly() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let runtime = Runtime::start(install);
    let output =
        run(&mut runtime.hologuide(&["--log", "info", "run", "--frames", "200", "--json"]));
    let report = report(&output);
    assert_clean_run(&runtime, &output, &report);
    assert!(
        report["frames_rendered"].as_u64().unwrap() >= 200,
        "{report:#}"
    );
    assert_eq!(report["blend_mode"], "OPAQUE", "Monado offers OPAQUE only");
    assert_eq!(report["eye_size"], serde_json::json!([320, 240]));
    assert!(
        report["runtime"].as_str().unwrap().starts_with("Monado"),
        "{report:#}"
    );
    assert_eq!(report["final_screen"], "step 1 of 10");
    assert_eq!(report["ended_because"], "frame or time limit reached");
    // The runtime accepted our bindings for every profile it knows (a refused suggestion is
    // logged and left out of this list).
    assert_eq!(
        report["interaction_profiles"],
        serde_json::json!([
            "/interaction_profiles/khr/simple_controller",
            "/interaction_profiles/oculus/touch_controller",
            "/interaction_profiles/valve/index_controller",
            "/interaction_profiles/ext/hand_interaction_ext"
        ]),
        "Monado offers XR_EXT_hand_interaction, not the Microsoft one"
    );

    // The session went through its whole lifecycle, and the log says so in the same order.
    let transitions: Vec<&str> = report["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(transitions, LIFECYCLE);
    let logged: Vec<String> = stderr(&output)
        .lines()
        .filter_map(|l| l.split_once("session state ").map(|(_, t)| t.to_owned()))
        .collect();
    let expected: Vec<String> = std::iter::once("UNKNOWN")
        .chain(LIFECYCLE)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|pair| format!("{} → {}", pair[0], pair[1]))
        .collect();
    assert_eq!(logged, expected, "{}", stderr(&output));
}

/// Golden images of captured eyes (640×480, the still headset). Tolerance: a pixel differs when
/// a channel is off by more than 24/255, and at most 0.5 % may differ. Why more than the
/// headless goldens' 0.3 %: hologram animations run on the runtime's predicted display times,
/// so a frame the runtime skipped on a busy machine moves the animated arrow a little at frame
/// N. A wrong step, a missing card or a wrong colour changes several percent (the step-3 test
/// checks that its picture is far from step 1's golden).
const CHANNEL_TOLERANCE: u8 = 24;
const MAX_DIFFERING_FRACTION: f64 = 0.005;
pub(crate) const CAPTURE_SIZE: &str = "640x480";

/// Fraction of pixels that differ beyond the channel tolerance.
pub(crate) fn differing_fraction(a: &image::RgbaImage, b: &image::RgbaImage) -> f64 {
    let differing = a
        .pixels()
        .zip(b.pixels())
        .filter(|(a, g)| (0..4).any(|c| a[c].abs_diff(g[c]) > CHANNEL_TOLERANCE))
        .count();
    differing as f64 / f64::from(a.width() * a.height())
}

pub(crate) fn golden(name: &str) -> image::RgbaImage {
    let path = repo().join("tests/golden").join(format!("{name}.png"));
    image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (create it with scripts/regenerate-goldens)",
                path.display()
            )
        })
        .into_rgba8()
}

fn check_capture_golden(name: &str, actual: &Path) {
    let actual = image::open(actual)
        .unwrap_or_else(|e| panic!("the capture {} is not a PNG: {e}", actual.display()))
        .into_rgba8();
    let path = repo().join("tests/golden").join(format!("{name}.png"));
    if std::env::var("HOLOGUIDE_REGENERATE_GOLDENS").as_deref() == Ok("1") {
        actual.save(&path).expect("writing the golden image");
        return;
    }
    let golden = golden(name);
    assert_eq!(golden.dimensions(), actual.dimensions(), "{name}: size");
    let fraction = differing_fraction(&actual, &golden);
    if fraction > MAX_DIFFERING_FRACTION {
        let dir = repo().join("target/golden-failures");
        let _ = std::fs::create_dir_all(&dir);
        let _ = actual.save(dir.join(format!("{name}.actual.png")));
        panic!(
            "{name}: {:.2} % of pixels differ (limit {:.1} %); actual image in {}",
            fraction * 100.0,
            MAX_DIFFERING_FRACTION * 100.0,
            dir.display()
        );
    }
}

/// Monado offers XR_KHR_composition_layer_depth and D32_SFLOAT: every projection view carried
/// its depth, and the depth the runtime got for the captured frame has the card in front of
/// the far plane (the clear value, 1.0) while the background stays at it.
fn assert_depth_was_submitted_and_shows_the_card(report: &Value, depth_png: &Path) {
    assert_eq!(report["depth_layer"], true, "{report:#}");
    assert_eq!(report["depth_format"], "Depth32Float", "{report:#}");
    assert_eq!(report["captured_depth"], depth_png.to_str().unwrap());
    let depth = image::open(depth_png)
        .unwrap_or_else(|e| panic!("{}: {e}", depth_png.display()))
        .into_luma16();
    // Where the golden capture (640×480) shows the card's text, and an empty corner.
    assert_eq!(depth.dimensions(), (640, 480));
    let card = depth.get_pixel(265, 285)[0];
    let corner = depth.get_pixel(20, 20)[0];
    assert!(
        card < u16::MAX,
        "the card is not in the depth image: {card}"
    );
    assert_eq!(
        corner,
        u16::MAX,
        "the empty background is not at the far plane"
    );
    // Card and pump cover about a tenth of the eye.
    let drawn = depth.pixels().filter(|p| p[0] < u16::MAX).count() as f64 / (640.0 * 480.0);
    assert!(
        (0.03..0.5).contains(&drawn),
        "{drawn:.3} of the eye has depth"
    );
}

#[test]
fn the_captured_left_eye_shows_the_demo_step_card_the_runtime_received() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let runtime = Runtime::start_still(install);
    let capture = runtime.dir.path().join("eye.png");
    let output = run(&mut runtime.hologuide(&[
        "run",
        "--eye-size",
        CAPTURE_SIZE,
        "--frames",
        "30",
        "--capture-frame",
        "25",
        "--out",
        capture.to_str().unwrap(),
        "--json",
    ]));
    let report = report(&output);
    assert_clean_run(&runtime, &output, &report);
    assert_eq!(report["captured"], capture.to_str().unwrap());
    check_capture_golden("openxr-demo-step-01-left-eye", &capture);
    assert_depth_was_submitted_and_shows_the_card(
        &report,
        &runtime.dir.path().join("eye-depth.png"),
    );
    // The qwerty driver's controllers took our simple-controller bindings, and the right
    // hand's aim pose (the ray that presses card buttons) was tracked while rendering.
    let active = report["active_profiles"].as_array().unwrap();
    assert!(
        active
            .iter()
            .any(|p| p == "/user/hand/right: /interaction_profiles/khr/simple_controller"),
        "{report:#}"
    );
    assert!(
        report["frames_with_aim"].as_u64().unwrap() > 0,
        "{report:#}"
    );
}

#[test]
fn scripted_input_advances_the_demo_to_step_3_and_the_captured_frame_shows_it() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let runtime = Runtime::start_still(install);
    let script = runtime.dir.path().join("input.txt");
    std::fs::write(&script, "# two presses of Next\n5 next\n10 next\n").unwrap();
    let capture = runtime.dir.path().join("eye.png");
    let output = run(&mut runtime.hologuide(&[
        "--log",
        "info",
        "run",
        "--eye-size",
        CAPTURE_SIZE,
        "--input-script",
        script.to_str().unwrap(),
        "--frames",
        "30",
        "--capture-frame",
        "25",
        "--out",
        capture.to_str().unwrap(),
        "--json",
    ]));
    let report = report(&output);
    assert_clean_run(&runtime, &output, &report);
    assert_eq!(report["final_screen"], "step 3 of 10", "{report:#}");
    assert!(
        stderr(&output).contains("now on step 3 of 10"),
        "{}",
        stderr(&output)
    );
    check_capture_golden("openxr-demo-step-03-left-eye", &capture);
    if std::env::var("HOLOGUIDE_REGENERATE_GOLDENS").as_deref() != Ok("1") {
        let step_1 = golden("openxr-demo-step-01-left-eye");
        let step_3 = image::open(&capture).unwrap().into_rgba8();
        let apart = differing_fraction(&step_3, &step_1);
        assert!(
            apart > 4.0 * MAX_DIFFERING_FRACTION,
            "step 3 must look clearly unlike step 1 for the golden to mean anything: {:.2} %",
            apart * 100.0
        );
    }
}

#[test]
fn a_user_runs_the_same_command_and_it_reaches_monado_through_the_tree_by_itself() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let runtime = Runtime::start(install);
    // The plain binary, as a user types it: not started through the tree's loader. It ends
    // when the input script says `exit`, as a user quitting would.
    let script = runtime.dir.path().join("exit.txt");
    std::fs::write(&script, "20 exit\n").unwrap();
    let guide = repo().join("assets/demo");
    let output = run(hologuide()
        .args(["run", guide.to_str().unwrap(), "--json", "--input-script"])
        .arg(&script)
        .env("XDG_RUNTIME_DIR", runtime.dir.path())
        .env_remove(hologuide::platform::monado::INSIDE_TREE_ENV));
    let report = report(&output);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(report["ended_because"], "exit asked by input", "{report:#}");
    assert!(
        report["frames_rendered"].as_u64().unwrap() >= 20,
        "{report:#}"
    );
    assert!(report["runtime"].as_str().unwrap().starts_with("Monado"));
}

#[test]
fn without_a_running_runtime_run_says_so_in_one_line_and_fails() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let empty = runtime_dir();
    // As a user types it: the CLI sees Monado installed but no service socket.
    let started = Instant::now();
    let output = run(hologuide()
        .args(["run", "--frames", "5"])
        .env("XDG_RUNTIME_DIR", empty.path())
        .env_remove(hologuide::platform::monado::INSIDE_TREE_ENV));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    assert!(
        message.contains("no OpenXR runtime is running"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // Inside the tree (as the re-executed child would be): the runtime itself refuses.
    let output = run(install
        .client_command(
            Path::new(env!("CARGO_BIN_EXE_hologuide")),
            empty.path(),
            None,
        )
        .args(["run", "--frames", "5"]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("no OpenXR runtime answered"), "{message}");
}
