//! F7 with a camera (issue 16): offline, a sticker of another guide asks first; selected, a
//! guide this device opened before opens from its cache at the sticker's step, and a guide it
//! never opened shows the device's refusal and nothing opens. Headless, the sticker a photo the
//! `qrcode` crate wrote, against the real `hologuide-server` on 127.0.0.1 (stopped: offline).

use std::path::Path;

use serde_json::Value;

use super::*;
use crate::offline::{GUIDE_A, Service, guide_package, small_guide};
use crate::support::*;

pub(super) const GUIDE_B: &str = "1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6";
/// Published and granted, never opened on the device.
pub(super) const GUIDE_C: &str = "2e3f4a5b-6c7d-4e8f-9a0b-b1c2d3e4f5a6";

/// Publishes a two-step guide and lets alice view it.
pub(super) fn publish(service: &Service, id: &str, title: &str) {
    let package = guide_package(service.dir.path(), id, title, "one", 20_000);
    service.publish(&package);
    service.admin(&["guide", "grant", id, "--user", "alice"]);
}

/// Guide A shown offline, headless for `frames` frames, `select` at frame 150 (answering a
/// sticker's question), with `camera` (the run's camera options); the run's report.
pub(super) fn guide_a_offline_with(device: &Path, frames: u32, camera: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.txt");
    std::fs::write(&script, "150 select\n").unwrap();
    let frames = frames.to_string();
    let mut args = vec![
        "run",
        GUIDE_A,
        "--backend",
        "headless",
        "--size",
        "160x100",
        "--frames",
        &frames,
        "--json",
        "--input-script",
        script.to_str().unwrap(),
    ];
    args.extend_from_slice(camera);
    let output = run(&mut client(device, &args));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", stderr(&output)))
}

/// Guide A offline with a photo of `sticker` as the camera (seen within the first frames: the
/// camera runs in step with the headless clock).
fn guide_a_offline_seeing(device: &Path, sticker: &str) -> Value {
    let photos = tempfile::tempdir().unwrap();
    write_code_png(&photos.path().join("sticker.png"), sticker);
    let camera = format!("files:{}", photos.path().display());
    guide_a_offline_with(device, 300, &["--camera", &camera])
}

#[test]
fn f7_offline_a_sticker_opens_a_cached_guide_at_its_step_and_one_never_opened_is_refused() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    small_guide(&service, GUIDE_A, "one");
    publish(&service, GUIDE_B, "Water pump");
    publish(&service, GUIDE_C, "Cooling fan");
    login(device.path(), &service, "alice");
    for guide in [GUIDE_A, GUIDE_B] {
        let opened = run(&mut client(device.path(), &["open", guide, "--json"]));
        assert!(opened.status.success(), "{}", stderr(&opened));
    }
    service.stop();

    let report =
        guide_a_offline_seeing(device.path(), &format!("hologuide://acme/g/{GUIDE_B}/s/2"));
    assert_eq!(
        report["statuses"][0], "Open the guide on this sticker? Select to confirm",
        "{report:#}"
    );
    assert_eq!(
        report["guides_opened"],
        serde_json::json!(["Water pump — version 1: step 2 of 2"]),
        "{report:#}"
    );
    assert_eq!(report["final_guide"], "Water pump");
    assert_eq!(report["final_screen"], "step 2 of 2");
    assert_eq!(
        report["offline_banner_last_frame"], true,
        "F2 still offline"
    );

    let report = guide_a_offline_seeing(device.path(), &format!("hologuide://acme/g/{GUIDE_C}"));
    let refusal = "This guide has not been opened on this device by alice yet. Open it once while \
                   online; after that it works offline.";
    assert_eq!(
        report["statuses"].as_array().and_then(|s| s.last()),
        Some(&Value::from(refusal)),
        "{report:#}"
    );
    assert_eq!(report["guides_opened"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["final_guide"], "Valve check");
    assert_eq!(report["final_screen"], "step 1 of 2");
}

/// F7 with the virtual camera: offline, the scripted head turns right to a sticker of another
/// cached guide on the wall; the question is answered with `select` and the guide opens at the
/// sticker's step, the Offline banner still on.
#[test]
fn f7_offline_the_scripted_head_turns_to_a_sticker_and_its_cached_guide_opens_at_its_step() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    small_guide(&service, GUIDE_A, "one");
    publish(&service, GUIDE_B, "Water pump");
    login(device.path(), &service, "alice");
    for guide in [GUIDE_A, GUIDE_B] {
        let opened = run(&mut client(device.path(), &["open", guide, "--json"]));
        assert!(opened.status.success(), "{}", stderr(&opened));
    }
    service.stop();

    let dir = tempfile::tempdir().unwrap();
    // On the wall to the operator's right, facing them.
    let room = dir.path().join("room.json");
    let sticker = format!("hologuide://acme/g/{GUIDE_B}/s/2");
    std::fs::write(
        &room,
        serde_json::json!({ "stickers": [ { "payload": sticker, "size_mm": 60,
            "position": [0.45, 1.55, 0.0], "rotation_deg": [0, -90, 0] } ] })
        .to_string(),
    )
    .unwrap();
    let poses = dir.path().join("poses.txt");
    std::fs::write(&poses, "1 0 1.6 0 0 0\n40 0 1.6 0 -90 -5\n").unwrap();
    let report = guide_a_offline_with(
        device.path(),
        200,
        &[
            "--camera",
            "virtual:rate=5",
            "--room",
            room.to_str().unwrap(),
            "--poses",
            poses.to_str().unwrap(),
        ],
    );
    assert_eq!(
        report["guides_opened"],
        serde_json::json!(["Water pump — version 1: step 2 of 2"]),
        "{report:#}"
    );
    assert_eq!(
        report["offline_banner_last_frame"], true,
        "F2 still offline"
    );
}
