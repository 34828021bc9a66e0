//! QR stickers seen by a camera (issue 16, X2, F7): `run --backend headless --camera files:DIR`
//! with photos written here by the `qrcode` crate, and `qr watch --camera files:DIR --json`.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// The demo guide's own link at `step`, as its sticker would hold it.
pub(crate) fn demo_link(step: u32) -> String {
    let demo = hologuide::demo::load().expect("the demo guide");
    format!(
        "hologuide://{}/g/{}/s/{step}",
        demo.guide.organisation, demo.guide.id
    )
}

/// The demo run headless for `frames` frames with the photos in `dir` as its camera, at info
/// level so the log can be counted.
fn headless_with_camera(dir: &Path, frames: &str) -> std::process::Output {
    run(hologuide()
        .env("RUST_LOG", "info")
        .args(["run", "--backend", "headless", "--size", "160x100"])
        .args(["--frames", frames, "--json", "--camera"])
        .arg(format!("files:{}", dir.display())))
}

fn report_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", stderr(output));
    let text = stdout(output);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_photo_of_the_demos_step_3_sticker_opens_the_demo_at_step_3_headless() {
    let dir = tempfile::tempdir().unwrap();
    write_code_png(&dir.path().join("sticker.png"), &demo_link(3));
    let output = headless_with_camera(dir.path(), "300");
    let report = report_of(&output);
    assert_eq!(report["final_screen"], "step 3 of 10", "{report:#}");
    let by_sticker: Vec<&Value> = report["screens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["cause"] == "QR sticker")
        .collect();
    assert_eq!(
        by_sticker.len(),
        1,
        "once, though seen every frame: {report:#}"
    );
    assert_eq!(by_sticker[0]["screen"], "step 3 of 10");
}

#[test]
fn a_garbage_sticker_opens_nothing_and_is_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    write_code_png(
        &dir.path().join("wifi.png"),
        "WIFI:T:WPA;S:factory-floor;P:hunter2;;",
    );
    let output = headless_with_camera(dir.path(), "300");
    let report = report_of(&output);
    assert_eq!(
        report["codes_ignored"],
        serde_json::json!(["a Wi-Fi configuration"])
    );
    assert_eq!(report["final_screen"], "step 1 of 10");
    assert_eq!(report["screens"].as_array().unwrap().len(), 1, "{report:#}");
    let log = stderr(&output);
    assert_eq!(
        log.matches("QR code ignored").count(),
        1,
        "one log line: {log}"
    );
}

#[test]
fn a_camera_that_is_not_one_is_refused_with_a_readable_error() {
    let output = run(hologuide().args([
        "run",
        "--backend",
        "headless",
        "--frames",
        "1",
        "--camera",
        "webcam",
    ]));
    assert!(!output.status.success());
    let log = stderr(&output);
    assert!(
        log.contains(
            "'webcam' is not a camera (expected virtual[:OPTIONS], files:DIR or v4l2:DEVICE)"
        ),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn qr_watch_prints_each_code_seen_with_what_the_app_would_do_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    write_code_png(&dir.path().join("a-sticker.png"), &demo_link(3));
    write_code_png(
        &dir.path().join("b-careers.png"),
        "https://example.com/careers",
    );
    let output = run(hologuide()
        .args(["qr", "watch", "--frames", "3", "--json", "--camera"])
        .arg(format!("files:{}", dir.path().display())));
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = json_lines(&stdout(&output));
    let seen: Vec<(u64, Value, Value)> = lines
        .iter()
        .map(|l| {
            (
                l["frame"].as_u64().unwrap(),
                l["opens"].clone(),
                l["ignored"].clone(),
            )
        })
        .collect();
    let link = Value::from(demo_link(3));
    let ignored = Value::from("a https address that is not a guide link");
    assert_eq!(
        seen,
        [
            (1, link.clone(), Value::Null),
            (2, Value::Null, ignored),
            (3, link, Value::Null),
        ],
        "looped in name order"
    );
    assert_eq!(lines[1]["text"], "https://example.com/careers");
    assert_eq!(lines[1]["corners"].as_array().map(Vec::len), Some(4));
    assert!(lines[1]["captured_ms"].as_f64().unwrap() > 30.0);
}

/// The same photo through the other two shells: the window (Xvfb) and OpenXR (Monado, the
/// validation layer on); the sighting enters the one driver either way.
#[test]
fn a_photo_of_the_demos_step_3_sticker_opens_step_3_in_the_window_and_on_openxr() {
    let dir = tempfile::tempdir().unwrap();
    write_code_png(&dir.path().join("sticker.png"), &demo_link(3));
    let camera = format!("files:{}", dir.path().display());

    let x = Xvfb::start();
    let window = run(hologuide()
        .env("DISPLAY", &x.display)
        .args(["run", "--backend", "window", "--size", "160x100"])
        .args(["--frames", "120", "--json", "--camera", &camera]));
    assert!(window.status.success(), "{}", stderr(&window));
    let by_sticker: Vec<Value> = json_lines(&stdout(&window))
        .into_iter()
        .filter(|l| l["cause"] == "QR sticker")
        .collect();
    assert_eq!(by_sticker.len(), 1, "window: {}", stdout(&window));
    assert_eq!(by_sticker[0]["step_number"], 3);

    let Some(install) = crate::openxr_runtime::monado_or_skip() else {
        return;
    };
    let runtime = crate::openxr_frames::Runtime::start_still(install);
    let output = run(&mut runtime.hologuide(&[
        "run",
        "--eye-size",
        "160x120",
        "--frames",
        "120",
        "--json",
        "--camera",
        &camera,
    ]));
    let report = crate::openxr_frames::report(&output);
    crate::openxr_frames::assert_clean_run(&runtime, &output, &report);
    assert_eq!(report["final_screen"], "step 3 of 10", "{report:#}");
}
