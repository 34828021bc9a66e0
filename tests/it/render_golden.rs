//! Golden images: the real renderer on lavapipe (wgpu, Vulkan), compared with PNGs in
//! `tests/golden/`. wgpu validation errors are caught with error scopes and fail the test.
//!
//! Regenerate the goldens only on purpose, after checking the new pictures by eye:
//! `scripts/regenerate-goldens` (sets HOLOGUIDE_REGENERATE_GOLDENS=1 for these tests). A normal
//! test run never writes them. On a mismatch the actual image and a difference image are written
//! to `target/golden-failures/`.
//!
//! Tolerance (per image): a pixel differs when any channel is off by more than 24/255; at most
//! 0.3 % of pixels may differ, and the mean absolute difference must stay under 1.5/255.
//! Why: lavapipe is deterministic for one Mesa/LLVM build, but LLVM's vector width follows the
//! CPU (AVX2 vs AVX-512), which moves MSAA edge coverage and glyph antialiasing by a few levels
//! on edge pixels. A real regression is much larger: a moved card, a missing or re-wrapped text
//! line (≈ 1–2 % of the picture), a wrong colour or a missing hologram.

use std::num::NonZeroU32;
use std::path::PathBuf;

use hologuide::app::script::Command;
use hologuide::guide::GuidePackage;
use hologuide::xr::headless::shots::{Situation, model_shot, step_shot};
use hologuide::xr::headless::{Headless, HeadlessConfig};

use crate::support::{gltf_corpus, repo};

const CHANNEL_TOLERANCE: u8 = 24;
const MAX_DIFFERING_FRACTION: f64 = 0.003;
const MAX_MEAN_DIFFERENCE: f64 = 1.5;
const WIDTH: u32 = 800;
const HEIGHT: u32 = 500;

fn headless() -> Headless {
    Headless::new(HeadlessConfig::screenshot(WIDTH, HEIGHT)).expect("lavapipe (scripts/setup)")
}

fn demo() -> GuidePackage {
    GuidePackage::load(&repo().join("assets/demo")).expect("demo guide")
}

/// Runs `draw` inside a validation error scope and fails on any wgpu error.
fn without_gpu_errors<T>(headless: &mut Headless, draw: impl FnOnce(&mut Headless) -> T) -> T {
    let validation = headless
        .gpu
        .device
        .push_error_scope(wgpu::ErrorFilter::Validation);
    let out_of_memory = headless
        .gpu
        .device
        .push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let result = draw(headless);
    let oom = pollster::block_on(out_of_memory.pop());
    let error = pollster::block_on(validation.pop());
    assert!(oom.is_none(), "wgpu out of memory: {oom:?}");
    assert!(error.is_none(), "wgpu validation error: {error:?}");
    let uncaptured = headless.gpu.uncaptured_errors();
    assert!(uncaptured.is_empty(), "wgpu errors: {uncaptured:?}");
    result
}

fn golden_path(name: &str) -> PathBuf {
    repo().join("tests/golden").join(format!("{name}.png"))
}

pub fn check_golden(name: &str, actual: &image::RgbaImage) {
    if std::env::var("HOLOGUIDE_REGENERATE_GOLDENS").as_deref() == Ok("1") {
        actual
            .save(golden_path(name))
            .expect("writing the golden image");
        return;
    }
    assert_matches_golden(name, actual);
}

/// Compares with the golden `name` within the tolerance above; never writes it (other backends'
/// pictures, e.g. the window's, are checked against the headless goldens).
pub fn assert_matches_golden(name: &str, actual: &image::RgbaImage) {
    let path = golden_path(name);
    let golden = image::open(&path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (create it with scripts/regenerate-goldens)",
                path.display()
            )
        })
        .into_rgba8();
    assert_eq!(
        golden.dimensions(),
        actual.dimensions(),
        "{name}: image size changed"
    );
    let mut differing = 0usize;
    let mut total = 0u64;
    let mut diff = image::RgbaImage::new(actual.width(), actual.height());
    for ((a, g), d) in actual.pixels().zip(golden.pixels()).zip(diff.pixels_mut()) {
        let worst = (0..4).map(|c| a[c].abs_diff(g[c])).max().unwrap_or(0);
        total += (0..3).map(|c| u64::from(a[c].abs_diff(g[c]))).sum::<u64>();
        if worst > CHANNEL_TOLERANCE {
            differing += 1;
            *d = image::Rgba([255, 0, 255, 255]);
        } else {
            *d = image::Rgba([g[0] / 3, g[1] / 3, g[2] / 3, 255]);
        }
    }
    let pixels = (actual.width() * actual.height()) as f64;
    let fraction = differing as f64 / pixels;
    let mean = total as f64 / (pixels * 3.0);
    if fraction > MAX_DIFFERING_FRACTION || mean > MAX_MEAN_DIFFERENCE {
        let dir = repo().join("target/golden-failures");
        let _ = std::fs::create_dir_all(&dir);
        let _ = actual.save(dir.join(format!("{name}.actual.png")));
        let _ = diff.save(dir.join(format!("{name}.diff.png")));
        panic!(
            "{name}: {:.3} % of pixels differ (limit {:.1} %), mean difference {mean:.2}/255 \
             (limit {MAX_MEAN_DIFFERENCE}); see {}",
            fraction * 100.0,
            MAX_DIFFERING_FRACTION * 100.0,
            dir.display()
        );
    }
}

pub fn step(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("step numbers start at 1")
}

pub fn online() -> Situation {
    Situation {
        online: true,
        ..Situation::default()
    }
}

#[test]
fn every_demo_step_renders_as_its_golden_image() {
    let package = demo();
    let mut headless = headless();
    for n in 1..=package.guide.step_count() as u32 {
        let image = without_gpu_errors(&mut headless, |h| {
            step_shot(h, &package, step(n), &online()).expect("renders")
        });
        check_golden(&format!("demo-step-{n:02}"), &image);
    }
}

#[test]
fn offline_banner_shows_when_offline_and_not_when_online() {
    let package = demo();
    let mut headless = headless();
    let offline = without_gpu_errors(&mut headless, |h| {
        step_shot(h, &package, step(1), &Situation::default()).expect("renders")
    });
    check_golden("offline-banner-on", &offline);
    let online = without_gpu_errors(&mut headless, |h| {
        step_shot(h, &package, step(1), &online()).expect("renders")
    });
    // The banner is orange: the offline picture has over 3000 more orange pixels than the online
    // one (where only the shaded arrow hologram has a few; the banner is ≈ 4500 pixels here).
    let orange = |image: &image::RgbaImage| {
        image
            .pixels()
            .filter(|p| p[0] > 200 && p[1] > 120 && p[1] < 190 && p[2] < 80)
            .count()
    };
    let (on, off) = (orange(&offline), orange(&online));
    assert!(
        on > off + 3000,
        "banner: {on} orange pixels offline, {off} online"
    );
}

#[test]
fn all_list_with_guides_and_empty_render_as_their_golden_images() {
    let package = demo();
    let mut headless = headless();
    let with_guides = Situation {
        online: false,
        all_list: Some(vec![
            "Replace the filter cartridge — CP-200 coolant pump".into(),
            "Lubricate the motor bearings".into(),
            "Check the coolant concentration".into(),
        ]),
        status: None,
        prompt: None,
        ..Situation::default()
    };
    let image = without_gpu_errors(&mut headless, |h| {
        step_shot(h, &package, step(1), &with_guides).expect("renders")
    });
    check_golden("all-list-guides", &image);
    let empty = Situation {
        all_list: Some(Vec::new()),
        ..with_guides
    };
    let image = without_gpu_errors(&mut headless, |h| {
        step_shot(h, &package, step(1), &empty).expect("renders")
    });
    check_golden("all-list-empty", &image);
}

#[test]
fn a_status_message_renders_as_a_toast() {
    let package = demo();
    let mut headless = headless();
    let situation = Situation {
        online: false,
        all_list: None,
        status: Some("Sign in needs a network connection".into()),
        prompt: None,
        ..Situation::default()
    };
    let image = without_gpu_errors(&mut headless, |h| {
        step_shot(h, &package, step(3), &situation).expect("renders")
    });
    check_golden("toast-sign-in-offline", &image);
}

/// S7: the update prompt over the card's upper half, its two buttons, the card readable below.
#[test]
fn the_update_prompt_renders_over_the_card_with_its_two_answers() {
    let package = demo();
    let mut headless = headless();
    let situation = Situation {
        prompt: Some("Updates available: 3 guides, 42.7 MiB".into()),
        ..online()
    };
    let image = without_gpu_errors(&mut headless, |h| {
        step_shot(h, &package, step(2), &situation).expect("renders")
    });
    check_golden("update-prompt", &image);
}

/// N6: each capture kind's card, unanswered or while typing, and answered. The demo has the
/// check, the branching choice and the torque; the text and the sign-off come from a package
/// under `tests/data/captures`.
#[test]
fn each_capture_kind_renders_its_card_and_its_answered_state() {
    let demo = demo();
    let captures = GuidePackage::load(&repo().join("tests/data/captures")).expect("captures");
    let enter = |typed: &str| Command::Enter(typed.into());
    let answer = |n: u32| Command::Answer(step(n));
    let kept = Some("14:02 UTC".to_owned());
    let cases: [(&str, &GuidePackage, u32, Situation); 8] = [
        ("capture-choice", &demo, 5, online()),
        (
            "capture-check-answered",
            &demo,
            7,
            Situation {
                given: vec![answer(1)],
                kept_at: kept.clone(),
                ..online()
            },
        ),
        (
            "capture-number-typing",
            &demo,
            9,
            Situation {
                typed: "25.4".into(),
                ..online()
            },
        ),
        (
            "capture-number-out-of-limits",
            &demo,
            9,
            Situation {
                given: vec![enter("29.5")],
                kept_at: kept.clone(),
                ..online()
            },
        ),
        (
            "capture-text-typing",
            &captures,
            1,
            Situation {
                typed: "CP-200".into(),
                ..online()
            },
        ),
        (
            "capture-text-answered",
            &captures,
            1,
            Situation {
                given: vec![enter("CP-200 SN 4471")],
                kept_at: kept.clone(),
                ..online()
            },
        ),
        (
            "capture-signoff-answered",
            &captures,
            2,
            Situation {
                operator: Some("Alice Martin".into()),
                given: vec![answer(1)],
                kept_at: kept,
                ..online()
            },
        ),
        ("capture-photo", &captures, 3, online()),
    ];
    let mut headless = headless();
    for (name, package, number, situation) in cases {
        let image = without_gpu_errors(&mut headless, |h| {
            step_shot(h, package, step(number), &situation).expect("renders")
        });
        check_golden(name, &image);
    }
}

fn read_test_model(path: &str) -> Result<Vec<u8>, hologuide::guide::AssetError> {
    std::fs::read(gltf_corpus().join(path)).map_err(|source| hologuide::guide::AssetError::File {
        path: path.to_owned(),
        source,
    })
}

#[test]
fn sample_models_render_as_their_golden_images_from_a_fixed_viewpoint() {
    let mut headless = headless();
    for (asset, animation, time) in [
        ("BoxTextured/glTF-Binary/BoxTextured.glb", None, 0.0),
        ("BoxVertexColors/glTF-Binary/BoxVertexColors.glb", None, 0.0),
        (
            "MetalRoughSpheresNoTextures/glTF-Binary/MetalRoughSpheresNoTextures.glb",
            None,
            0.0,
        ),
        // Morph targets, half-way through the animation.
        (
            "AnimatedMorphCube/glTF-Binary/AnimatedMorphCube.glb",
            Some("Square"),
            1.0,
        ),
        // KHR_texture_transform: every square must show "Correct" (or "Not supported" where
        // the test model asks for something optional), none "Error".
        (
            "TextureTransformTest/glTF/TextureTransformTest.gltf",
            None,
            0.0,
        ),
        // A skin: the cylinder bent by its second joint.
        ("RiggedSimple/glTF-Binary/RiggedSimple.glb", Some("#0"), 1.0),
    ] {
        let image = without_gpu_errors(&mut headless, |h| {
            model_shot(h, asset, &read_test_model, animation, time).expect("renders")
        });
        let file = asset.rsplit('/').next().unwrap_or(asset);
        let name = format!(
            "model-{}",
            file.trim_end_matches(".glb").trim_end_matches(".gltf")
        );
        check_golden(&name, &image);
    }
}
