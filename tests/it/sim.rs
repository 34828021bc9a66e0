//! `hologuide sim`: the project's Monado as the testers' simulator, with the app running on it.
//! Windowed on a virtual X display (Xvfb): Monado's compositor window is read back with xwd and
//! its qwerty headset is moved with real X key events (xdotool). Headless without a display.

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Monado on lavapipe starts in a few seconds; the first frames take longer on 2 shared cores.
const PATIENCE: Duration = Duration::from_secs(90);

/// The step card's panel and its primary button as the app draws them (sRGB, as on screen).
const CARD_PANEL: [u8; 3] = [37, 44, 56];
const NEXT_BUTTON: [u8; 3] = [89, 196, 249];

fn near(pixel: &image::Rgba<u8>, colour: [u8; 3]) -> bool {
    (0..3).all(|c| pixel[c].abs_diff(colour[c]) <= 6)
}

/// (card panel pixels, Next button pixels) in each half of the region: left eye, right eye.
fn card_pixels(
    screen: &image::RgbaImage,
    origin: (u32, u32),
    size: (u32, u32),
) -> [(usize, usize); 2] {
    let mut halves = [(0, 0); 2];
    for y in origin.1..(origin.1 + size.1).min(screen.height()) {
        for x in origin.0..(origin.0 + size.0).min(screen.width()) {
            let pixel = screen.get_pixel(x, y);
            let half = usize::from(x - origin.0 >= size.0 / 2);
            halves[half].0 += usize::from(near(pixel, CARD_PANEL));
            halves[half].1 += usize::from(near(pixel, NEXT_BUTTON));
        }
    }
    halves
}

fn geometry(x: &Xvfb, id: &str) -> ((u32, u32), (u32, u32)) {
    let shell = x
        .xdotool(&["getwindowgeometry", "--shell", id])
        .expect("geometry");
    let get = |key: &str| -> i64 {
        shell
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {shell}"))
    };
    let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(0);
    (
        (clamp(get("X=")), clamp(get("Y="))),
        (clamp(get("WIDTH=")), clamp(get("HEIGHT="))),
    )
}

/// A running `hologuide sim` whose output is read as it comes (a full pipe would stall the app).
struct Sim {
    child: Child,
    readers: Vec<std::thread::JoinHandle<String>>,
}

impl Sim {
    fn start(command: &mut std::process::Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hologuide sim starts");
        let pipes: [Option<Box<dyn std::io::Read + Send>>; 2] = [
            child.stdout.take().map(|p| Box::new(p) as _),
            child.stderr.take().map(|p| Box::new(p) as _),
        ];
        let readers = pipes
            .into_iter()
            .flatten()
            .map(|mut pipe| {
                std::thread::spawn(move || {
                    let mut text = String::new();
                    let _ = pipe.read_to_string(&mut text);
                    text
                })
            })
            .collect();
        Self { child, readers }
    }

    /// Ctrl-C (SIGINT) to sim, then its exit within a minute; its standard error.
    fn interrupt_and_finish(mut self) -> String {
        // SAFETY: the child is ours and not yet reaped, so its pid names no other process.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("sim did not end within 60 s of Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let texts: Vec<String> = self
            .readers
            .into_iter()
            .map(|r| r.join().unwrap_or_default())
            .collect();
        let err = texts.get(1).cloned().unwrap_or_default();
        assert!(status.success(), "{status}: {err}");
        err
    }
}

/// The service's pid from sim's first line, and a check that it is gone now.
fn assert_service_stopped(stderr: &str) {
    assert!(stderr.contains("sim: monado-service stopped"), "{stderr}");
    let pid = stderr
        .lines()
        .find(|l| l.starts_with("sim: Monado"))
        .and_then(|l| l.split("(pid ").nth(1))
        .and_then(|rest| rest.split(')').next())
        .and_then(|pid| pid.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no service pid in {stderr}"));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "monado-service (pid {pid}) still runs"
    );
}

fn assert_validation_clean(log: &std::path::Path) {
    let messages = std::fs::read_to_string(log).expect("the validation layer wrote its log");
    assert!(
        messages.contains("Core Validation Layer is initialized"),
        "{messages}"
    );
    let complaints: Vec<&str> = messages
        .lines()
        .filter(|l| l.starts_with('[') && !l.contains("VALID_DEBUG"))
        .collect();
    assert_eq!(complaints, Vec::<&str>::new(), "validation layer messages");
}

#[test]
fn sim_window_shows_the_step_card_in_both_eyes_and_its_keys_move_the_head_and_press_menu() {
    let x = Xvfb::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let validation = dir.path().join("validation.log");
    let sim = Sim::start(
        hologuide()
            .env("DISPLAY", &x.display)
            .arg("sim")
            .arg("--validation-log")
            .arg(&validation),
    );

    // Monado's compositor window opens with the app's session; wait for the card in it.
    let compositor = x
        .wait_for_window("^Monado$", PATIENCE)
        .expect("Monado's compositor window");
    let (origin, size) = geometry(&x, &compositor);
    let deadline = Instant::now() + PATIENCE;
    let before = loop {
        let halves = card_pixels(&x.screenshot(), origin, size);
        if halves
            .iter()
            .all(|(panel, button)| *panel > 3000 && *button > 80)
        {
            break halves;
        }
        assert!(
            Instant::now() < deadline,
            "no step card in Monado's window: {halves:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };

    // Monado's qwerty driver reads keys from its debug window: W held walks the head forward,
    // towards the card, which then covers more of the view.
    let gui = x
        .wait_for_window("Monado!", PATIENCE)
        .expect("Monado's debug window");
    x.xdotool(&["windowfocus", "--sync", &gui]).expect("focus");
    x.xdotool(&["keydown", "w"]).expect("keydown");
    std::thread::sleep(Duration::from_millis(1500));
    x.xdotool(&["keyup", "w"]).expect("keyup");
    std::thread::sleep(Duration::from_millis(1500));
    let after = card_pixels(&x.screenshot(), origin, size);
    let (panel_before, panel_after) = (before[0].0 + before[1].0, after[0].0 + after[1].0);
    assert!(
        panel_after * 10 > panel_before * 11,
        "walking towards the card did not enlarge it: {before:?} → {after:?}"
    );

    // Left Ctrl gives the keys to the left controller; N is its menu button, which hologuide
    // binds to the All list (khr/simple_controller /user/hand/left/input/menu/click): the card
    // with its Next button gives way to the list.
    x.xdotool(&["keydown", "Control_L"]).expect("keydown");
    std::thread::sleep(Duration::from_millis(300));
    x.xdotool(&["keydown", "n"]).expect("keydown");
    std::thread::sleep(Duration::from_millis(500));
    x.xdotool(&["keyup", "n"]).expect("keyup");
    x.xdotool(&["keyup", "Control_L"]).expect("keyup");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let halves = card_pixels(&x.screenshot(), origin, size);
        if halves
            .iter()
            .all(|(panel, button)| *panel > 1000 && *button < 10)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Ctrl+N in Monado's window did not open the All list: {halves:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Ctrl-C to sim: passed on to the app, which ends its session; then Monado stops.
    let err = sim.interrupt_and_finish();
    assert!(
        err.contains("sim: Monado with its window on DISPLAY="),
        "{err}"
    );
    assert!(err.contains("Qwerty HMD"), "{err}");
    assert_service_stopped(&err);
    assert_validation_clean(&validation);
}

#[test]
fn sim_without_a_display_runs_monado_headless_and_stops_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let validation = dir.path().join("validation.log");
    let output = run(hologuide()
        .env_remove("DISPLAY")
        .arg("sim")
        .arg("--validation-log")
        .arg(&validation)
        .args(["--frames", "20", "--json"]));
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        err.contains("sim: Monado headless (no display: DISPLAY is not set)"),
        "{err}"
    );
    assert_service_stopped(&err);
    let report: Value = serde_json::from_str(stdout(&output).trim()).expect("run's JSON report");
    assert!(
        report["frames_rendered"].as_u64().is_some_and(|n| n >= 20),
        "{report:#}"
    );
    assert_eq!(report["system"], "Monado: Simulated HMD", "{report:#}");
    assert_validation_clean(&validation);
}

#[test]
fn sim_passes_a_bad_run_option_through_and_still_stops_monado() {
    let output = run(hologuide()
        .env_remove("DISPLAY")
        .args(["sim", "--seconds", "0"]));
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("--seconds must be a positive number"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_service_stopped(&err);
}

#[test]
fn xwd_images_that_are_cut_short_or_of_another_kind_are_refused() {
    assert!(parse_xwd(b"short").is_err());
    let mut header = vec![0u8; 100];
    header[0..4].copy_from_slice(&100u32.to_be_bytes());
    header[4..8].copy_from_slice(&6u32.to_be_bytes());
    assert!(parse_xwd(&header).is_err(), "version 6 is not read");
}
