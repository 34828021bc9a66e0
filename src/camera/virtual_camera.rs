//! The virtual camera (X2, testers): a head-mounted camera that sees a [`Room`] — its QR
//! stickers and grey boxes — from wherever the head of the running front end is (OpenXR's
//! located views, the window's camera, scripted poses headless), so that walking to a sticker
//! on a desk opens its guide as on the floor.
//!
//! It draws on the CPU, on the camera's own thread, by casting one ray per pixel (nine on
//! pixels near a sticker, so small codes are area-sampled as a sensor would): the frame loop's
//! GPU queue is never shared with a camera, a frame is exact and the same on every machine, and
//! the picture is grey as the decoder reads it. The camera model is HoloLens 2's photo/video
//! camera as far as public numbers go: 1280×720, 64.69° across, 30 Hz; its mount on the head
//! ([`CameraModel::hololens2`]) is our estimate — the device reports it per frame.
//!
//! Degradations on request ([`Degradations`]): sensor noise, motion blur from the head's turn
//! during the exposure, exposure gain.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use glam::{Quat, Vec3};

use super::room::{GreyBox, Room, Sticker};
use super::{CameraError, CameraFrame, CameraSource, DEFAULT_HFOV_DEG, Intrinsics};
use crate::scene::Pose;

/// What the camera is and where it sits on the head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraModel {
    pub width: usize,
    pub height: usize,
    pub hfov_deg: f32,
    pub rate_hz: f32,
    /// The camera's pose relative to the head.
    pub camera_from_head: Pose,
}

impl CameraModel {
    /// HoloLens 2's photo/video camera at 1280×720, 30 Hz, mounted 2 cm above the eyes and 8 cm
    /// ahead of them, looking where the head looks.
    pub fn hololens2() -> Self {
        Self {
            width: 1280,
            height: 720,
            hfov_deg: DEFAULT_HFOV_DEG,
            rate_hz: 30.0,
            camera_from_head: Pose {
                position: Vec3::new(0.0, 0.02, -0.08),
                orientation: Quat::IDENTITY,
            },
        }
    }

    pub fn intrinsics(&self) -> Intrinsics {
        Intrinsics::from_hfov(self.width, self.height, self.hfov_deg)
    }

    pub fn period(&self) -> Duration {
        Duration::from_secs_f32(1.0 / self.rate_hz.clamp(1.0, 240.0))
    }

    /// The camera's pose in the world for a head at `head`.
    /// A frame of this camera: `pixels` seen from `head` at `captured_at`.
    fn frame(&self, pixels: Vec<u8>, captured_at: Duration, head: Pose) -> CameraFrame {
        CameraFrame {
            pixels,
            width: self.width,
            height: self.height,
            stride: self.width,
            captured_at,
            intrinsics: self.intrinsics(),
            camera_from_head: self.camera_from_head,
            head: Some(head),
        }
    }

    pub fn camera_in_world(&self, head: Pose) -> Pose {
        head.then(self.camera_from_head)
    }
}

/// Ways a real camera's picture is worse than the room; none by default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degradations {
    /// Standard deviation of the sensor noise, in 8-bit grey levels.
    pub noise_sigma: f32,
    /// Blur along the image motion of the head's turn during the exposure.
    pub motion_blur: bool,
    /// How long the shutter is open (for the blur), seconds.
    pub exposure_s: f32,
    /// Brightness gain on the scene (1 = well exposed; 0.3 = a dim hall).
    pub gain: f32,
}

impl Default for Degradations {
    fn default() -> Self {
        Self {
            noise_sigma: 0.0,
            motion_blur: false,
            exposure_s: 1.0 / 60.0,
            gain: 1.0,
        }
    }
}

/// What `--camera virtual:OPTIONS` asks for: degradations, the frame rate and the image size
/// (HoloLens 2's photo/video camera also runs at 15 and 5 Hz, and at 640×360 and 424×240,
/// with the same field of view).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VirtualOptions {
    pub degradations: Degradations,
    pub rate_hz: f32,
    pub size: (usize, usize),
}

impl VirtualOptions {
    /// `noise=SIGMA`, `blur`, `gain=G`, `exposure_ms=MS`, `rate=HZ`, comma-separated
    /// (`--camera virtual:noise=3,blur`).
    pub fn parse(spec: &str) -> Result<Self, CameraError> {
        let mut d = Degradations::default();
        let model = CameraModel::hololens2();
        let mut rate_hz = model.rate_hz;
        let mut size = (model.width, model.height);
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let number = || {
                value
                    .parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
            };
            match (key, number()) {
                ("noise", Some(v)) if v <= 64.0 => d.noise_sigma = v,
                ("gain", Some(v)) if (0.01..=16.0).contains(&v) => d.gain = v,
                ("exposure_ms", Some(v)) if (0.01..=200.0).contains(&v) => {
                    d.exposure_s = v / 1000.0;
                }
                ("rate", Some(v)) if (1.0..=240.0).contains(&v) => rate_hz = v,
                ("size", _) if parse_size(value).is_some() => {
                    size = parse_size(value).unwrap_or(size);
                }
                ("blur", _) if value.is_empty() => d.motion_blur = true,
                _ => return Err(CameraError::VirtualOption(part.chars().take(60).collect())),
            }
        }
        Ok(Self {
            degradations: d,
            rate_hz,
            size,
        })
    }
}

/// `WIDTHxHEIGHT`, 16 to 4096 pixels each way.
fn parse_size(text: &str) -> Option<(usize, usize)> {
    let (w, h) = text.split_once('x')?;
    let (w, h) = (w.parse().ok()?, h.parse().ok()?);
    ((16..=4096).contains(&w) && (16..=4096).contains(&h)).then_some((w, h))
}

/// The head pose of whichever front end runs, for the camera to follow: the app driver writes
/// it every frame, the camera reads the latest.
#[derive(Debug, Clone)]
pub struct HeadFeed(Arc<Mutex<Pose>>);

impl HeadFeed {
    pub fn new(head: Pose) -> Self {
        Self(Arc::new(Mutex::new(head)))
    }

    pub fn set(&self, head: Pose) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = head;
    }

    pub fn get(&self) -> Pose {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The virtual camera as a [`CameraSource`]: each frame seen from the head's latest pose.
pub struct VirtualCamera {
    room: Room,
    model: CameraModel,
    degradations: Degradations,
    head: HeadFeed,
    started: Instant,
    last: Option<(Instant, Pose)>,
    noise: NoiseSource,
}

impl VirtualCamera {
    pub fn new(room: Room, model: CameraModel, degradations: Degradations, head: HeadFeed) -> Self {
        Self {
            room,
            model,
            degradations,
            head,
            started: Instant::now(),
            last: None,
            noise: NoiseSource(0x2545_F491_4F6C_DD1D),
        }
    }
}

impl CameraSource for VirtualCamera {
    fn next_frame(&mut self) -> Result<CameraFrame, CameraError> {
        let now = Instant::now();
        let head = self.head.get();
        let camera = self.model.camera_in_world(head);
        let mut radiance = render(&self.room, camera, &self.model);
        let d = &self.degradations;
        if d.motion_blur
            && let Some((then, before)) = self.last
        {
            let dt = now.duration_since(then).as_secs_f32();
            let shift = image_motion(&self.model, before, camera, dt, d.exposure_s);
            radiance = blur_along(&radiance, self.model.width, self.model.height, shift);
        }
        self.last = Some((now, camera));
        let pixels = to_grey(&radiance, d.gain, d.noise_sigma, &mut self.noise);
        Ok(self
            .model
            .frame(pixels, now.duration_since(self.started), head))
    }
}

/// Light falling on the room: from above, a little from the front and right.
fn light() -> Vec3 {
    Vec3::new(0.3, 1.0, 0.5).normalize()
}

/// Reflectance of white label paper and of printed modules.
const PAPER: f32 = 0.85;
const INK: f32 = 0.05;

/// The room as `camera` sees it: linear radiance per pixel, row-major.
pub fn render(room: &Room, camera: Pose, model: &CameraModel) -> Vec<f32> {
    let k = model.intrinsics();
    let (width, height) = (model.width, model.height);
    let scene = Scene::new(room, camera);
    // Pixels near a sticker get nine rays: a code's modules are smaller than a pixel far away.
    let near_sticker: Vec<[f32; 4]> = room
        .stickers
        .iter()
        .map(|s| screen_box(s, camera, &k, width, height))
        .collect();
    let mut out = vec![0.0f32; width * height];
    for (v, row) in out.chunks_exact_mut(width).enumerate() {
        for (u, value) in row.iter_mut().enumerate() {
            let (x, y) = (u as f32, v as f32);
            let fine = near_sticker
                .iter()
                .any(|b| x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]);
            *value = if fine {
                let mut sum = 0.0;
                for sy in [1.0 / 6.0, 0.5, 5.0 / 6.0] {
                    for sx in [1.0 / 6.0, 0.5, 5.0 / 6.0] {
                        sum += scene.shade(k.ray(x + sx, y + sy));
                    }
                }
                sum / 9.0
            } else {
                scene.shade(k.ray(x + 0.5, y + 0.5))
            };
        }
    }
    out
}

impl Intrinsics {
    /// The ray through pixel position (u, v) in the camera's frame (−Z forward, +Y up).
    fn ray(&self, u: f32, v: f32) -> Vec3 {
        Vec3::new((u - self.cx) / self.fx, -(v - self.cy) / self.fy, -1.0)
    }

    /// Where a point in the camera's frame lands, if in front of it.
    fn project(&self, p: Vec3) -> Option<(f32, f32)> {
        (p.z < -1e-4).then(|| {
            (
                self.cx + self.fx * p.x / -p.z,
                self.cy - self.fy * p.y / -p.z,
            )
        })
    }
}

/// The pixel rectangle a sticker's label covers (grown by two pixels); none when it is wholly
/// behind the camera, the whole frame when only part of it is.
fn screen_box(
    sticker: &Sticker,
    camera: Pose,
    k: &Intrinsics,
    width: usize,
    height: usize,
) -> [f32; 4] {
    let h = sticker.label_half_m();
    let to_camera = camera.orientation.inverse();
    let mut b = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
    let mut behind = 0;
    for (x, y) in [(-h, h), (h, h), (h, -h), (-h, -h)] {
        let world = sticker.pose.position + sticker.pose.orientation * Vec3::new(x, y, 0.0);
        match k.project(to_camera * (world - camera.position)) {
            Some((u, v)) => b = [b[0].min(u), b[1].min(v), b[2].max(u), b[3].max(v)],
            None => behind += 1,
        }
    }
    match behind {
        0 => [b[0] - 2.0, b[1] - 2.0, b[2] + 2.0, b[3] + 2.0],
        4 => [f32::MAX, f32::MAX, f32::MIN, f32::MIN],
        _ => [0.0, 0.0, width as f32, height as f32],
    }
}

/// The room in the camera's frame, ready for rays.
struct Scene<'a> {
    camera: Pose,
    stickers: Vec<(&'a Sticker, Quat, Vec3)>,
    boxes: Vec<(&'a GreyBox, Quat, Vec3)>,
}

impl<'a> Scene<'a> {
    fn new(room: &'a Room, camera: Pose) -> Self {
        // Each object's inverse rotation and the camera's position in its frame.
        let local = |pose: Pose| {
            let inverse = pose.orientation.inverse();
            (inverse, inverse * (camera.position - pose.position))
        };
        Self {
            camera,
            stickers: room
                .stickers
                .iter()
                .map(|s| {
                    let (r, o) = local(s.pose);
                    (s, r, o)
                })
                .collect(),
            boxes: room
                .boxes
                .iter()
                .map(|b| {
                    let (r, o) = local(b.pose);
                    (b, r, o)
                })
                .collect(),
        }
    }

    /// Radiance along a ray given in the camera's frame.
    fn shade(&self, ray_in_camera: Vec3) -> f32 {
        let dir = self.camera.orientation * ray_in_camera;
        let origin = self.camera.position;
        let mut nearest = f32::INFINITY;
        // Far walls: a grey that brightens upwards.
        let mut value = 0.5 + 0.1 * (dir.y / dir.length()).clamp(-1.0, 1.0);
        if dir.y < 0.0 {
            let t = -origin.y / dir.y;
            if t > 0.0 {
                nearest = t;
                let p = origin + dir * t;
                // Half-metre floor tiles, so the floor has texture as a real one does.
                let tile = ((p.x * 2.0).floor() + (p.z * 2.0).floor()) as i64 & 1;
                value = if tile == 0 { 0.30 } else { 0.36 };
            }
        }
        for (b, inverse, o) in &self.boxes {
            let d = *inverse * dir;
            if let Some((t, normal)) = hit_box(*o, d, b.half_size)
                && t < nearest
            {
                nearest = t;
                let n = b.pose.orientation * normal;
                value = b.shade * (0.35 + 0.65 * n.dot(light()).max(0.0));
            }
        }
        for (s, inverse, o) in &self.stickers {
            let d = *inverse * dir;
            if d.z.abs() < 1e-9 {
                continue;
            }
            let t = -o.z / d.z;
            if !(t > 0.0 && t < nearest) {
                continue;
            }
            let p = *o + d * t;
            let half = s.label_half_m();
            if p.x.abs() > half || p.y.abs() > half {
                continue;
            }
            nearest = t;
            let paper_light = 0.45 + 0.55 * (s.pose.orientation * Vec3::Z).dot(light()).max(0.0);
            value = if d.z > 0.0 {
                // Its back: plain paper.
                0.6 * paper_light
            } else {
                let module = s.size_m / s.modules as f32;
                let column = ((p.x + s.size_m / 2.0) / module).floor() as isize;
                let row = ((s.size_m / 2.0 - p.y) / module).floor() as isize;
                paper_light * if s.is_dark(column, row) { INK } else { PAPER }
            };
        }
        value
    }
}

/// Slab test against an axis-aligned box centred at the origin: distance and outward normal.
fn hit_box(origin: Vec3, dir: Vec3, half: Vec3) -> Option<(f32, Vec3)> {
    let mut t_near = f32::NEG_INFINITY;
    let mut t_far = f32::INFINITY;
    let mut normal = Vec3::ZERO;
    for axis in 0..3 {
        let (o, d, h) = (origin[axis], dir[axis], half[axis]);
        if d.abs() < 1e-12 {
            if o.abs() > h {
                return None;
            }
            continue;
        }
        let (mut t0, mut t1) = ((-h - o) / d, (h - o) / d);
        let mut n = Vec3::ZERO;
        n[axis] = -d.signum();
        if t0 > t1 {
            std::mem::swap(&mut t0, &mut t1);
        }
        if t0 > t_near {
            t_near = t0;
            normal = n;
        }
        t_far = t_far.min(t1);
        if t_near > t_far {
            return None;
        }
    }
    (t_near > 0.0).then_some((t_near, normal))
}

/// How far, in pixels, the image moves during the exposure as the camera turned from `before`
/// to `now` in `dt` seconds.
fn image_motion(
    model: &CameraModel,
    before: Pose,
    now: Pose,
    dt: f32,
    exposure_s: f32,
) -> (f32, f32) {
    if dt <= 0.0 {
        return (0.0, 0.0);
    }
    let k = model.intrinsics();
    // A point a metre ahead of the old camera, seen by the new one.
    let ahead = before.position + before.forward();
    let seen = now.orientation.inverse() * (ahead - now.position);
    let Some((u, v)) = k.project(seen) else {
        return (0.0, 0.0);
    };
    let scale = (exposure_s / dt).min(1.0);
    ((u - k.cx) * scale, (v - k.cy) * scale)
}

/// Averages each pixel over the line it smeared along (`shift` pixels, nearest-pixel taps).
fn blur_along(image: &[f32], width: usize, height: usize, shift: (f32, f32)) -> Vec<f32> {
    let length = shift.0.hypot(shift.1);
    if length < 0.5 {
        return image.to_vec();
    }
    let taps = (length.ceil() as usize + 1).min(64);
    let mut out = vec![0.0f32; image.len()];
    for y in 0..height {
        for x in 0..width {
            let mut sum = 0.0;
            for i in 0..taps {
                let f = i as f32 / (taps - 1) as f32 - 0.5;
                let sx = (x as f32 + shift.0 * f)
                    .round()
                    .clamp(0.0, (width - 1) as f32) as usize;
                let sy = (y as f32 + shift.1 * f)
                    .round()
                    .clamp(0.0, (height - 1) as f32) as usize;
                sum += image[sy * width + sx];
            }
            out[y * width + x] = sum / taps as f32;
        }
    }
    out
}

/// Radiance to 8-bit grey: gain, a display gamma, Gaussian sensor noise.
fn to_grey(radiance: &[f32], gain: f32, noise_sigma: f32, noise: &mut NoiseSource) -> Vec<u8> {
    radiance
        .iter()
        .map(|&r| {
            let mut level = 255.0 * (r * gain).clamp(0.0, 1.0).powf(1.0 / 2.2);
            if noise_sigma > 0.0 {
                level += noise_sigma * noise.gaussian();
            }
            level.round().clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// xorshift64 and Box–Muller: the sensor's noise, the same on every run.
struct NoiseSource(u64);

impl NoiseSource {
    fn uniform(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        ((x >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    fn gaussian(&mut self) -> f32 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (std::f32::consts::TAU * b).cos()
    }
}

/// The room's view from `head` as a frame, at once (tests, benchmarks).
pub fn frame_at(room: &Room, model: &CameraModel, head: Pose) -> CameraFrame {
    let camera = model.camera_in_world(head);
    let pixels = to_grey(&render(room, camera, model), 1.0, 0.0, &mut NoiseSource(1));
    model.frame(pixels, Duration::ZERO, head)
}
