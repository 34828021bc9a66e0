//! The renderer on bad input and over time, on lavapipe: broken holograms are left out with a
//! message naming them while the rest renders; a warm renderer allocates no GPU resources.

use glam::{Mat4, Vec3};

use hologuide::scene::{CardFollower, Frame, HologramInstance, SceneInput};
use hologuide::xr::headless::{Headless, HeadlessConfig, scripted_head};

use hologuide::guide::{AssetError, AssetSource};

use crate::support::{gltf_corpus, hologuide, repo, run, stdout};

/// Test packages from `tests/data`, and corpus models under `corpus/`.
fn read(path: &str) -> Result<Vec<u8>, AssetError> {
    let file = match path.strip_prefix("corpus/") {
        Some(in_corpus) => gltf_corpus().join(in_corpus),
        None => repo().join("tests/data").join(path),
    };
    std::fs::read(file).map_err(|source| AssetError::File {
        path: path.to_owned(),
        source,
    })
}

fn hologram(asset: &str, x: f32) -> HologramInstance {
    HologramInstance {
        asset: asset.into(),
        world: Mat4::from_translation(Vec3::new(x, 1.5, -1.2)) * Mat4::from_scale(Vec3::splat(0.2)),
        animation: None,
        time_s: 0.0,
    }
}

#[test]
fn broken_and_missing_holograms_are_left_out_with_a_message_and_the_rest_still_renders() {
    let mut headless = Headless::new(HeadlessConfig::screenshot(320, 200)).expect("lavapipe");
    let scope = headless
        .gpu
        .device
        .push_error_scope(wgpu::ErrorFilter::Validation);
    let frame = Frame {
        panels: Vec::new(),
        pictures: Vec::new(),
        holograms: vec![
            hologram("broken/truncated-model/models/box.glb", -0.3),
            hologram("nowhere/missing.glb", 0.0),
            hologram(
                "corpus/BoxVertexColors/glTF-Binary/BoxVertexColors.glb",
                0.3,
            ),
        ],
    };
    let images = headless
        .render(&frame, hologuide::scene::Pose::standing(), &read)
        .expect("renders");
    assert!(
        pollster::block_on(scope.pop()).is_none(),
        "wgpu validation error"
    );
    assert!(headless.gpu.uncaptured_errors().is_empty());

    let truncated = headless
        .renderer
        .prepare_asset("broken/truncated-model/models/box.glb", &read)
        .expect_err("truncated GLB refused")
        .to_string();
    assert!(
        truncated.contains("broken/truncated-model/models/box.glb"),
        "{truncated}"
    );
    let missing = headless
        .renderer
        .prepare_asset("nowhere/missing.glb", &read)
        .expect_err("missing file refused")
        .to_string();
    assert!(missing.contains("nowhere/missing.glb"), "{missing}");

    // The good box is drawn: its right third of the picture is not all background.
    let image = &images[0];
    let background = *image.get_pixel(0, 0);
    let drawn = (200..320)
        .flat_map(|x| (0..200).map(move |y| (x, y)))
        .filter(|&(x, y)| *image.get_pixel(x, y) != background)
        .count();
    assert!(
        drawn > 500,
        "the valid hologram is missing ({drawn} pixels)"
    );
}

/// The renderer's GPU allocations after each of `frames` frames of `view` (the Offline banner
/// on every other one), the renderer, and the last frame.
pub(crate) fn allocations_over_frames(
    view: &hologuide::app::View<'_>,
    read: &hologuide::render::AssetReader<'_>,
    frames: usize,
) -> (Vec<u64>, Headless, Frame) {
    let mut headless = Headless::new(HeadlessConfig::screenshot(320, 200)).expect("lavapipe");
    let mut follower = CardFollower::default();
    let mut allocations = Vec::new();
    let mut last = None;
    for i in 0..frames {
        let input = SceneInput {
            view,
            online: i % 2 == 0,
            all_list: None,
            status: None,
            prompt: None,
            head: scripted_head(),
            anchors: &[],
            anchors_tracked: false,
            step_time_s: i as f32 * 0.25,
        };
        let frame = Frame::build(&input, &mut follower, 0.25);
        headless
            .submit(&frame, scripted_head(), read)
            .expect("draws");
        headless.wait().expect("finishes");
        allocations.push(headless.renderer.stats().gpu_allocations);
        last = Some(frame);
    }
    (allocations, headless, last.expect("at least one frame"))
}

#[test]
fn a_warm_renderer_allocates_no_gpu_resources_per_frame() {
    let package = hologuide::demo::load().expect("demo");
    let app = hologuide::app::App::open(
        std::sync::Arc::new(package.guide.clone()),
        hologuide::app::GuideSource::Demo,
        None,
    );
    let view = app.view();
    let read = |p: &str| package.read(p);
    let (allocations, _, _) = allocations_over_frames(&view, &read, 6);
    // Frames 1 and 2 create the step card's and the banner's faces; from then on nothing.
    assert!(allocations[0] > 0);
    assert_eq!(
        allocations[2], allocations[5],
        "allocations per frame: {allocations:?}"
    );
}

#[test]
fn gltf_corpus_rows_load_or_are_rejected_as_its_manifest_says_without_panics() {
    let corpus = gltf_corpus();
    if !corpus.join("manifest.tsv").is_file() {
        eprintln!("skipped: no glTF corpus at {}", corpus.display());
        return;
    }
    let output = run(hologuide().args(["bench", "gltf"]).arg(&corpus));
    assert!(output.status.success());
    let text = stdout(&output);
    let last = text.lines().last().unwrap_or_default();
    assert!(last.starts_with("glTF: loaded "), "{last}");
    assert!(last.ends_with(", panics 0"), "{last}");
    // Every reject row is rejected.
    let (_, rejected) = last.split_once("rejected ").expect("totals");
    let (got, rows) = rejected
        .split_once(',')
        .and_then(|(r, _)| r.split_once('/'))
        .expect("R/M");
    assert_eq!(got, rows, "{last}");
}

#[test]
fn compressed_and_quantized_corpus_variants_have_the_geometry_of_the_plain_file() {
    let corpus = gltf_corpus();
    if !corpus.join("manifest.tsv").is_file() {
        eprintln!("skipped: no glTF corpus at {}", corpus.display());
        return;
    }
    let load = |path: &str| {
        hologuide::model::corpus::load_file(&corpus.join(path), 8192)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    for (plain, variants) in [
        (
            "Box/glTF-Binary/Box.glb",
            &[
                "Box/gen-meshopt/Box.glb",
                "Box/gen-quantized/Box.glb",
                "Box/glTF-Draco/Box.gltf",
            ][..],
        ),
        (
            "CesiumMilkTruck/glTF-Binary/CesiumMilkTruck.glb",
            &["CesiumMilkTruck/glTF-Draco/CesiumMilkTruck.gltf"][..],
        ),
        (
            "2CylinderEngine/glTF-Binary/2CylinderEngine.glb",
            &["2CylinderEngine/gen-meshopt/2CylinderEngine.glb"][..],
        ),
    ] {
        let reference = load(plain);
        let (lo, hi) = reference.bounds().expect("bounds");
        let size = (hi - lo).length();
        for variant in variants {
            let model = load(variant);
            assert_eq!(
                model.triangle_count(),
                reference.triangle_count(),
                "{variant}"
            );
            let (vlo, vhi) = model.bounds().expect("bounds");
            // Quantization (meshopt, Draco) moves vertices by a small fraction of the model's size.
            let error = (vlo - lo).length().max((vhi - hi).length()) / size;
            assert!(
                error < 0.01,
                "{variant}: bounds differ by {error} of the size"
            );
        }
    }
}

fn read_sample(path: &str) -> Result<Vec<u8>, AssetError> {
    std::fs::read(gltf_corpus().join(path)).map_err(|source| AssetError::File {
        path: path.to_owned(),
        source,
    })
}

/// Pixels that differ between two pictures of the same size.
fn differing_pixels(a: &image::RgbaImage, b: &image::RgbaImage) -> usize {
    a.pixels()
        .zip(b.pixels())
        .filter(|(p, q)| (0..3).any(|c| p[c].abs_diff(q[c]) > 24))
        .count()
}

#[test]
fn skinned_and_morphed_models_move_with_their_animation() {
    let mut headless = Headless::new(HeadlessConfig::screenshot(320, 200)).expect("lavapipe");
    for (asset, animation) in [
        ("RiggedSimple/glTF-Binary/RiggedSimple.glb", "#0"),
        (
            "AnimatedMorphCube/glTF-Binary/AnimatedMorphCube.glb",
            "Square",
        ),
    ] {
        let shot = |h: &mut Headless, t: f32| {
            hologuide::xr::headless::shots::model_shot(h, asset, &read_sample, Some(animation), t)
                .expect("renders")
        };
        let rest = shot(&mut headless, 0.0);
        let moved = shot(&mut headless, 1.0);
        let changed = differing_pixels(&rest, &moved);
        assert!(
            changed > 300,
            "{asset}: only {changed} pixels changed between t=0 and t=1"
        );
    }
    assert!(headless.gpu.uncaptured_errors().is_empty());
}

#[test]
fn a_multiview_pass_draws_both_eyes_as_two_single_view_passes_do() {
    let package = hologuide::demo::load().expect("demo");
    let app = hologuide::app::App::open(
        std::sync::Arc::new(package.guide.clone()),
        hologuide::app::GuideSource::Demo,
        None,
    );
    let view = app.view();
    let input = SceneInput {
        view: &view,
        online: false,
        all_list: None,
        status: None,
        prompt: None,
        head: scripted_head(),
        anchors: &[],
        anchors_tracked: false,
        step_time_s: 0.5,
    };
    let frame = Frame::build(&input, &mut CardFollower::default(), 0.0);
    let read = |p: &str| package.read(p);
    let config = |multiview| HeadlessConfig {
        width: 320,
        height: 360,
        multiview,
        ..HeadlessConfig::stereo_headset()
    };
    let mut two_passes = Headless::new(config(false)).expect("lavapipe");
    let mut multiview = Headless::new(config(true)).expect("lavapipe");
    assert!(
        multiview.is_multiview(),
        "lavapipe offers multiview (VK_KHR_multiview is core Vulkan 1.1)"
    );
    let scope = multiview
        .gpu
        .device
        .push_error_scope(wgpu::ErrorFilter::Validation);
    let expected = two_passes
        .render(&frame, scripted_head(), &read)
        .expect("renders");
    let actual = multiview
        .render(&frame, scripted_head(), &read)
        .expect("renders");
    let error = pollster::block_on(scope.pop());
    assert!(error.is_none(), "wgpu validation error: {error:?}");
    assert_eq!(actual.len(), 2);
    for (eye, (a, e)) in actual.iter().zip(&expected).enumerate() {
        let differing = differing_pixels(a, e);
        assert!(differing < 100, "eye {eye}: {differing} pixels differ");
    }
    // The eyes see the scene from 63 mm apart: the two pictures differ.
    assert!(differing_pixels(&actual[0], &actual[1]) > 100);
}

#[test]
fn demo_headless_writes_one_png_per_step_and_prints_their_paths() {
    let out = tempfile::tempdir().expect("temp dir");
    let output = run(hologuide()
        .args([
            "demo",
            "--backend",
            "headless",
            "--size",
            "320x200",
            "--out",
        ])
        .arg(out.path()));
    assert!(
        output.status.success(),
        "{}",
        crate::support::stderr(&output)
    );
    let printed: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    assert_eq!(printed.len(), 10, "{printed:?}");
    for n in 1..=10 {
        let path = out.path().join(format!("step-{n:02}.png"));
        assert_eq!(printed[n - 1], path.display().to_string());
        let image = image::open(&path).expect("a PNG");
        assert_eq!((image.width(), image.height()), (320, 200));
    }
}

#[test]
fn demo_headless_refuses_a_malformed_size_with_a_clear_message() {
    let output = run(hologuide().args(["demo", "--backend", "headless", "--size", "big"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(crate::support::stderr(&output).contains("WIDTHxHEIGHT"));
}

#[test]
fn demo_auto_without_a_display_falls_back_to_headless_and_says_where_the_pictures_are() {
    let out = tempfile::tempdir().expect("temp dir");
    let output = run(hologuide()
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("XR_RUNTIME_JSON")
        // An empty runtime folder: no monado-service of a developer's can answer.
        .env("XDG_RUNTIME_DIR", out.path())
        .args(["demo", "--backend", "auto", "--size", "160x100", "--out"])
        .arg(out.path()));
    assert!(
        output.status.success(),
        "{}",
        crate::support::stderr(&output)
    );
    let stderr = crate::support::stderr(&output);
    // One line says which backend was picked and why, and where the pictures are.
    let line = stderr
        .lines()
        .find(|l| l.starts_with("backend: "))
        .unwrap_or_else(|| panic!("no backend line in {stderr}"));
    assert!(line.starts_with("backend: headless ("), "{line}");
    assert!(line.contains("OpenXR runtime"), "{line}");
    assert!(line.contains("no display: DISPLAY is not set"), "{line}");
    assert!(
        line.ends_with(&format!("PNGs in {}", out.path().display())),
        "{line}"
    );
    assert!(out.path().join("step-09.png").is_file());
}

/// A depth target the caller owns (what an OpenXR depth swapchain image is to the renderer).
fn depth_target(device: &wgpu::Device, width: u32, height: u32) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some("caller's depth"),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: hologuide::render::DEPTH_FORMAT,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    })
}

#[test]
fn depth_drawn_into_a_callers_view_is_kept_and_mismatched_depth_views_are_refused() {
    use hologuide::render::{DepthViews, EyeView, EyeViews, RenderError, Renderer, Targets, gpu};
    let (width, height) = (64, 48);
    let lavapipe = hologuide::render::gpu::Gpu::headless().expect("lavapipe");
    let (device, queue) = (&lavapipe.device, &lavapipe.queue);
    let format = hologuide::xr::headless::FORMAT;
    let colour = gpu::offscreen_target(device, width, height, 1, format);
    let colour_view = colour.create_view(&wgpu::TextureViewDescriptor::default());
    let depth = depth_target(device, width, height);
    let depth_view = depth.create_view(&wgpu::TextureViewDescriptor::default());
    let head = hologuide::scene::Pose::standing();
    // A box straight ahead at eye height, 1.2 m away.
    let frame = Frame {
        panels: Vec::new(),
        pictures: Vec::new(),
        holograms: vec![HologramInstance {
            world: Mat4::from_translation(Vec3::new(0.0, 1.6, -1.2))
                * Mat4::from_scale(Vec3::splat(0.3)),
            ..hologram(
                "corpus/BoxVertexColors/glTF-Binary/BoxVertexColors.glb",
                0.0,
            )
        }],
    };
    let eyes = [EyeView::from_pose(head, 60.0, width as f32 / height as f32)];
    let colour_views = [&colour_view];
    let targets = Targets {
        eyes: &eyes,
        views: EyeViews::PerEye(&colour_views),
        width,
        height,
        clear: [0.0, 0.0, 0.0, 1.0],
    };
    let draw = |renderer: &mut Renderer, depth: &DepthViews<'_>| {
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        let drawn = renderer.draw_with_depth(&mut encoder, &frame, &targets, Some(depth), &read);
        queue.submit([encoder.finish()]);
        drawn
    };

    let mut renderer = Renderer::new(device, queue, format, 1);
    let depth_views = [&depth_view];
    draw(&mut renderer, &DepthViews::PerEye(&depth_views)).expect("draws with the caller's depth");
    let texels = gpu::read_rgba(device, queue, &depth, 0).expect("depth reads back");
    let image = gpu::read_rgba(device, queue, &colour, 0).expect("colour reads back");
    // Where the box was drawn (lit on the black clear), the depth is in front of the far
    // plane; everywhere else it is the clear value.
    let mut box_pixels = 0;
    for (x, y, pixel) in image.enumerate_pixels() {
        let depth = f32::from_le_bytes(texels.get_pixel(x, y).0);
        let lit = pixel.0[..3].iter().any(|&c| c > 0);
        box_pixels += usize::from(lit);
        if lit {
            assert!(depth > 0.0 && depth < 1.0, "({x}, {y}): depth {depth}");
        } else {
            assert_eq!(depth, 1.0, "({x}, {y}) is empty but has depth");
        }
    }
    assert!(box_pixels > 50, "the box covers {box_pixels} pixels");
    assert!(
        lavapipe.uncaptured_errors().is_empty(),
        "{:?}",
        lavapipe.uncaptured_errors()
    );

    // Two depth views for one colour view, and a multisampling renderer: refused, not drawn.
    let two = [&depth_view, &depth_view];
    let refused = draw(&mut renderer, &DepthViews::PerEye(&two));
    assert!(
        matches!(refused, Err(RenderError::DepthMismatch { sample_count: 1 })),
        "{refused:?}"
    );
    let mut msaa = Renderer::new(device, queue, format, 4);
    let refused = draw(&mut msaa, &DepthViews::PerEye(&depth_views));
    let message = refused
        .expect_err("a 4x renderer cannot use a 1x depth view")
        .to_string();
    assert!(message.contains("multisamples (4x)"), "{message}");
}
