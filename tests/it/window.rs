//! The desktop window backend on a virtual X display (Xvfb): what it shows is compared with the
//! headless goldens, and real X input events (xdotool through XTEST: key presses, pointer
//! motion and clicks, as a person's) move through the guide.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::render_golden::assert_matches_golden;
use crate::support::*;

/// The window's size: the goldens' size, so its pictures compare with them.
const SIZE: &str = "800x500";
/// lavapipe draws a few frames a second on 2 shared cores; a step shot needs 48 frames.
const PATIENCE: Duration = Duration::from_secs(120);

fn start_window(x: &Xvfb, shots: &Path, extra: &[&str]) -> Child {
    hologuide()
        .env("DISPLAY", &x.display)
        .args([
            "demo",
            "--backend",
            "window",
            "--size",
            SIZE,
            "--fixed-clock",
            "--json",
        ])
        .arg("--shots")
        .arg(shots)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hologuide starts")
}

fn wait_for_file(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + PATIENCE;
    while !path.is_file() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the window exited ({status}) before writing {}",
                path.display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The PNG is written in one go but may be caught half-way: wait until it decodes.
    while image::open(path).is_err() {
        assert!(Instant::now() < deadline, "{} unreadable", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn focused_window(x: &Xvfb, title: &str, child: &mut Child) -> String {
    let deadline = Instant::now() + PATIENCE;
    let id = loop {
        if let Some(id) = x.wait_for_window(title, Duration::from_millis(500)) {
            break id;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use std::io::Read;
                let _ = pipe.read_to_string(&mut err);
            }
            panic!("the window exited ({status}) before showing {title:?}: {err}");
        }
        assert!(Instant::now() < deadline, "no window titled {title:?}");
    };
    // No window manager on Xvfb: give the window the keyboard focus ourselves.
    x.xdotool(&["windowfocus", "--sync", &id]).expect("focus");
    id
}

/// A key press and release (XTEST, as from a keyboard) in the window. The focus is given again
/// first: without a window manager nothing else keeps it there.
fn press(x: &Xvfb, id: &str, key: &str) {
    x.xdotool(&["windowfocus", "--sync", id]).expect("focus");
    x.xdotool(&["key", key]).expect("key");
}

fn wait_for_title(x: &Xvfb, id: &str, part: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let title = x.xdotool(&["getwindowname", id]).unwrap_or_default();
        if title.contains(part) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "title stayed {title:?}, expected {part:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn quit(x: &Xvfb, child: Child) -> std::process::Output {
    x.xdotool(&["key", "Escape"]).expect("xdotool key");
    let output = child.wait_with_output().expect("hologuide ends");
    assert!(output.status.success(), "{}", stderr(&output));
    output
}

pub(crate) fn window_origin(x: &Xvfb, id: &str) -> (i64, i64) {
    let shell = x
        .xdotool(&["getwindowgeometry", "--shell", id])
        .expect("geometry");
    let get = |key: &str| {
        shell
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {shell}"))
    };
    (get("X="), get("Y="))
}

/// Where the centre of a card button is in the window: the same scene the window draws at rest
/// (the standing operator, the card placed at once), projected with the window's camera.
fn button_in_window(step: u32, action: hologuide::scene::ButtonAction) -> (i64, i64) {
    use std::num::NonZeroU32;
    use std::sync::Arc;

    use glam::{Mat4, Vec2};
    use hologuide::app::{App, GuideSource};
    use hologuide::scene::{CardFollower, Frame, SceneInput};
    use hologuide::xr::window::{FOV_Y_DEG, FlyCamera, button_centre_px};

    let package = hologuide::demo::load().expect("demo");
    let app = App::open(
        Arc::new(package.guide),
        GuideSource::Demo,
        NonZeroU32::new(step),
    );
    let view = app.view();
    let head = FlyCamera::standing_operator().pose();
    let input = SceneInput {
        view: &view,
        online: true,
        all_list: None,
        status: None,
        prompt: None,
        head,
        anchors: &[],
        anchors_tracked: false,
        step_time_s: 0.0,
    };
    let frame = Frame::build(&input, &mut CardFollower::default(), 0.0);
    let size = Vec2::new(800.0, 500.0);
    let projection = Mat4::perspective_rh(FOV_Y_DEG.to_radians(), size.x / size.y, 0.05, 100.0);
    let at = button_centre_px(
        &frame,
        projection * head.to_matrix().inverse(),
        size,
        action,
    )
    .expect("button in view");
    (at.x.round() as i64, at.y.round() as i64)
}

#[test]
fn window_shows_the_step_card_as_the_headless_backend_draws_it() {
    let x = Xvfb::start();
    let shots = tempfile::tempdir().expect("temp dir");
    let mut child = start_window(&x, shots.path(), &[]);
    let id = focused_window(&x, "step 1 of 10", &mut child);
    let shot = shots.path().join("step-01.png");
    wait_for_file(&shot, &mut child);
    let screen = x.screenshot();
    let (left, top) = window_origin(&x, &id);
    let output = quit(&x, child);

    // What the renderer drew, read back from the window's frame: the headless golden.
    let drawn = image::open(&shot).expect("shot").into_rgba8();
    assert_matches_golden("demo-step-01", &drawn);

    // What X shows: the same card on screen (the region of the card, which stands still;
    // the holograms beside it animate between the shot and the screenshot).
    let (card_x, card_y, card_w, card_h) = (185u32, 155u32, 250u32, 185u32);
    let mut worst = 0u8;
    let mut differing = 0usize;
    for y in card_y..card_y + card_h {
        for xx in card_x..card_x + card_w {
            let on_screen = screen.get_pixel(left as u32 + xx, top as u32 + y);
            let in_shot = drawn.get_pixel(xx, y);
            let d = (0..3)
                .map(|c| on_screen[c].abs_diff(in_shot[c]))
                .max()
                .unwrap_or(0);
            worst = worst.max(d);
            differing += usize::from(d > 2);
        }
    }
    // The blit copies pixels exactly and X stores 8 bits per channel: nothing may differ.
    assert_eq!(
        differing, 0,
        "{differing} card pixels differ on screen (worst {worst})"
    );

    let title_line: Value =
        serde_json::from_str(stdout(&output).lines().next().expect("a line")).expect("JSON");
    assert_eq!(title_line["step_number"], 1);
    assert_eq!(title_line["cause"], "start");
}

#[test]
fn keys_and_clicks_on_the_card_buttons_move_through_the_steps() {
    use hologuide::scene::ButtonAction;
    let x = Xvfb::start();
    let shots = tempfile::tempdir().expect("temp dir");
    let mut child = start_window(&x, shots.path(), &[]);
    let id = focused_window(&x, "step 1 of 10", &mut child);
    let (left, top) = window_origin(&x, &id);
    let click = |step: u32, action: ButtonAction| {
        let (bx, by) = button_in_window(step, action);
        let (sx, sy) = ((left + bx).to_string(), (top + by).to_string());
        x.xdotool(&["mousemove", "--sync", &sx, &sy])
            .expect("mousemove");
        x.xdotool(&["click", "1"]).expect("click");
    };

    press(&x, &id, "n");
    wait_for_title(&x, &id, "step 2 of 10");
    click(2, ButtonAction::Next);
    wait_for_title(&x, &id, "step 3 of 10");
    // The picture of step 3, taken 0.8 s after the click: the headless golden of step 3.
    let shot = shots.path().join("step-03.png");
    wait_for_file(&shot, &mut child);
    assert_matches_golden(
        "demo-step-03",
        &image::open(&shot).expect("shot").into_rgba8(),
    );
    press(&x, &id, "b");
    wait_for_title(&x, &id, "step 2 of 10");
    click(2, ButtonAction::Back);
    wait_for_title(&x, &id, "step 1 of 10");
    // Back on the first step is drawn disabled: clicking it changes nothing.
    click(1, ButtonAction::Back);
    press(&x, &id, "Right");
    wait_for_title(&x, &id, "step 2 of 10");
    // O: the network is "lost" — the Offline banner. Back on step 1 the picture is the
    // headless golden of step 1 offline.
    let first = shots.path().join("step-01.png");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let before = modified(&first);
    press(&x, &id, "o");
    press(&x, &id, "Left");
    wait_for_title(&x, &id, "step 1 of 10");
    let deadline = Instant::now() + PATIENCE;
    while modified(&first) == before {
        assert!(Instant::now() < deadline, "step 1 was not pictured again");
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for_file(&first, &mut child);
    assert_matches_golden(
        "offline-banner-on",
        &image::open(&first).expect("shot").into_rgba8(),
    );
    let output = quit(&x, child);

    let lines: Vec<Value> = json_lines(&stdout(&output));
    let steps: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["step_number"].as_u64())
        .collect();
    let causes: Vec<&str> = lines.iter().filter_map(|l| l["cause"].as_str()).collect();
    assert_eq!(steps, [1, 2, 3, 2, 1, 2, 1]);
    assert!(
        lines.iter().any(|l| l["online"] == false),
        "no offline line: {lines:?}"
    );
    assert_eq!(
        causes,
        [
            "start",
            "key N",
            "click Next",
            "key B",
            "click Back",
            "key Right",
            "key Left"
        ]
    );
}

#[test]
fn window_backend_on_a_display_that_does_not_exist_says_so_without_panicking() {
    let output = run(hologuide().env("DISPLAY", ":59999").args([
        "demo",
        "--backend",
        "window",
        "--exit-after-frames",
        "1",
    ]));
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr(&output);
    assert!(stderr.contains("no window can be opened"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn demo_auto_with_a_display_that_does_not_answer_falls_back_to_headless_in_one_line() {
    let no_runtime = tempfile::tempdir().expect("temp dir");
    let out = tempfile::tempdir().expect("temp dir");
    let output = run(hologuide()
        .env("DISPLAY", ":59999")
        .env_remove("XR_RUNTIME_JSON")
        // An empty runtime folder: no monado-service of a developer's can answer.
        .env("XDG_RUNTIME_DIR", no_runtime.path())
        .args(["demo", "--size", "160x100", "--out"])
        .arg(out.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    let stderr = stderr(&output);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("backend: headless"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("OpenXR runtime"), "{line}");
    assert!(line.contains("the window did not open"), "{line}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("backend: "))
            .count(),
        1,
        "{stderr}"
    );
    assert!(out.path().join("step-09.png").is_file());
}

#[test]
fn demo_auto_with_a_display_opens_the_window() {
    let no_runtime = tempfile::tempdir().expect("temp dir");
    let x = Xvfb::start();
    let output = run(hologuide()
        .env("DISPLAY", &x.display)
        .env_remove("XR_RUNTIME_JSON")
        // An empty runtime folder: no monado-service of a developer's can answer.
        .env("XDG_RUNTIME_DIR", no_runtime.path())
        .args([
            "demo",
            "--size",
            "160x100",
            "--exit-after-frames",
            "2",
            "--json",
        ]));
    assert!(output.status.success(), "{}", stderr(&output));
    let stderr = stderr(&output);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("backend: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.starts_with("backend: window ("), "{line}");
    assert!(line.contains("OpenXR runtime"), "{line}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.starts_with("backend: "))
            .count(),
        1,
        "{stderr}"
    );
    assert!(stdout(&output).contains("\"step_number\":1"));
}

#[test]
fn capture_frame_writes_that_frame_and_refuses_a_path_that_is_not_png() {
    let x = Xvfb::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("frame.png");
    let output = run(hologuide()
        .env("DISPLAY", &x.display)
        .args([
            "demo",
            "--backend",
            "window",
            "--size",
            "320x200",
            "--exit-after-frames",
            "3",
        ])
        .args(["--capture-frame", "2", "--out"])
        .arg(&png));
    assert!(output.status.success(), "{}", stderr(&output));
    let image = image::open(&png).expect("a PNG").into_rgba8();
    assert_eq!(image.dimensions(), (320, 200));

    let output = run(hologuide()
        .env("DISPLAY", &x.display)
        .args([
            "demo",
            "--backend",
            "window",
            "--capture-frame",
            "1",
            "--out",
        ])
        .arg(dir.path().join("frame.txt")));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(".png"), "{}", stderr(&output));
}

#[test]
fn window_only_options_are_refused_where_no_window_can_show_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("frame.png");
    // Headless asked for: a frame number means nothing there.
    let output = run(hologuide()
        .args([
            "demo",
            "--backend",
            "headless",
            "--capture-frame",
            "3",
            "--out",
        ])
        .arg(&png));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--capture-frame only work(s) with --backend window"));
    // Auto without a display: it does not write step PNGs into a folder named frame.png.
    let output = run(hologuide()
        .env_remove("DISPLAY")
        .env_remove("XR_RUNTIME_JSON")
        .env("XDG_RUNTIME_DIR", dir.path())
        .args(["demo", "--capture-frame", "3", "--out"])
        .arg(&png));
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("--capture-frame need(s) a window"), "{err}");
    assert!(err.contains("DISPLAY is not set"), "{err}");
    assert!(!png.exists());
}

/// The card panel's colour on screen (sRGB), and the mean x of its pixels in the window.
fn card_centre_x(screen: &image::RgbaImage, left: u32, top: u32) -> Option<f64> {
    const PANEL: [u8; 3] = [37, 44, 56];
    let (mut sum, mut count) = (0u64, 0u64);
    for y in top..(top + 500).min(screen.height()) {
        for x in left..(left + 800).min(screen.width()) {
            let p = screen.get_pixel(x, y);
            if (0..3).all(|c| p[c].abs_diff(PANEL[c]) <= 6) {
                sum += u64::from(x - left);
                count += 1;
            }
        }
    }
    (count > 2000).then(|| sum as f64 / count as f64)
}

#[test]
fn dragging_with_the_right_button_turns_the_view_so_the_card_moves_the_other_way() {
    let x = Xvfb::start();
    let shots = tempfile::tempdir().expect("temp dir");
    let mut child = start_window(&x, shots.path(), &[]);
    let id = focused_window(&x, "step 1 of 10", &mut child);
    wait_for_file(&shots.path().join("step-01.png"), &mut child);
    let (left, top) = window_origin(&x, &id);
    let (left, top) = (left as u32, top as u32);
    let before = card_centre_x(&x.screenshot(), left, top).expect("the card on screen");

    // 100 px to the right with the right button held: 0.4 rad, less than the 30° after which
    // the card starts following, so it stays where it is in the room and moves left on screen.
    let at = |dx: u32| ((left + 300 + dx).to_string(), (top + 250).to_string());
    let (sx, sy) = at(0);
    x.xdotool(&["mousemove", "--sync", &sx, &sy]).expect("move");
    x.xdotool(&["mousedown", "3"]).expect("press");
    for step in 1..=10 {
        let (sx, sy) = at(step * 10);
        x.xdotool(&["mousemove", "--sync", &sx, &sy]).expect("move");
    }
    x.xdotool(&["mouseup", "3"]).expect("release");
    let deadline = Instant::now() + PATIENCE;
    let after = loop {
        let now = card_centre_x(&x.screenshot(), left, top);
        if let Some(now) = now
            && before - now > 100.0
        {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "the card stayed at x≈{now:?} (was {before:.0}) after the drag"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = quit(&x, child);
    // A drag is not a click: no screen change besides the start.
    assert_eq!(stdout(&output).lines().count(), 1, "{}", stdout(&output));
    assert!(after < before);
}

/// N6: on the demo's torque step a keyboard types into the keypad beside the card (Backspace
/// erases, Enter is OK), while N still means Next: a number's keypad leaves letters to their
/// shortcuts. No period in the sequence: with it, the window now and then received a key that
/// was never pressed (a '5' before the '2'), with the whole window module running at once;
/// without it, 11 such runs were clean. The decimal point is checked by the ray test
/// (`n6_keys_of_the_keypad_pressed_by_a_ray_record_the_typed_value`).
#[test]
fn a_keyboard_types_a_value_into_the_keypad_and_enter_answers() {
    let x = Xvfb::start();
    let shots = tempfile::tempdir().expect("temp dir");
    let mut child = start_window(&x, shots.path(), &["--step", "9"]);
    let id = focused_window(&x, "step 9 of 10", &mut child);
    for key in ["2", "6", "5", "BackSpace", "4", "Return"] {
        press(&x, &id, key);
    }
    press(&x, &id, "n");
    wait_for_title(&x, &id, "step 10 of 10");
    let output = quit(&x, child);
    let answers: Vec<Value> = stdout(&output)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.get("answer").is_some())
        .collect();
    assert_eq!(answers.len(), 1, "{}\n{}", stdout(&output), stderr(&output));
    assert_eq!(
        answers[0]["answer"],
        "refit-cap: 264 N·m (key keyboard)",
        "{}",
        stderr(&output)
    );
}
