//! The 3D app with guides of the service: `hologuide run <id|link>` in the desktop window
//! (Xvfb) and on Monado, against the real `hologuide-server` on 127.0.0.1 — F1, F2, F7, F8, F9,
//! F10, F12, F14, N1. Losing the network is stopping the server; getting it back is starting it
//! again on the same port.
//!
//! The Offline banner is found by its colour: its panel is drawn as sRGB (229, 167, 48), and a
//! pixel within 10 of that on every channel counts. The pump's orange parts are (249, 180, 81)
//! and lighter, 20 or more away on red; the dark card and the buttons are far off.
//! `banner_detection_tells_the_offline_golden_from_the_online_one` checks the rule on the
//! goldens: thousands of pixels with the banner, none without.

mod all_list;
mod answers;
mod openxr;
mod photos;
mod refusals;
mod signed_stickers;
mod sticker;
mod window;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::offline::{Service, password};
use crate::support::*;

/// The banner covers thousands of pixels in an 800×500 view; a handful of orange pixels
/// (anti-aliasing of other colours) is not a banner.
pub(super) const BANNER_MIN_PIXELS: usize = 1500;
/// In a 640×480 eye (a wider field of view than the window's) the banner covers about 1200.
pub(super) const EYE_BANNER_MIN_PIXELS: usize = 600;
/// Orange pixels allowed with no banner.
pub(super) const NO_BANNER_MAX_PIXELS: usize = 20;

/// The banner's panel as drawn (sRGB), and how far a channel may be from it.
pub(super) const BANNER_SRGB: [u8; 3] = [229, 167, 48];
pub(super) const BANNER_TOLERANCE: u8 = 10;

pub(super) fn banner_orange(p: &image::Rgba<u8>) -> bool {
    (0..3).all(|c| p[c].abs_diff(BANNER_SRGB[c]) <= BANNER_TOLERANCE)
}

/// Banner-orange pixels in the rectangle (`left`, `top`, `width`, `height`) of `image`.
pub(super) fn banner_pixels(
    image: &image::RgbaImage,
    (left, top, width, height): (u32, u32, u32, u32),
) -> usize {
    let mut count = 0;
    for y in top..(top + height).min(image.height()) {
        for x in left..(left + width).min(image.width()) {
            count += usize::from(banner_orange(image.get_pixel(x, y)));
        }
    }
    count
}

pub(super) fn whole(image: &image::RgbaImage) -> (u32, u32, u32, u32) {
    (0, 0, image.width(), image.height())
}

#[test]
fn banner_detection_tells_the_offline_golden_from_the_online_one() {
    let offline = image::open(repo().join("tests/golden/offline-banner-on.png"))
        .unwrap()
        .into_rgba8();
    let online = image::open(repo().join("tests/golden/demo-step-01.png"))
        .unwrap()
        .into_rgba8();
    let on = banner_pixels(&offline, whole(&offline));
    let off = banner_pixels(&online, whole(&online));
    eprintln!("banner-orange pixels: {on} with the banner, {off} without");
    assert!(on >= BANNER_MIN_PIXELS, "{on}");
    assert!(off <= NO_BANNER_MAX_PIXELS, "{off}");
}

/// `hologuide ARGS --data-dir DATA` with no environment that would change where data goes.
pub(super) fn client(data: &Path, args: &[&str]) -> Command {
    let mut command = hologuide();
    command
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("HOLOGUIDE_DATA_DIR")
        .env_remove("HOLOGUIDE_CLOCK_OVERRIDE")
        .stdin(Stdio::null());
    command
}

pub(super) fn login(data: &Path, service: &Service, user: &str) {
    use std::io::Write;
    let mut child = client(
        data,
        &[
            "login",
            "--server",
            &service.url(),
            "--user",
            user,
            "--password-stdin",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    writeln!(child.stdin.take().unwrap(), "{}", password(user)).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "login: {}", stderr(&output));
}

/// Lines of a child's pipe with the moment each arrived.
pub(super) fn timestamped_lines(
    pipe: impl Read + Send + 'static,
) -> mpsc::Receiver<(Instant, String)> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if sender.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits (up to `patience`) for a line containing `part`; when it arrived.
pub(super) fn wait_for_line(
    lines: &mpsc::Receiver<(Instant, String)>,
    seen: &mut Vec<String>,
    part: &str,
    patience: Duration,
) -> Instant {
    let deadline = Instant::now() + patience;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok((at, line)) => {
                let found = line.contains(part);
                seen.push(line);
                if found {
                    return at;
                }
            }
            Err(_) => panic!(
                "no line with {part:?} within {patience:?}:\n{}",
                seen.join("\n")
            ),
        }
    }
}

/// The app under test; killed if the test fails half-way, so no window outlives it.
pub(super) struct App(pub(super) Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `hologuide run GUIDE --backend window --json` on `x`, its output piped.
pub(super) fn window_app(device: &Path, x: &Xvfb, guide: &str) -> App {
    App(client(
        device,
        &[
            "--log",
            "info",
            "run",
            "--backend",
            "window",
            "--size",
            "800x500",
            "--json",
            guide,
        ],
    )
    .env("DISPLAY", &x.display)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("hologuide starts"))
}

/// A schema-2 package of the demo's organisation in `root/name` with one task of `steps`
/// (N6 tests: steps that record answers).
pub(crate) fn v2_package(
    root: &Path,
    name: &str,
    id: &str,
    title: &str,
    steps: serde_json::Value,
) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let guide = serde_json::json!({
        "schema_version": 2,
        "id": id,
        "version": 1,
        "title": title,
        "organisation": hologuide::demo::ORGANISATION,
        "modified_at": "2026-11-20T08:15:00Z",
        "tasks": [{ "id": "t", "title": title, "steps": steps }]
    });
    std::fs::write(dir.join("guide.json"), guide.to_string()).unwrap();
    dir
}
