//! The virtual camera (issue 16, X2, X3): the demo's room — its sticker on the pump's
//! nameplate — seen from a scripted head headless, from Monado's head on OpenXR, and by
//! `qr watch`; the anchor found from the sticker's corners, the demo's holograms standing on it.

use std::path::{Path, PathBuf};

use glam::Vec3;
use serde_json::Value;

use crate::camera::demo_link;
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

/// A room file in `dir` holding `sticker` alone.
fn room_with(dir: &Path, sticker: Value) -> PathBuf {
    let room = dir.join("room.json");
    std::fs::write(
        &room,
        serde_json::json!({ "stickers": [sticker] }).to_string(),
    )
    .unwrap();
    room
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
    assert_eq!(report["final_screen"], "step 1 of 10");
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
/// the demo's step-3 sticker where that head looks opens the demo at step 3. The room's floor
/// is the app world's floor whatever space the runtime gives (LOCAL here: the world's origin
/// goes a standing eye height below the head), so the sticker hangs at eye height, 1.6 m.
#[test]
fn on_monado_the_virtual_camera_sees_a_sticker_in_front_of_the_head_and_it_opens_its_step() {
    let Some(install) = crate::openxr_runtime::monado_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let room = room_with(
        dir.path(),
        serde_json::json!({ "payload": demo_link(3), "size_mm": 60, "position": [0.0, 1.6, -0.35] }),
    );
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
    assert_eq!(report["final_screen"], "step 3 of 10", "{report:#}");
}

/// On Monado (validation layer on) an input script walks the runtime's head to a sticker:
/// the remote driver's head first looks straight ahead at a bare wall, and only once the
/// session is focused turns right and steps towards the sticker on the wall to its right; the
/// virtual camera, following the runtime's head, then sees it and the demo opens at its step.
/// The sticker hangs at eye height, 1.6 m above the world's floor.
#[test]
fn on_monado_a_scripted_walk_of_the_head_to_the_sticker_opens_its_step() {
    use std::io::BufRead;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use glam::Quat;

    let Some(install) = crate::openxr_runtime::monado_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // To the right of where the head starts, facing it (its face towards −X).
    let room = room_with(
        dir.path(),
        serde_json::json!({ "payload": demo_link(4), "size_mm": 60, "position": [0.7, 1.6, 0.0],
                            "rotation_deg": [0, -90, 0] }),
    );
    let (runtime, port) = crate::openxr_frames::Runtime::start_remote(install);
    let mut head = crate::monado_remote::ScriptedHead::connect(port);
    let start = Vec3::new(0.0, 1.6, 0.0);
    head.set(start, Quat::IDENTITY);

    let mut app = runtime
        .hologuide(&[
            "--log",
            "info",
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
        .arg(&room)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hologuide starts");
    let (focused_tx, focused_rx) = mpsc::channel();
    let app_stderr = app.stderr.take().unwrap();
    let log_reader = std::thread::spawn(move || {
        let mut log = String::new();
        for line in std::io::BufReader::new(app_stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("→ FOCUSED") {
                let _ = focused_tx.send(());
            }
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    // Ahead for a second of focused frames, then a quarter turn right and 0.3 m towards the
    // sticker over two seconds, then still.
    let focused = focused_rx.recv_timeout(Duration::from_secs(60)).is_ok();
    if focused {
        std::thread::sleep(Duration::from_secs(1));
        let walk = Duration::from_secs(2);
        let began = Instant::now();
        loop {
            let t = (began.elapsed().as_secs_f32() / walk.as_secs_f32()).min(1.0);
            let position = start + Vec3::new(0.3 * t, 0.0, 0.0);
            head.set(
                position,
                Quat::from_rotation_y(-std::f32::consts::FRAC_PI_2 * t),
            );
            if t >= 1.0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let output = app.wait_with_output().expect("hologuide ends");
    let log = log_reader.join().unwrap();
    assert!(focused, "the session never became focused:\n{log}");
    let output = std::process::Output {
        stderr: log.into_bytes(),
        ..output
    };
    let report = crate::openxr_frames::report(&output);
    crate::openxr_frames::assert_clean_run(&runtime, &output, &report);
    assert_eq!(report["final_screen"], "step 4 of 10", "{report:#}");
    // Opened by the sticker, not before the walk: the first screen was not the step.
    assert_ne!(report["first_screen"], "step 4 of 10", "{report:#}");
    // Opened by the sticker once the head had turned (a second of frames at 20 Hz went by
    // looking ahead first).
    let opened = report["screens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["screen"] == "step 4 of 10")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(opened["cause"], "QR sticker", "{report:#}");
    assert!(opened["frame"].as_u64().unwrap() >= 15, "{report:#}");
}
