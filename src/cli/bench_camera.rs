//! `hologuide bench camera`: the QR path of the app with the virtual camera (issue 16).
//!
//! 1. Decode time of 1280×720 virtual-camera frames of the demo's room: ours, plain quircs and
//!    rxing on the same frames.
//! 2. The frame loop's CPU time per frame (its own thread: collecting sightings, anchor poses,
//!    the scene) at 60 Hz with the camera and decoder running on their threads, against the
//!    same loop without a camera, in the same run.
//! 3. Detection to guide step: the head turns to a sticker of another step; how long until
//!    that step is on screen (from the turn, and from the capture of the frame that showed it).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use glam::{Quat, Vec3};

use hologuide::app::GuideSource;
use hologuide::app::driver::{Driver, DriverSettings, Input};
use hologuide::app::head_path::HeadPath;
use hologuide::app::report::{Cause, Observation};
use hologuide::camera::decoding::QrWorker;
use hologuide::camera::room::{Room, Sticker};
use hologuide::camera::virtual_camera::{
    CameraModel, Degradations, HeadFeed, VirtualCamera, frame_at,
};
use hologuide::camera::{CameraFrame, Sighting};
use hologuide::clock::thread_cpu_time;
use hologuide::qr::file::GrayImage;
use hologuide::qr::{Decoder, GrayFrame};
use hologuide::scene::Pose;
use hologuide::xr::headless::{Headless, HeadlessConfig};
use hologuide::xr::{Content, Standalone};

use super::bench_qr::{decode_quircs, decode_rxing, percentile};

#[derive(Debug, Args)]
pub struct CameraBenchArgs {
    /// Frames of each frame loop (60 a second).
    #[arg(long, default_value_t = 900)]
    frames: usize,
    /// Sticker turns timed for the detection latency.
    #[arg(long, default_value_t = 16)]
    turns: usize,
}

const FRAME: Duration = Duration::from_nanos(1_000_000_000 / 60);

pub fn run(args: CameraBenchArgs) -> anyhow::Result<ExitCode> {
    let package = Arc::new(hologuide::demo::load().context("loading the demo guide")?);
    let room = Room::load(&hologuide::demo::room_path()?).context("the demo's room")?;
    let walk = HeadPath::parse(&std::fs::read_to_string(
        hologuide::demo::package_dir()?.join("poses.txt"),
    )?)?;
    let mut text = String::new();
    decode_times(&room, &walk, &mut text);
    frame_loop_cpu(&package, &room, &walk, args.frames, &mut text)?;
    latency(&package, args.turns, &mut text)?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Section 1: the same frames through each decoder.
fn decode_times(room: &Room, walk: &HeadPath, text: &mut String) {
    let model = CameraModel::hololens2();
    // The walk's second half: the nameplate sticker in view, nearer and nearer.
    let camera_frames: Vec<CameraFrame> = (40..=120)
        .step_by(8)
        .map(|n| frame_at(room, &model, walk.at(n)))
        .collect();
    let frames: Vec<GrayImage> = camera_frames
        .iter()
        .map(|frame| GrayImage {
            width: frame.width,
            height: frame.height,
            pixels: frame.pixels.clone(),
        })
        .collect();
    line!(
        text,
        "decode: {} virtual-camera frames of the demo's room, {}×{}, each decoded 3 times",
        frames.len(),
        model.width,
        model.height
    );
    line!(
        text,
        "  {:<8} {:>10} {:>10} {:>12}",
        "decoder",
        "median ms",
        "p95 ms",
        "codes read"
    );
    let mut ours = Decoder::new();
    let mut quirc = quircs::Quirc::new();
    for name in ["ours", "quircs", "rxing"] {
        let mut ms = Vec::new();
        let mut read = 0;
        for image in &frames {
            for repeat in 0..3 {
                let started = Instant::now();
                let codes = match name {
                    "ours" => GrayFrame::new(&image.pixels, image.width, image.height, image.width)
                        .map(|f| ours.decode(&f).len())
                        .unwrap_or(0),
                    "quircs" => decode_quircs(&mut quirc, image).len(),
                    _ => decode_rxing(image).len(),
                };
                ms.push(started.elapsed().as_secs_f64() * 1e3);
                if repeat == 0 {
                    read += codes;
                }
            }
        }
        line!(
            text,
            "  {name:<8} {:>10.2} {:>10.2} {:>7}/{:<4}",
            percentile(&ms, 0.5),
            percentile(&ms, 0.95),
            read,
            frames.len()
        );
    }
    // What the decoder thread adds per code for the anchor: the corners fitted to every pixel
    // of the code (camera::align) and the pose from them.
    let mut ms = Vec::new();
    for frame in &camera_frames {
        let Ok(gray) = frame.gray() else { continue };
        for detection in ours.decode(&gray) {
            for _ in 0..3 {
                let started = Instant::now();
                let sighting = Sighting::from_detection(detection.clone(), frame);
                ms.push(started.elapsed().as_secs_f64() * 1e3);
                std::hint::black_box(sighting);
            }
        }
    }
    line!(
        text,
        "  {:<8} {:>10.2} {:>10.2}   (per code read: corners aligned to its pixels, then its pose)",
        "pose",
        percentile(&ms, 0.5),
        percentile(&ms, 0.95)
    );
}

fn demo_driver(package: &Arc<hologuide::guide::GuidePackage>, camera: Option<HeadFeed>) -> Driver {
    Driver::new(
        Content::from_package(Arc::clone(package), GuideSource::Demo),
        Box::new(Standalone),
        DriverSettings {
            camera: camera.is_some(),
            head_feed: camera,
            ..DriverSettings::default()
        },
    )
}

/// One frame loop at 60 Hz, each frame drawn for both eyes of a headset on lavapipe: per
/// frame, the loop thread's CPU time and wall time, ms.
fn paced_loop(
    driver: &mut Driver,
    headless: &mut Headless,
    camera: Option<&QrWorker>,
    head: Pose,
    frames: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let (mut cpu, mut wall) = (Vec::with_capacity(frames), Vec::with_capacity(frames));
    let mut deadline = Instant::now();
    for _ in 0..frames {
        let (started, started_cpu) = (Instant::now(), thread_cpu_time());
        if let Some(camera) = camera {
            driver.collect_sightings(camera);
        }
        driver.frame(head, FRAME.as_secs_f32());
        if let Some(frame) = driver.last_frame() {
            let content = driver.content();
            headless.submit(frame, head, &|path: &str| content.read_asset(path))?;
            headless.wait()?;
        }
        cpu.push((thread_cpu_time() - started_cpu).as_secs_f64() * 1e3);
        wall.push(started.elapsed().as_secs_f64() * 1e3);
        deadline += FRAME;
        if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Ok((cpu, wall))
}

/// Section 2: the loop without and with the camera, the head where the sticker is in view.
fn frame_loop_cpu(
    package: &Arc<hologuide::guide::GuidePackage>,
    room: &Room,
    walk: &HeadPath,
    frames: usize,
    text: &mut String,
) -> anyhow::Result<()> {
    let head = walk.at(120);
    let config = HeadlessConfig {
        width: 720,
        height: 800,
        ..HeadlessConfig::stereo_headset()
    };
    let mut headless = Headless::new(config).context("starting the renderer")?;
    let mut without = demo_driver(package, None);
    // The renderer warms up (pipelines, the demo's models) before anything is timed.
    paced_loop(&mut without, &mut headless, None, head, 30)?;
    let (cpu_a, wall_a) = paced_loop(&mut without, &mut headless, None, head, frames)?;
    let feed = HeadFeed::new(head);
    let model = CameraModel::hololens2();
    let camera = VirtualCamera::new(room.clone(), model, Degradations::default(), feed.clone());
    let worker = QrWorker::with_camera(Box::new(camera), model.period())?;
    let mut with = demo_driver(package, Some(feed));
    let (cpu_b, wall_b) = paced_loop(&mut with, &mut headless, Some(&worker), head, frames)?;
    let anchors = with.report().anchors_found.len();
    line!(
        text,
        "\nframe loop at 60 Hz, {frames} frames each, the demo's step 1 in view of its sticker, \
         drawn for 2 eyes of 720×800 on {} (the loop thread's CPU time: sightings, anchors, \
         scene, encoding the draw)",
        headless.gpu.describe()
    );
    line!(
        text,
        "  {:<32} {:>9} {:>9} {:>9} {:>11}",
        "",
        "p50 ms",
        "p99 ms",
        "max ms",
        "wall p99 ms"
    );
    for (name, cpu, wall) in [
        ("no camera", &cpu_a, &wall_a),
        ("virtual camera 30 Hz + decoder", &cpu_b, &wall_b),
    ] {
        line!(
            text,
            "  {name:<32} {:>9.3} {:>9.3} {:>9.3} {:>11.3}",
            percentile(cpu, 0.5),
            percentile(cpu, 0.99),
            percentile(cpu, 1.0),
            percentile(wall, 0.99)
        );
    }
    line!(
        text,
        "  CPU p99 with / without: {:.2} (anchors found: {anchors}; frames the decoder skipped: {})",
        percentile(&cpu_b, 0.99) / percentile(&cpu_a, 0.99).max(1e-9),
        worker.frames_dropped()
    );
    Ok(())
}

/// Section 3: stickers of the demo's steps 2–9 around the head, 45° apart; the head turns to
/// each in turn.
fn latency(
    package: &Arc<hologuide::guide::GuidePackage>,
    turns: usize,
    text: &mut String,
) -> anyhow::Result<()> {
    let eye = Vec3::new(0.0, 1.6, 0.0);
    let steps: Vec<u32> = (2..=9).collect();
    let yaw = |i: usize| (i as f32 * 45.0).to_radians();
    let mut stickers = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let facing = Quat::from_rotation_y(yaw(i));
        let link = format!(
            "hologuide://{}/g/{}/s/{step}",
            hologuide::demo::ORGANISATION,
            hologuide::demo::GUIDE_ID
        );
        let pose = Pose {
            position: eye + facing * Vec3::new(0.0, 0.0, -0.5),
            orientation: facing,
        };
        stickers.push(Sticker::new(&link, 0.07, pose)?);
    }
    let room = Room {
        stickers,
        boxes: Vec::new(),
    };
    let looking_at = |i: usize| Pose {
        position: eye,
        orientation: Quat::from_rotation_y(yaw(i)),
    };
    let feed = HeadFeed::new(looking_at(steps.len() - 1));
    let model = CameraModel::hololens2();
    // The camera's clock (`captured_at`) starts with it.
    let camera_started = Instant::now();
    let camera = VirtualCamera::new(room, model, Degradations::default(), feed.clone());
    let worker = QrWorker::with_camera(Box::new(camera), model.period())?;
    let mut driver = demo_driver(package, Some(feed));
    let (mut from_turn, mut from_capture) = (Vec::new(), Vec::new());
    let mut missed = 0;
    for turn in 0..turns {
        // Never the sticker of the step on screen: it would do nothing.
        let i = turn % (steps.len() - 1);
        let head = looking_at(i);
        let turned = Instant::now();
        let deadline = turned + Duration::from_secs(5);
        let mut next = turned;
        let mut captured = Duration::ZERO;
        let shown = loop {
            while let Some(sighting) = worker.try_sighting() {
                captured = sighting.captured_at;
                driver.input(Input::QrDetected(Box::new(sighting)));
            }
            driver.frame(head, FRAME.as_secs_f32());
            let by_sticker = driver.take_observations().into_iter().any(|o| {
                matches!(
                    o,
                    Observation::Shown {
                        cause: Cause::Sticker,
                        ..
                    }
                )
            });
            if by_sticker {
                break Some(Instant::now());
            }
            if Instant::now() > deadline {
                break None;
            }
            next += FRAME;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        };
        let Some(shown) = shown else {
            missed += 1;
            continue;
        };
        from_turn.push((shown - turned).as_secs_f64() * 1e3);
        let since_start = shown.duration_since(camera_started);
        from_capture.push(since_start.saturating_sub(captured).as_secs_f64() * 1e3);
    }
    line!(
        text,
        "\ndetection to step shown: the head turns to a sticker of another step, {turns} turns \
         ({missed} never shown within 5 s); virtual camera 1280×720 at 30 Hz, frame loop 60 Hz"
    );
    line!(text, "  {:<34} {:>9} {:>9}", "", "median ms", "p95 ms");
    for (name, values) in [
        ("from the head's turn", &from_turn),
        ("from the frame's capture", &from_capture),
    ] {
        line!(
            text,
            "  {name:<34} {:>9.1} {:>9.1}",
            percentile(values, 0.5),
            percentile(values, 0.95)
        );
    }
    Ok(())
}
