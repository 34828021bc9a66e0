//! One app, many shells: the same scripted input shows the same screens, at the same frames,
//! with the same All list, on the OpenXR runtime (Monado), in the desktop window (Xvfb) and
//! headless — the guide app is the one driver every shell feeds.

use serde_json::Value;

use crate::openxr_frames::{Runtime, assert_clean_run, report};
use crate::openxr_runtime::monado_or_skip;
use crate::support::*;

/// Next twice, the All list opened and closed, Back, a jump, an answer (N6: the demo's step 5
/// asks whether the old cartridge is intact), Restart; 30 frames in all.
const SCRIPT: &str =
    "3 next\n6 next\n9 menu\n12 menu\n15 back\n18 step 5\n19 answer 1\n21 restart\n";
const FRAMES: &str = "30";

/// (frame, screen, cause) of each screen shown, from a report's `screens`.
fn screens_of(report: &Value) -> Vec<(u64, String, String)> {
    report["screens"]
        .as_array()
        .unwrap_or_else(|| panic!("no screens in {report:#}"))
        .iter()
        .map(|s| {
            (
                s["frame"].as_u64().expect("a frame number"),
                s["screen"].as_str().expect("a screen").to_owned(),
                s["cause"].as_str().expect("a cause").to_owned(),
            )
        })
        .collect()
}

fn all_lists_of(report: &Value) -> Vec<Value> {
    report["all_lists"].as_array().cloned().unwrap_or_default()
}

/// The same from the window's JSON lines (one per screen shown and per All list).
fn window_screens(lines: &[Value]) -> (Vec<(u64, String, String)>, Vec<Value>) {
    let screens = lines
        .iter()
        .filter(|l| l.get("cause").is_some())
        .map(|l| {
            let screen = match l["screen"].as_str() {
                Some("complete") => "complete".to_owned(),
                _ => format!("step {} of {}", l["step_number"], l["step_count"]),
            };
            let frame = l["frame"].as_u64().expect("a frame number");
            (frame, screen, l["cause"].as_str().unwrap().to_owned())
        })
        .collect();
    let lists = lines
        .iter()
        .filter_map(|l| l.get("all_list").cloned())
        .collect();
    (screens, lists)
}

/// `hologuide run --backend BACKEND` of the demo with the script, 30 frames, `--json`.
fn scripted(backend: &str, script: &str) -> std::process::Command {
    let mut command = hologuide();
    command.args([
        "run",
        "--backend",
        backend,
        "--size",
        "160x100",
        "--frames",
        FRAMES,
    ]);
    command.args(["--input-script", script, "--json"]);
    command
}

#[test]
fn the_three_shells_show_the_same_screens_at_the_same_frames_for_the_same_script() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("input.txt");
    std::fs::write(&script, SCRIPT).unwrap();
    let script = script.to_str().unwrap();

    let headless = run(&mut scripted("headless", script));
    assert!(headless.status.success(), "{}", stderr(&headless));
    let headless = report(&headless);

    let runtime = Runtime::start_still(install);
    let openxr = run(&mut runtime.hologuide(&[
        "run",
        "--eye-size",
        "160x120",
        "--frames",
        FRAMES,
        "--input-script",
        script,
        "--json",
    ]));
    let openxr_report = report(&openxr);
    assert_clean_run(&runtime, &openxr, &openxr_report);

    let x = Xvfb::start();
    let window = run(scripted("window", script).env("DISPLAY", &x.display));
    assert!(window.status.success(), "{}", stderr(&window));
    let (window_shown, window_lists) = window_screens(&json_lines(&stdout(&window)));

    let expected: Vec<(u64, String, String)> = [
        (1, "step 1 of 10", "start"),
        (3, "step 2 of 10", "script"),
        (6, "step 3 of 10", "script"),
        (15, "step 2 of 10", "script"),
        (18, "step 5 of 10", "script"),
        (21, "step 1 of 10", "script"),
    ]
    .into_iter()
    .map(|(f, s, c)| (f, s.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(screens_of(&headless), expected, "headless: {headless:#}");
    assert_eq!(
        screens_of(&openxr_report),
        expected,
        "OpenXR: {openxr_report:#}"
    );
    assert_eq!(window_shown, expected, "window");
    // F3 without an account: the exact empty text, once, everywhere.
    let empty = vec![Value::from(vec!["No guides are available offline."])];
    assert_eq!(all_lists_of(&headless), empty);
    assert_eq!(all_lists_of(&openxr_report), empty);
    assert_eq!(window_lists, empty);
    assert_eq!(headless["final_screen"], "step 1 of 10");
    assert_eq!(openxr_report["final_screen"], "step 1 of 10");
    // N6: the same answer, from the same line, in every shell.
    let answered = Value::from(vec!["pull-cartridge: Intact (script)"]);
    assert_eq!(headless["answers"], answered, "headless: {headless:#}");
    assert_eq!(
        openxr_report["answers"], answered,
        "OpenXR: {openxr_report:#}"
    );
    let window_answers: Vec<Value> = json_lines(&stdout(&window))
        .into_iter()
        .filter_map(|l| l.get("answer").cloned())
        .collect();
    assert_eq!(Value::from(window_answers), answered, "window");
}

#[test]
fn run_backend_auto_without_runtime_or_display_goes_headless_in_one_line() {
    let no_runtime = tempfile::tempdir().expect("temp dir");
    let output = run(hologuide()
        .env_remove("DISPLAY")
        .env_remove("XR_RUNTIME_JSON")
        // An empty runtime folder: no monado-service of a developer's can answer.
        .env("XDG_RUNTIME_DIR", no_runtime.path())
        .args([
            "run",
            "--backend",
            "auto",
            "--size",
            "160x100",
            "--frames",
            "3",
            "--json",
        ]));
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("backend: ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].starts_with("backend: headless ("), "{err}");
    assert!(lines[0].contains("OpenXR runtime"), "{err}");
    assert!(lines[0].contains("no display: DISPLAY is not set"), "{err}");
    let report: Value = serde_json::from_str(stdout(&output).trim()).expect("one JSON report");
    assert_eq!(report["frames"], 3);
    assert_eq!(report["final_screen"], "step 1 of 10");
}
