//! On Monado (headless, core validation layer on): a link opens at its step online, the cached
//! guide opens offline with the banner from frame 1, and a loss mid-session shows it.

use std::io::{BufReader, Read as _};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::offline::{DEMO_ID, Service};
use crate::openxr_frames::{
    CAPTURE_SIZE, Runtime, assert_clean_run, differing_fraction, golden, report,
};
use crate::openxr_runtime::monado_or_skip;
use crate::support::*;

/// F7 and F1 on OpenXR: a link to step 3 opens the guide of the service at step 3, freshly
/// downloaded, without the banner; the eye shows step 3's card.
#[test]
fn f7_openxr_app_opens_a_service_guide_by_link_at_its_step_without_the_banner_online() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let service = Service::start();
    let device = tempfile::tempdir().unwrap();
    login(device.path(), &service, "alice");
    let runtime = Runtime::start_still(install);
    let capture = runtime.dir.path().join("eye.png");
    let link = format!("hologuide://hologuide-demo/g/{DEMO_ID}/s/3");
    let output = run(&mut runtime.hologuide(&[
        "run",
        &link,
        "--data-dir",
        device.path().to_str().unwrap(),
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
    assert_eq!(report["guide_source"], "service", "{report:#}");
    assert_eq!(report["first_screen"], "step 3 of 10", "{report:#}");
    assert_eq!(report["final_screen"], "step 3 of 10", "{report:#}");
    assert_eq!(report["opened"]["origin"], "network", "{report:#}");
    assert_eq!(report["opened"]["step"], 3, "{report:#}");
    assert_eq!(report["offline_banner_first_frame"], false, "{report:#}");
    assert_eq!(report["offline_banner_last_frame"], false, "{report:#}");
    assert_eq!(report["frames_with_offline_banner"], 0, "{report:#}");

    // The eye shows step 3's card: close to the demo's step-3 golden (the header differs:
    // a guide of the service has no DEMO mark), far from step 1's.
    let eye = image::open(&capture).expect("captured").into_rgba8();
    let to_3 = differing_fraction(&eye, &golden("openxr-demo-step-03-left-eye"));
    let to_1 = differing_fraction(&eye, &golden("openxr-demo-step-01-left-eye"));
    eprintln!(
        "differs from step 3's golden in {:.2} %, from step 1's in {:.2} %",
        to_3 * 100.0,
        to_1 * 100.0
    );
    // The limit of the OpenXR goldens (openxr_frames: 0.5 % beyond 24/255).
    assert!(to_3 < 0.005, "{to_3}");
    assert!(to_1 > 3.0 * to_3.max(0.005), "{to_1} vs {to_3}");
    assert!(banner_pixels(&eye, whole(&eye)) <= NO_BANNER_MAX_PIXELS);
}

/// F2 and F7 offline on OpenXR: the service is gone before the app starts; the guide
/// opened online before opens from the cache and every frame carries the banner.
#[test]
fn f2_openxr_app_opens_the_cached_guide_offline_with_the_banner_from_the_first_frame() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    login(device.path(), &service, "alice");
    let link = format!("hologuide://hologuide-demo/g/{DEMO_ID}/s/3");
    let opened = run(&mut client(device.path(), &["open", &link, "--json"]));
    assert!(opened.status.success(), "{}", stderr(&opened));
    service.stop();

    let runtime = Runtime::start_still(install);
    let capture = runtime.dir.path().join("eye.png");
    let output = run(&mut runtime.hologuide(&[
        "run",
        &link,
        "--data-dir",
        device.path().to_str().unwrap(),
        "--eye-size",
        CAPTURE_SIZE,
        "--frames",
        "10",
        "--capture-frame",
        "1",
        "--out",
        capture.to_str().unwrap(),
        "--json",
    ]));
    let report = report(&output);
    assert_clean_run(&runtime, &output, &report);
    assert_eq!(report["opened"]["origin"], "cache", "{report:#}");
    assert_eq!(report["first_screen"], "step 3 of 10", "{report:#}");
    assert_eq!(report["offline_banner_first_frame"], true, "{report:#}");
    assert_eq!(
        report["frames_with_offline_banner"], report["frames_rendered"],
        "{report:#}"
    );
    let eye = image::open(&capture).expect("captured").into_rgba8();
    let pixels = banner_pixels(&eye, whole(&eye));
    assert!(
        pixels >= EYE_BANNER_MIN_PIXELS,
        "{pixels} banner pixels in frame 1"
    );
}

/// F2 live on OpenXR: the service goes away during the session; the frames after the
/// monitor noticed carry the banner, without the frame loop waiting on the network.
#[test]
fn f2_openxr_app_shows_the_banner_once_the_service_is_lost_during_the_session() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    login(device.path(), &service, "alice");
    let runtime = Runtime::start_still(install);
    let mut command = runtime.hologuide(&[
        "--log",
        "info",
        "run",
        DEMO_ID,
        "--data-dir",
        device.path().to_str().unwrap(),
        "--frames",
        "240",
        "--json",
    ]);
    let mut app = App(command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hologuide starts"));
    let stdout_pipe = app.0.stdout.take().unwrap();
    let report_text = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stdout_pipe).read_to_string(&mut text);
        text
    });
    let err = timestamped_lines(app.0.stderr.take().unwrap());
    let mut seen = Vec::new();
    wait_for_line(&err, &mut seen, "FOCUSED", Duration::from_secs(60));
    service.stop();
    let flipped = wait_for_line(
        &err,
        &mut seen,
        "connectivity changed",
        Duration::from_secs(10),
    );
    let shown = wait_for_line(
        &err,
        &mut seen,
        "Offline banner shown",
        Duration::from_secs(10),
    );
    eprintln!(
        "F2 on OpenXR: first frame with the banner {:.3} s after the monitor found the service gone",
        shown.saturating_duration_since(flipped).as_secs_f64()
    );
    assert!(shown.saturating_duration_since(flipped) < Duration::from_secs(1));
    let status = app.0.wait().expect("hologuide ends");
    assert!(status.success(), "{}", seen.join("\n"));
    let report: Value =
        serde_json::from_str(report_text.join().unwrap().trim()).expect("JSON report");
    assert_eq!(report["offline_banner_first_frame"], false, "{report:#}");
    assert_eq!(report["offline_banner_last_frame"], true, "{report:#}");
    let with = report["frames_with_offline_banner"].as_u64().unwrap();
    let all = report["frames_rendered"].as_u64().unwrap();
    assert!(
        0 < with && with < all,
        "{with} of {all} frames with the banner"
    );
    assert_eq!(
        runtime.validation_complaints(),
        Vec::<String>::new(),
        "validation layer messages"
    );
}
