//! Anchor poses from the virtual camera (issue 16, X3): a 50 mm sticker seen at 0.3–1.5 m and
//! 0–45°, decoded by the app's decoder, its pose from the corners, carried into the world with
//! the head pose and averaged over noisy frames as the app's anchor tracker does. The table of
//! errors is printed (`cargo test anchor_pose -- --nocapture`).
//!
//! Held: under 5 mm and 1° wherever the code is read within a metre (the target;
//! HoloLens 2 documents 5–10 mm for its own QR tracking there). At a metre the code is 50 px
//! across, 2 px a module, and a degree of tilt moves its far side four hundredths of a pixel
//! against its near one: the corners are fitted to every pixel of the code
//! (`camera::align`), not only to its finder patterns' edges. At a metre turned 30° and more,
//! and at 1.5 m, our decoder does not read the code at 1280×720 (the table says so); the
//! decoder's reach is issue 15's.

use std::time::Instant;

use glam::{Quat, Vec3};

use hologuide::app::anchors::AnchorTracker;
use hologuide::app::stickers::anchor_in_world;
use hologuide::camera::CameraSource;
use hologuide::camera::Sighting;
use hologuide::camera::room::{Room, Sticker};
use hologuide::camera::virtual_camera::{CameraModel, Degradations, HeadFeed, VirtualCamera};
use hologuide::qr::Decoder;
use hologuide::scene::Pose;

/// Noisy frames per case, as half a second of a 30 Hz camera gives the tracker.
const FRAMES: usize = 6;

struct Case {
    distance_m: f32,
    angle_deg: f32,
    decoded: usize,
    single_mm: f32,
    single_deg: f32,
    tracked_mm: f32,
    tracked_deg: f32,
}

fn measure(distance_m: f32, angle_deg: f32) -> Case {
    let model = CameraModel::hololens2();
    // A sticker on a wall 1.3 m up, turned by `angle_deg` from the line of sight.
    let sticker_pose = Pose {
        position: Vec3::new(0.1, 1.3, -2.0),
        orientation: Quat::from_rotation_y(angle_deg.to_radians()),
    };
    // The head `distance_m` in front of the sticker (camera mount included), looking at it.
    let mut head = Pose {
        position: sticker_pose.position + Vec3::Z * distance_m,
        orientation: Quat::IDENTITY,
    };
    head.position -= model.camera_from_head.position;
    let sticker = Sticker::new("hologuide:pump-7", 0.05, sticker_pose).expect("a sticker");
    let room = Room {
        stickers: vec![sticker],
        boxes: Vec::new(),
    };
    let noise = Degradations {
        noise_sigma: 2.0,
        ..Degradations::default()
    };
    let mut camera = VirtualCamera::new(room, model, noise, HeadFeed::new(head));
    let mut decoder = Decoder::new();
    let mut tracker = AnchorTracker::default();
    let (mut decoded, mut single_mm, mut single_deg) = (0, Vec::new(), Vec::new());
    for _ in 0..FRAMES {
        let frame = camera.next_frame().expect("a frame");
        let gray = frame.gray().expect("a frame of its size");
        for detection in decoder.decode(&gray) {
            let sighting = Sighting::from_detection(detection, &frame);
            let Some(pose) = anchor_in_world(&sighting, 0.05, head) else {
                continue;
            };
            decoded += 1;
            single_mm.push(pose.position.distance(sticker_pose.position) * 1000.0);
            single_deg.push(
                pose.orientation
                    .angle_between(sticker_pose.orientation)
                    .to_degrees(),
            );
            tracker.add("pump", pose);
        }
    }
    let tracked = tracker.known().first().map(|a| a.pose);
    let median = |v: &mut Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f32::NAN)
    };
    Case {
        distance_m,
        angle_deg,
        decoded,
        single_mm: median(&mut single_mm),
        single_deg: median(&mut single_deg),
        tracked_mm: tracked.map_or(f32::NAN, |p| {
            p.position.distance(sticker_pose.position) * 1000.0
        }),
        tracked_deg: tracked.map_or(f32::NAN, |p| {
            p.orientation
                .angle_between(sticker_pose.orientation)
                .to_degrees()
        }),
    }
}

#[test]
fn a_50_mm_sticker_read_within_a_metre_is_placed_within_5_mm_and_1_degree() {
    let started = Instant::now();
    let mut cases = Vec::new();
    for distance in [0.3, 0.5, 1.0, 1.5] {
        for angle in [0.0, 15.0, 30.0, 45.0] {
            cases.push(measure(distance, angle));
        }
    }
    println!(
        "anchor pose, 50 mm code, 1280×720 at 64.69°, noise σ = 2 grey levels, {FRAMES} frames per case"
    );
    println!("distance  angle  decoded  median one frame      tracked (mean of inliers)");
    for c in &cases {
        println!(
            "{:>6.1} m  {:>4.0}°  {:>3}/{FRAMES}    {:>6.2} mm {:>5.2}°      {:>6.2} mm {:>5.2}°",
            c.distance_m,
            c.angle_deg,
            c.decoded,
            c.single_mm,
            c.single_deg,
            c.tracked_mm,
            c.tracked_deg
        );
    }
    println!("({:.1} s)", started.elapsed().as_secs_f32());
    for c in &cases {
        if c.distance_m > 1.0 {
            continue;
        }
        let (max_mm, max_deg) = (5.0, 1.0);
        // Read everywhere within half a metre, and face-on to 15° at a metre.
        let must_read = c.distance_m <= 0.5 || c.angle_deg <= 15.0;
        if c.decoded == 0 && !must_read {
            continue;
        }
        assert!(
            c.decoded > 0,
            "not read at {} m, {}°",
            c.distance_m,
            c.angle_deg
        );
        assert!(
            c.tracked_mm < max_mm && c.tracked_deg < max_deg,
            "{} m, {}°: {:.2} mm, {:.2}°",
            c.distance_m,
            c.angle_deg,
            c.tracked_mm,
            c.tracked_deg
        );
    }
}
