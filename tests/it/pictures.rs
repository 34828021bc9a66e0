//! A step's media beside the card: a picture decoded once, fitted into its box with its caption
//! (goldens), a video shown as a play mark with a line saying it is not played here, and a
//! broken picture left out while the rest of the frame draws.

use std::path::Path;

use serde_json::json;

use hologuide::guide::{AssetSource, GuidePackage};
use hologuide::scene::PanelKind;
use hologuide::xr::headless::shots::step_shot;
use hologuide::xr::headless::{Headless, HeadlessConfig};

use crate::render_golden::{check_golden, online, step};
use crate::render_robustness::allocations_over_frames;
use crate::support::gltf_corpus;

/// A package whose steps show: a square PNG (from the glTF corpus), a wide JPEG cut from it,
/// an MP4, and a PNG cut off after its header.
fn media_package(root: &Path) -> GuidePackage {
    let logo = gltf_corpus().join("BoxWithSpaces/glTF/glTF Logo With Spaces.png");
    let media = root.join("media");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::copy(&logo, media.join("logo.png")).unwrap();
    let wide = image::open(&logo)
        .unwrap()
        .crop_imm(0, 256, 1024, 512)
        .into_rgb8();
    wide.save(media.join("wide.jpg")).unwrap();
    let mut clip = vec![0, 0, 0, 0x18];
    clip.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2mp41");
    std::fs::write(media.join("clip.mp4"), clip).unwrap();
    let png = std::fs::read(&logo).unwrap();
    std::fs::write(media.join("broken.png"), &png[..64]).unwrap();
    let step = |id: &str, path: &str, caption: &str| {
        json!({ "id": id, "title": "Look at the picture", "body": "Compare with the part.",
                "media": { "path": path, "caption": caption } })
    };
    let guide = json!({
        "schema_version": 1,
        "id": "4a5b6c7d-8e9f-4a0b-8c1d-2e3f4a5b6c7d",
        "version": 1,
        "title": "Media",
        "organisation": "acme",
        "modified_at": "2026-12-07T08:00:00Z",
        "tasks": [{ "id": "t", "title": "Look", "steps": [
            step("logo", "media/logo.png", "The glTF logo, as printed on the housing."),
            step("wide", "media/wide.jpg", "Cut from the same logo: wider than its box."),
            step("clip", "media/clip.mp4", "How the cap comes off."),
            step("broken", "media/broken.png", "This picture is cut off.")
        ] }]
    });
    std::fs::write(root.join("guide.json"), guide.to_string()).unwrap();
    GuidePackage::load(root).expect("the media package loads")
}

#[test]
fn a_steps_picture_and_video_render_beside_the_card_with_their_captions() {
    let dir = tempfile::tempdir().unwrap();
    let package = media_package(dir.path());
    let mut headless = Headless::new(HeadlessConfig::screenshot(800, 500)).expect("lavapipe");
    for (number, name) in [
        (1, "media-picture"),
        (2, "media-picture-wide"),
        (3, "media-video"),
    ] {
        let image = step_shot(&mut headless, &package, step(number), &online()).expect("renders");
        assert!(headless.gpu.uncaptured_errors().is_empty());
        check_golden(name, &image);
    }
}

#[test]
fn a_broken_picture_is_left_out_and_the_card_and_its_caption_still_draw() {
    let dir = tempfile::tempdir().unwrap();
    let package = media_package(dir.path());
    let mut headless = Headless::new(HeadlessConfig::screenshot(400, 250)).expect("lavapipe");
    let broken = step_shot(&mut headless, &package, step(4), &online()).expect("still renders");
    let good = step_shot(&mut headless, &package, step(1), &online()).expect("renders");
    assert!(headless.gpu.uncaptured_errors().is_empty());
    // Only the picture's box differs: the card, the media panel and its caption are drawn alike.
    let differing = |columns: std::ops::Range<u32>| {
        broken
            .enumerate_pixels()
            .filter(|(x, _, _)| columns.contains(x))
            .filter(|(x, y, p)| {
                let q = good.get_pixel(*x, *y);
                (0..3).any(|c| p[c].abs_diff(q[c]) > 24)
            })
            .count()
    };
    let (width, _) = broken.dimensions();
    let picture_side = differing(0..width / 3);
    let card_side = differing(width / 3..width);
    assert!(
        picture_side > 500,
        "the logo is drawn in the good one ({picture_side} pixels differ)"
    );
    assert!(
        card_side < 200,
        "the card is drawn alike ({card_side} pixels differ)"
    );
}

#[test]
fn a_picture_is_decoded_and_uploaded_once_and_fitted_to_at_most_1024_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let package = media_package(dir.path());
    let app = hologuide::app::App::open(
        std::sync::Arc::new(package.guide.clone()),
        hologuide::app::GuideSource::Local,
        None,
    );
    let view = app.view();
    let read = |p: &str| package.read(p);
    let (allocations, headless, frame) = allocations_over_frames(&view, &read, 5);
    assert!(frame.panels.iter().any(|p| p.kind == PanelKind::Media));
    assert_eq!(frame.pictures.len(), 1);
    assert_eq!(
        allocations[1], allocations[4],
        "allocations per frame: {allocations:?}"
    );
    // The 1024 × 1024 logo as RGBA, once.
    assert_eq!(headless.renderer.memory().pictures, 1024 * 1024 * 4);
}
