//! F3 and F7 in the 3D app: the All list shows this device's offline guides (read by
//! `Device::all_guides` on the live worker, as `hologuide guides` reads them) and a guide chosen
//! from it opens through `Device::open` — offline from the cache, with the banner. In the window
//! on Xvfb (M opens the list, a number key chooses) and on Monado (input script `menu`,
//! `open N`), against the real `hologuide-server` on 127.0.0.1.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::offline::{GUIDE_A, Service, guide_package, small_guide};
use crate::openxr_frames::{CAPTURE_SIZE, Runtime, assert_clean_run, report};
use crate::openxr_runtime::monado_or_skip;
use crate::support::*;

const GUIDE_B: &str = "1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6";
/// Guide A is "Valve check"; the list is in title order, so A is entry 1 and B entry 2.
const TITLE_B: &str = "Water pump";
/// The step card's panel as drawn (sRGB), as `live_app/window.rs` finds it.
const CARD_SRGB: [u8; 3] = [37, 44, 56];
const F3_EMPTY: &str = "No guides are available offline.";

/// Two guides published and granted to alice, both opened online once on `device`.
fn two_guides_opened_online(service: &Service, device: &Path) {
    small_guide(service, GUIDE_A, "one");
    let package = guide_package(service.dir.path(), GUIDE_B, TITLE_B, "two", 20_000);
    service.publish(&package);
    service.admin(&["guide", "grant", GUIDE_B, "--user", "alice"]);
    login(device, service, "alice");
    for guide in [GUIDE_A, GUIDE_B] {
        let opened = run(&mut client(device, &["open", guide, "--json"]));
        assert!(opened.status.success(), "{}", stderr(&opened));
    }
}

/// The window's id once it has drawn the step card: keys sent before that may be lost.
fn drawn_window(x: &Xvfb, app: &mut App) -> String {
    let id = crate::window::focused_window(x, "step 1 of 2", &mut app.0);
    let (left, top) = crate::window::window_origin(x, &id);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let screen = x.screenshot();
        let mut card = 0;
        for y in top as u32..(top as u32 + 500).min(screen.height()) {
            for xx in left as u32..(left as u32 + 800).min(screen.width()) {
                let p = screen.get_pixel(xx, y);
                card += usize::from((0..3).all(|c| p[c].abs_diff(CARD_SRGB[c]) <= 6));
            }
        }
        // The card covers far more than this in an 800×500 window.
        if card >= 2000 {
            return id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no card drawn: {card} pixels"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn press(x: &Xvfb, id: &str, key: &str) {
    x.xdotool(&["windowfocus", "--sync", id]).expect("focus");
    x.xdotool(&["key", key]).expect("key");
}

fn wait_for_title(x: &Xvfb, id: &str, part: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let title = x.xdotool(&["getwindowname", id]).unwrap_or_default();
        if title.contains(part) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "title stayed {title:?}, expected {part:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where entry `number` of the All list is in an 800×500 window (the left part of its line):
/// the scene the window draws at rest with the list open, projected with the window's camera.
fn entry_in_window(number: usize) -> (i64, i64) {
    use std::sync::Arc;

    use glam::{Mat4, Vec2, Vec3};
    use hologuide::app::{App, GuideSource};
    use hologuide::scene::{CardFollower, Frame, PanelKind, SceneInput};
    use hologuide::xr::window::{FOV_Y_DEG, FlyCamera};

    let package = hologuide::demo::load().expect("demo");
    let app = App::open(Arc::new(package.guide), GuideSource::Demo, None);
    let view = app.view();
    let head = FlyCamera::standing_operator().pose();
    // Where a line sits depends on its number only.
    let lines = vec![String::from("a guide"); number];
    let input = SceneInput {
        view: &view,
        online: false,
        all_list: Some(&lines),
        status: None,
        prompt: None,
        head,
        anchors: &[],
        anchors_tracked: false,
        step_time_s: 0.0,
    };
    let frame = Frame::build(&input, &mut CardFollower::default(), 0.0);
    let panel = frame
        .panels
        .iter()
        .find(|p| p.kind == PanelKind::AllList)
        .expect("the All list is drawn");
    let text = &panel.texts[number];
    let point = text.position + Vec2::new(0.05, text.height / 2.0);
    let local = Vec3::new(
        point.x - panel.size.x / 2.0,
        panel.size.y / 2.0 - point.y,
        0.0,
    );
    let size = Vec2::new(800.0, 500.0);
    let projection = Mat4::perspective_rh(FOV_Y_DEG.to_radians(), size.x / size.y, 0.05, 100.0);
    let clip = projection * head.to_matrix().inverse() * panel.world * local.extend(1.0);
    let ndc = clip.truncate() / clip.w;
    let x = (ndc.x + 1.0) / 2.0 * size.x;
    let y = (1.0 - ndc.y) / 2.0 * size.y;
    (x.round() as i64, y.round() as i64)
}

fn json_line(seen: &[String]) -> Value {
    let line = seen.last().expect("a line was seen");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// F3 + F7 in the window: offline, the All list holds both guides opened online before (with
/// version and download date); choosing B shows B's first step, from this device's copy, with
/// the Offline banner.
#[test]
fn f3_window_all_list_shows_both_offline_guides_and_opens_the_one_chosen_with_the_banner() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    two_guides_opened_online(&service, device.path());
    service.stop();

    let x = Xvfb::start();
    let mut app = window_app(device.path(), &x, GUIDE_A);
    let out = timestamped_lines(app.0.stdout.take().unwrap());
    let mut seen = Vec::new();
    wait_for_line(&out, &mut seen, "\"opened\"", Duration::from_secs(60));
    assert_eq!(json_line(&seen)["opened"]["origin"], "cache", "{seen:?}");
    let id = drawn_window(&x, &mut app);

    press(&x, &id, "m");
    wait_for_line(&out, &mut seen, "\"all_list\"", Duration::from_secs(60));
    let list: Vec<String> = serde_json::from_value(json_line(&seen)["all_list"].clone()).unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list[0].starts_with("1. Valve check — version 1, downloaded "),
        "{list:?}"
    );
    assert!(
        list[1].starts_with("2. Water pump — version 1, downloaded "),
        "{list:?}"
    );
    // The same lines as `hologuide guides` prints for this account (its lines, numbered).
    let guides = run(&mut client(device.path(), &["guides"]));
    assert!(guides.status.success(), "{}", stderr(&guides));
    for (n, line) in list.iter().enumerate() {
        let unnumbered = line.trim_start_matches(&format!("{}. ", n + 1));
        assert!(
            stdout(&guides).contains(unnumbered),
            "{line} vs {}",
            stdout(&guides)
        );
    }

    press(&x, &id, "2");
    wait_for_line(&out, &mut seen, "\"guide_opened\"", Duration::from_secs(60));
    assert_eq!(
        json_line(&seen)["guide_opened"]["title"],
        TITLE_B,
        "{seen:?}"
    );
    wait_for_line(
        &out,
        &mut seen,
        "chosen from the All list",
        Duration::from_secs(10),
    );
    let shown = json_line(&seen);
    assert_eq!(shown["step_number"], 1, "{shown}");
    assert_eq!(shown["title"], "First step two", "{shown}");
    assert!(
        seen.iter()
            .any(|l| l.contains("\"status\":\"Opened from this device's copy.\"")),
        "{seen:?}"
    );
    // B's card is drawn with the banner: the title follows the new guide, and the screen
    // shows the banner's orange.
    wait_for_title(&x, &id, "Water pump — step 1 of 2");
    let (left, top) = crate::window::window_origin(&x, &id);
    let area = (left as u32, top as u32, 800, 500);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let pixels = banner_pixels(&x.screenshot(), area);
        if pixels >= BANNER_MIN_PIXELS {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{pixels} banner pixels"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // No online line ever: the banner stayed on through the swap.
    assert!(
        !seen.iter().any(|l| l.contains("\"online\":true")),
        "{seen:?}"
    );
    eprintln!("{}", seen.join("\n"));
}

/// F3's empty case in the window: alice is signed in but her cache holds nothing (its only
/// guide was cleared while the app showed it), so the All list says exactly the F3 sentence.
#[test]
fn f3_window_all_list_of_a_signed_in_account_with_nothing_cached_says_no_guides_exactly() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    small_guide(&service, GUIDE_A, "one");
    login(device.path(), &service, "alice");
    let opened = run(&mut client(device.path(), &["open", GUIDE_A, "--json"]));
    assert!(opened.status.success(), "{}", stderr(&opened));
    service.stop();

    let x = Xvfb::start();
    let mut app = window_app(device.path(), &x, GUIDE_A);
    let out = timestamped_lines(app.0.stdout.take().unwrap());
    let mut seen = Vec::new();
    let id = drawn_window(&x, &mut app);
    let cleared = run(&mut client(
        device.path(),
        &["cache", "clear", "--guide", GUIDE_A, "--json"],
    ));
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    // `hologuide guides` agrees that nothing is left.
    let guides = run(&mut client(device.path(), &["guides"]));
    assert!(stdout(&guides).contains(F3_EMPTY), "{}", stdout(&guides));

    press(&x, &id, "m");
    wait_for_line(&out, &mut seen, "\"all_list\"", Duration::from_secs(60));
    assert_eq!(json_line(&seen)["all_list"], serde_json::json!([F3_EMPTY]));
    // On screen: the empty All list (heading, the exact sentence) and the banner, as the
    // headless renderer draws it (the golden `all-list-empty`, same size and camera).
    let (left, top) = crate::window::window_origin(&x, &id);
    let golden = crate::openxr_frames::golden("all-list-empty");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let screen = image::imageops::crop_imm(&x.screenshot(), left as u32, top as u32, 800, 500)
            .to_image();
        let off = crate::openxr_frames::differing_fraction(&screen, &golden);
        if off < 0.003 {
            break screen;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the window never showed the empty All list: {:.2} % off its golden",
            off * 100.0
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    crate::render_golden::assert_matches_golden("all-list-empty", &shown);
    // Nothing to choose: a number key opens nothing, says so, and the app goes on.
    press(&x, &id, "1");
    wait_for_line(&out, &mut seen, "\"status\"", Duration::from_secs(30));
    assert_eq!(
        json_line(&seen)["status"],
        "There is no guide number 1 in the list (it has 0)."
    );
    assert!(app.0.try_wait().unwrap().is_none(), "the app still runs");
    assert!(!seen.iter().any(|l| l.contains("guide_opened")), "{seen:?}");
}

/// F14 in the 3D app: a guide whose permission alice lost stays listed offline with the
/// service's words, exactly as `hologuide guides` shows it; choosing it shows the refusal on
/// the status line and keeps the list and the guide on screen.
#[test]
fn f14_window_all_list_says_why_a_guide_is_refused_and_choosing_it_shows_the_refusal() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    two_guides_opened_online(&service, device.path());
    service.admin(&["guide", "revoke", GUIDE_B, "--user", "alice"]);
    let refused = run(&mut client(device.path(), &["open", GUIDE_B]));
    assert!(!refused.status.success(), "{}", stdout(&refused));
    service.stop();
    let guides = run(&mut client(device.path(), &["guides"]));
    let cli_line = stdout(&guides)
        .lines()
        .find(|l| l.contains(TITLE_B))
        .expect("B is listed by the CLI")
        .trim()
        .to_owned();
    assert!(cli_line.contains("permission"), "{cli_line}");

    let x = Xvfb::start();
    let mut app = window_app(device.path(), &x, GUIDE_A);
    let out = timestamped_lines(app.0.stdout.take().unwrap());
    let mut seen = Vec::new();
    let id = drawn_window(&x, &mut app);
    press(&x, &id, "m");
    wait_for_line(&out, &mut seen, "\"all_list\"", Duration::from_secs(60));
    let list: Vec<String> = serde_json::from_value(json_line(&seen)["all_list"].clone()).unwrap();
    assert_eq!(list[1], format!("2. {cli_line}"), "{list:?}");

    press(&x, &id, "2");
    wait_for_line(&out, &mut seen, "permission", Duration::from_secs(60));
    let status = json_line(&seen)["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // The refusal of the service, as the list's note gives it.
    assert!(
        !status.is_empty() && cli_line.ends_with(&status),
        "{status} vs {cli_line}"
    );
    assert!(app.0.try_wait().unwrap().is_none(), "the app still runs");
    assert!(!seen.iter().any(|l| l.contains("guide_opened")), "{seen:?}");
    // Another choice still works after a refusal: A opens again from the cache.
    press(&x, &id, "1");
    wait_for_line(
        &out,
        &mut seen,
        "chosen from the All list",
        Duration::from_secs(60),
    );
    assert_eq!(json_line(&seen)["guide"], "Valve check", "{seen:?}");
}

/// The telemetry events the service holds, as (kind, guide id), in the order received.
fn service_events(service: &Service) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(service.data().join(hologuide::service::DATABASE_FILE))
        .expect("the service database opens");
    let mut statement = db
        .prepare("SELECT kind, coalesce(guide_id, '') FROM telemetry ORDER BY at, rowid")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// F1 + F9 online: a guide chosen from the All list opens from the service, and the app's
/// telemetry session moves to it — the first guide's session ends, the chosen guide's starts
/// with its first step viewed, all uploaded.
#[test]
fn f9_window_guide_chosen_from_the_all_list_online_starts_its_own_telemetry_session() {
    let service = Service::start();
    let device = tempfile::tempdir().unwrap();
    two_guides_opened_online(&service, device.path());
    let before = service_events(&service).len();

    let x = Xvfb::start();
    let mut app = window_app(device.path(), &x, GUIDE_A);
    let out = timestamped_lines(app.0.stdout.take().unwrap());
    let mut seen = Vec::new();
    wait_for_line(&out, &mut seen, "\"opened\"", Duration::from_secs(60));
    assert_eq!(json_line(&seen)["opened"]["origin"], "network", "{seen:?}");
    let id = drawn_window(&x, &mut app);
    press(&x, &id, "m");
    wait_for_line(&out, &mut seen, "\"all_list\"", Duration::from_secs(60));
    // Chosen by a click on its line, as a person would.
    let (left, top) = crate::window::window_origin(&x, &id);
    let (ex, ey) = entry_in_window(2);
    let (sx, sy) = ((left + ex).to_string(), (top + ey).to_string());
    x.xdotool(&["mousemove", "--sync", &sx, &sy])
        .expect("mousemove");
    x.xdotool(&["click", "1"]).expect("click");
    wait_for_line(
        &out,
        &mut seen,
        "chosen from the All list",
        Duration::from_secs(60),
    );
    assert_eq!(json_line(&seen)["guide"], TITLE_B, "{seen:?}");
    // Opened from the service, so no "from this device's copy" line.
    assert!(
        !seen.iter().any(|l| l.contains("device's copy")),
        "{seen:?}"
    );

    let b = GUIDE_B.to_owned();
    let a = GUIDE_A.to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let events = loop {
        let events = service_events(&service);
        if events[before..].contains(&("step_viewed".to_owned(), b.clone())) {
            break events;
        }
        assert!(std::time::Instant::now() < deadline, "{events:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let session: Vec<(&str, &str)> = events[before..]
        .iter()
        .map(|(kind, guide)| (kind.as_str(), guide.as_str()))
        .collect();
    assert_eq!(
        session,
        vec![
            ("session_start", a.as_str()),
            ("guide_opened", a.as_str()),
            ("step_viewed", a.as_str()),
            ("step_time", a.as_str()),
            ("session_end", a.as_str()),
            ("session_start", b.as_str()),
            ("guide_opened", b.as_str()),
            ("step_viewed", b.as_str()),
        ]
    );
}

/// F3 + F7 on Monado: the input script's `menu` shows the All list and `open 2` reaches guide
/// B, opened offline from the cache; the report names both.
#[test]
fn f3_openxr_app_menu_then_open_reaches_the_guide_chosen_from_the_all_list() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    two_guides_opened_online(&service, device.path());
    service.stop();

    let runtime = Runtime::start_still(install);
    let script = runtime.dir.path().join("input.txt");
    std::fs::write(&script, "5 menu\n15 open 2\n").unwrap();
    let capture = runtime.dir.path().join("eye.png");
    let output = run(&mut runtime.hologuide(&[
        "run",
        GUIDE_A,
        "--data-dir",
        device.path().to_str().unwrap(),
        "--eye-size",
        CAPTURE_SIZE,
        "--frames",
        "40",
        "--input-script",
        script.to_str().unwrap(),
        "--capture-frame",
        "38",
        "--out",
        capture.to_str().unwrap(),
        "--json",
    ]));
    let report = report(&output);
    assert_clean_run(&runtime, &output, &report);
    assert_eq!(report["opened"]["origin"], "cache", "{report:#}");
    let lists = report["all_lists"].as_array().expect("all_lists");
    assert_eq!(lists.len(), 1, "{report:#}");
    let lines: Vec<&str> = lists[0]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        lines[0].starts_with("1. Valve check — version 1"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("2. Water pump — version 1"),
        "{lines:?}"
    );
    assert_eq!(
        report["guides_opened"],
        serde_json::json!(["Water pump — version 1: step 1 of 2"]),
        "{report:#}"
    );
    assert_eq!(report["final_guide"], TITLE_B, "{report:#}");
    assert_eq!(report["final_screen"], "step 1 of 2", "{report:#}");
    assert_eq!(report["offline_banner_last_frame"], true, "{report:#}");
    // B's step is on screen in the headset with the banner.
    let eye = image::open(&capture).expect("captured").into_rgba8();
    let pixels = banner_pixels(&eye, whole(&eye));
    assert!(
        pixels >= EYE_BANNER_MIN_PIXELS,
        "{pixels} banner pixels in frame 38"
    );
    eprintln!(
        "{} on {}: All list {}; opened {}; status {}",
        report["system"],
        report["runtime"],
        report["all_lists"],
        report["guides_opened"],
        report["statuses"]
    );
}

/// F1 + F3 on Monado, online: the demo guide (published on the service, with holograms) chosen
/// from the All list is opened from the service and drawn with its models, loaded from the
/// files the device read ahead: the eye matches the demo's first-step golden.
#[test]
fn f3_openxr_app_draws_the_holograms_of_a_guide_chosen_from_the_all_list() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let service = Service::start();
    let device = tempfile::tempdir().unwrap();
    small_guide(&service, GUIDE_A, "one");
    login(device.path(), &service, "alice");
    for guide in [GUIDE_A, crate::offline::DEMO_ID] {
        let opened = run(&mut client(device.path(), &["open", guide, "--json"]));
        assert!(opened.status.success(), "{}", stderr(&opened));
    }

    let runtime = Runtime::start_still(install);
    let script = runtime.dir.path().join("input.txt");
    // The demo's title sorts first: "Replace the filter cartridge — …", then "Valve check".
    std::fs::write(&script, "5 menu\n15 open 1\n").unwrap();
    let capture = runtime.dir.path().join("eye.png");
    let output = run(&mut runtime.hologuide(&[
        "run",
        GUIDE_A,
        "--data-dir",
        device.path().to_str().unwrap(),
        "--eye-size",
        CAPTURE_SIZE,
        "--frames",
        "60",
        "--input-script",
        script.to_str().unwrap(),
        "--capture-frame",
        "58",
        "--out",
        capture.to_str().unwrap(),
        "--json",
    ]));
    let report = report(&output);
    assert_clean_run(&runtime, &output, &report);
    assert_eq!(
        report["guides_opened"],
        serde_json::json!([
            "Replace the filter cartridge — CP-200 coolant pump — version 1: step 1 of 10"
        ]),
        "{report:#}"
    );
    let eye = image::open(&capture).expect("captured").into_rgba8();
    let to_1 = crate::openxr_frames::differing_fraction(
        &eye,
        &crate::openxr_frames::golden("openxr-demo-step-01-left-eye"),
    );
    let to_3 = crate::openxr_frames::differing_fraction(
        &eye,
        &crate::openxr_frames::golden("openxr-demo-step-03-left-eye"),
    );
    eprintln!(
        "the eye after the choice differs from the demo's step-1 golden in {:.3} %, from step 3's in {:.2} %",
        to_1 * 100.0,
        to_3 * 100.0
    );
    // The limit of the OpenXR goldens (openxr_frames: 0.5 % beyond 24/255). The pump and the
    // arrow of step 1 cover more than that: without them the frame would not match.
    assert!(to_1 < 0.005, "{to_1}");
    assert!(to_3 > 3.0 * to_1.max(0.005), "{to_3} vs {to_1}");
    assert_eq!(report["offline_banner_last_frame"], false, "{report:#}");
    // Opened from the service: no "from this device's copy" line.
    assert_eq!(
        report["statuses"],
        serde_json::json!(["Opening Replace the filter cartridge — CP-200 coolant pump…"]),
        "{report:#}"
    );
}
