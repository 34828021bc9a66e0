//! The virtual camera (issue 16, X2, X3): the demo's room — its sticker on the pump's
//! nameplate — seen from a scripted head headless, from Monado's head on OpenXR, and by
//! `qr watch`; the anchor found from the sticker's corners, the demo's holograms standing on it.

use std::path::{Path, PathBuf};

use glam::Vec3;
use serde_json::Value;

use crate::support::*;

/// Where the demo's room (`assets/demo/room.json`) hangs the nameplate sticker.
const NAMEPLATE: Vec3 = Vec3::new(0.0, 1.1, -0.7);

fn demo_asset(name: &str) -> PathBuf {
    repo().join("assets/demo").join(name)
}

/// The demo headless with the virtual camera at 5 Hz (every 12th frame of the fixed 60 Hz
/// clock, in step with it), the head walking up to the pump by the demo's poses file.
fn walk_to_the_pump(frames: u32, capture: &Path) -> std::process::Output {
    run(hologuide()
        .args([
            "run",
            "--backend",
            "headless",
            "--size",
            "320x200",
            "--json",
        ])
        .args(["--camera", "virtual:rate=5", "--poses"])
        .arg(demo_asset("poses.txt"))
        .args(["--frames", &frames.to_string()])
        .args(["--capture-frame", &frames.to_string(), "--out"])
        .arg(capture))
}

fn report_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", stderr(output));
    let text = stdout(output);
    let line = text
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// "nameplate at frame 37, (-0.000, 1.100, -0.699) m" → the position.
fn found_at(line: &str) -> Vec3 {
    let inside = line
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(numbers, _)| numbers)
        .unwrap_or_else(|| panic!("no position in {line:?}"));
    let v: Vec<f32> = inside
        .split(',')
        .map(|n| n.trim().parse().expect("a number"))
        .collect();
    Vec3::new(v[0], v[1], v[2])
}

fn image(path: &Path) -> image::RgbaImage {
    image::open(path).expect("the captured PNG").to_rgba8()
}

#[test]
fn walking_up_to_the_pump_finds_the_nameplate_sticker_and_the_holograms_stand_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("anchored.png");
    let report = report_of(&walk_to_the_pump(130, &capture));
    let found = report["anchors_found"]
        .as_array()
        .expect("anchors_found")
        .clone();
    assert_eq!(found.len(), 1, "{report:#}");
    let line = found[0].as_str().unwrap();
    assert!(line.starts_with("nameplate at frame "), "{line}");
    let error_mm = found_at(line).distance(NAMEPLATE) * 1000.0;
    assert!(error_mm < 5.0, "{line}: {error_mm:.1} mm from the sticker");
    assert_eq!(report["final_screen"], "step 1 of 9");
    // The pump, the arrow over the nameplate, the card: as the golden, checked by eye.
    crate::render_golden::check_golden(
        "virtual-camera-holograms-on-the-nameplate",
        &image(&capture),
    );
}

#[test]
fn before_the_sticker_is_seen_the_holograms_wait_and_the_card_says_where_to_look() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("waiting.png");
    let report = report_of(&walk_to_the_pump(20, &capture));
    assert_eq!(report["anchors_found"], Value::Array(Vec::new()));
    // No hologram yet; under the card: "Look at the sticker: QR sticker on the motor's
    // nameplate, front of the pump".
    crate::render_golden::check_golden("virtual-camera-look-at-the-sticker", &image(&capture));
}

#[test]
fn qr_watch_on_the_virtual_camera_prints_the_stickers_pose_in_the_world() {
    let output = run(hologuide()
        .args(["qr", "watch", "--camera", "virtual", "--size-mm", "50"])
        .args(["--frames", "61", "--json", "--poses"])
        .arg(demo_asset("poses.txt")));
    assert!(output.status.success(), "{}", stderr(&output));
    let lines = json_lines(&stdout(&output));
    let last = lines
        .iter()
        .rev()
        .find(|l| {
            l["text"]
                .as_str()
                .is_some_and(|t| t.contains("anchor=nameplate"))
        })
        .unwrap_or_else(|| panic!("the nameplate never seen: {lines:?}"));
    assert_eq!(last["frame"], 61);
    let at: Vec<f32> = last["pose"]["in_world"]["position"]
        .as_array()
        .expect("a world position")
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let error_mm = Vec3::new(at[0], at[1], at[2]).distance(NAMEPLATE) * 1000.0;
    assert!(error_mm < 5.0, "{last}: {error_mm:.1} mm off");
}

#[test]
fn a_room_file_that_is_not_one_is_refused_with_a_readable_error() {
    let dir = tempfile::tempdir().unwrap();
    let room = dir.path().join("room.json");
    std::fs::write(
        &room,
        r#"{"stickers": [{"payload": "x", "size_mm": -5, "position": [0, 1, -1]}]}"#,
    )
    .unwrap();
    let output = run(hologuide()
        .args(["run", "--backend", "headless", "--frames", "1"])
        .args(["--camera", "virtual", "--room"])
        .arg(&room));
    assert!(!output.status.success());
    let log = stderr(&output);
    assert!(
        log.contains("sticker 1: size -5 mm is not between 1 and 2000"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

/// On Monado (validation layer on) the virtual camera follows the runtime's head: a room with
/// the demo's step-3 sticker where that head looks opens the demo at step 3. The sticker hangs
/// at eye height both for a LOCAL space (eyes at y = 0) and a STAGE space (eyes at 1.6 m).
#[test]
fn on_monado_the_virtual_camera_sees_a_sticker_in_front_of_the_head_and_it_opens_its_step() {
    let Some(install) = crate::openxr_runtime::monado_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let link = format!(
        "hologuide://{}/g/{}/s/3",
        hologuide::demo::ORGANISATION,
        hologuide::demo::GUIDE_ID
    );
    let room = dir.path().join("room.json");
    let sticker =
        |y: f32| serde_json::json!({ "payload": link, "size_mm": 60, "position": [0.0, y, -0.35] });
    std::fs::write(
        &room,
        serde_json::json!({ "stickers": [sticker(0.0), sticker(1.6)] }).to_string(),
    )
    .unwrap();
    let runtime = crate::openxr_frames::Runtime::start_still(install);
    let output = run(runtime
        .hologuide(&[
            "run",
            "--eye-size",
            "160x120",
            "--frames",
            "200",
            "--json",
            "--camera",
            "virtual:size=640x360",
            "--room",
        ])
        .arg(&room));
    let report = crate::openxr_frames::report(&output);
    crate::openxr_frames::assert_clean_run(&runtime, &output, &report);
    assert_eq!(report["final_screen"], "step 3 of 9", "{report:#}");
}
