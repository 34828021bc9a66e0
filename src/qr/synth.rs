//! Test-only camera frames of QR stickers: rendered from a pose (rotation, tilt under
//! perspective), with blur, uneven light, a specular highlight, clutter and noise, so each sweep
//! knows exactly what is in the frame.

use qrcode::{EcLevel, QrCode, Version};

use super::grid::homography;

/// Deterministic xorshift random numbers: sweeps sample their parameter space reproducibly.
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeds through splitmix64, so small seeds do not start with tiny values.
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)).max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [low, high).
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A printed code: its modules (row-major, dark = true) and side in modules.
pub(crate) struct Symbol {
    pub text: String,
    pub modules: Vec<bool>,
    pub side: usize,
}

/// A symbol at `version` (1..=40) and `ecc` (0..=3: L, M, Q, H) holding as much of a text
/// made from `seed` as fits (mixed case, so byte mode), at least its first few characters.
pub(crate) fn symbol(seed: u64, version: i16, ecc: usize) -> Symbol {
    let level = [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H][ecc % 4];
    let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:.-";
    let full: String = (0..3000)
        .map(|_| char::from(alphabet[(rng.next_u64() % alphabet.len() as u64) as usize]))
        .collect();
    let mut length = full.len();
    loop {
        let text = &full[..length];
        if let Ok(code) = QrCode::with_version(text.as_bytes(), Version::Normal(version), level) {
            return Symbol {
                text: text.to_owned(),
                side: code.width(),
                modules: code
                    .to_colors()
                    .iter()
                    .map(|&c| c == qrcode::Color::Dark)
                    .collect(),
            };
        }
        assert!(length > 1, "nothing fits version {version}");
        length = length * 9 / 10;
    }
}

/// Where and how a symbol is seen.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pose {
    /// Frame pixels per module (before tilt).
    pub module_px: f64,
    pub centre: (f64, f64),
    pub rotation_deg: f64,
    /// Tilt away from the camera about the symbol's horizontal axis.
    pub tilt_deg: f64,
    pub inverted: bool,
    pub mirrored: bool,
}

impl Pose {
    pub fn upright(module_px: f64, centre: (f64, f64)) -> Self {
        Self {
            module_px,
            centre,
            rotation_deg: 0.0,
            tilt_deg: 0.0,
            inverted: false,
            mirrored: false,
        }
    }
}

/// What the camera adds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Optics {
    /// Gaussian blur, in frame pixels.
    pub blur_px: f64,
    /// Light falling off from left to right: 0 even, 0.7 the right edge gets 30 %.
    pub gradient: f64,
    /// A specular highlight: centre, radius in pixels, added brightness.
    pub highlight: Option<(f64, f64, f64, f64)>,
    /// Random dark/light rectangles and lines behind the stickers.
    pub clutter: bool,
    pub noise: f64,
    pub seed: u64,
}

const DARK: f64 = 35.0;
const LIGHT: f64 = 215.0;
const QUIET_ZONE: f64 = 4.0;

/// Module-space corners (outer edge of the modules) → frame, and its inverse.
pub(crate) struct Placement {
    forward: [f64; 9],
    inverse: [f64; 9],
    side: f64,
}

impl Placement {
    pub fn new(side: usize, pose: &Pose, frame_width: usize, frame_height: usize) -> Self {
        let side_f = side as f64;
        let total = side_f + 2.0 * QUIET_ZONE;
        let focal = 1.5 * frame_width.max(frame_height) as f64;
        let (sin_r, cos_r) = pose.rotation_deg.to_radians().sin_cos();
        let (sin_t, cos_t) = pose.tilt_deg.to_radians().sin_cos();
        let project = |u: f64, v: f64| {
            let x = (u - total / 2.0) * pose.module_px;
            let y = (v - total / 2.0) * pose.module_px;
            let (yt, z) = (y * cos_t, y * sin_t);
            let (xr, yr) = (x * cos_r - yt * sin_r, x * sin_r + yt * cos_r);
            let scale = focal / (focal + z);
            (pose.centre.0 + xr * scale, pose.centre.1 + yr * scale)
        };
        let corners_uv = [(0.0, 0.0), (total, 0.0), (total, total), (0.0, total)];
        let corners_xy = corners_uv.map(|(u, v)| project(u, v));
        let c = homography(&corners_uv, &corners_xy).expect("a posed square is not degenerate");
        let forward = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], 1.0];
        let inverse = invert(&forward);
        Self {
            forward,
            inverse,
            side: side_f,
        }
    }

    /// Frame position of module-space point (u, v), 0..side across the modules.
    pub fn to_frame(&self, u: f64, v: f64) -> (f64, f64) {
        apply(&self.forward, u + QUIET_ZONE, v + QUIET_ZONE)
    }

    /// True corners of the symbol: top-left, top-right, bottom-right, bottom-left.
    pub fn corners(&self) -> [(f64, f64); 4] {
        let s = self.side;
        [(0.0, 0.0), (s, 0.0), (s, s), (0.0, s)].map(|(u, v)| self.to_frame(u, v))
    }

    fn to_modules(&self, x: f64, y: f64) -> (f64, f64) {
        let (u, v) = apply(&self.inverse, x, y);
        (u - QUIET_ZONE, v - QUIET_ZONE)
    }
}

/// Renders `stickers` into a `width`×`height` grey frame.
pub(crate) fn render(
    width: usize,
    height: usize,
    stickers: &[(&Symbol, Pose)],
    optics: &Optics,
) -> Vec<u8> {
    let mut rng = Rng::new(optics.seed);
    let mut reflectance = vec![0.75f64; width * height];
    if optics.clutter {
        for _ in 0..40 {
            let (x0, y0) = (rng.range(0.0, width as f64), rng.range(0.0, height as f64));
            let (w, h) = (rng.range(2.0, 60.0), rng.range(2.0, 60.0));
            let value = if rng.range(0.0, 1.0) < 0.5 {
                0.15
            } else {
                0.95
            };
            for y in (y0 as usize)..((y0 + h) as usize).min(height) {
                for x in (x0 as usize)..((x0 + w) as usize).min(width) {
                    reflectance[y * width + x] = value;
                }
            }
        }
    }
    let placements: Vec<Placement> = stickers
        .iter()
        .map(|(symbol, pose)| Placement::new(symbol.side, pose, width, height))
        .collect();
    const SUB: usize = 3;
    for y in 0..height {
        for x in 0..width {
            for ((symbol, pose), placement) in stickers.iter().zip(&placements) {
                let mut sum = 0.0;
                let mut inside = 0;
                for sy in 0..SUB {
                    for sx in 0..SUB {
                        let px = x as f64 + (sx as f64 + 0.5) / SUB as f64;
                        let py = y as f64 + (sy as f64 + 0.5) / SUB as f64;
                        let (u, v) = placement.to_modules(px, py);
                        let n = symbol.side as f64;
                        if u < -QUIET_ZONE
                            || v < -QUIET_ZONE
                            || u >= n + QUIET_ZONE
                            || v >= n + QUIET_ZONE
                        {
                            continue;
                        }
                        inside += 1;
                        let dark = u >= 0.0 && v >= 0.0 && u < n && v < n && {
                            let (mu, mv) = (u as usize, v as usize);
                            let (col, row) = if pose.mirrored { (mv, mu) } else { (mu, mv) };
                            symbol.modules[row * symbol.side + col]
                        };
                        sum += if dark != pose.inverted { DARK } else { LIGHT } / 255.0;
                    }
                }
                if inside > 0 {
                    let outside = (SUB * SUB - inside) as f64;
                    let i = y * width + x;
                    reflectance[i] = (sum + outside * reflectance[i]) / (SUB * SUB) as f64;
                }
            }
        }
    }
    let mut light = vec![0f64; width * height];
    for y in 0..height {
        for x in 0..width {
            let mut lux = 255.0 * (1.0 - optics.gradient * x as f64 / width as f64);
            if let Some((cx, cy, radius, strength)) = optics.highlight {
                let d2 = (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2);
                lux += strength * (-d2 / (2.0 * radius * radius)).exp();
            }
            light[y * width + x] = reflectance[y * width + x] * lux;
        }
    }
    let blurred = if optics.blur_px > 0.0 {
        gaussian_blur(&light, width, height, optics.blur_px)
    } else {
        light
    };
    blurred
        .iter()
        .map(|&v| (v + rng.range(-optics.noise, optics.noise)).clamp(0.0, 255.0) as u8)
        .collect()
}

fn gaussian_blur(image: &[f64], width: usize, height: usize, sigma: f64) -> Vec<f64> {
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f64> = (-radius..=radius)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = kernel.iter().sum();
    let pass = |source: &[f64], horizontal: bool| {
        let mut out = vec![0f64; width * height];
        for y in 0..height as isize {
            for x in 0..width as isize {
                let mut sum = 0.0;
                for (k, weight) in kernel.iter().enumerate() {
                    let d = k as isize - radius;
                    let (sx, sy) = if horizontal { (x + d, y) } else { (x, y + d) };
                    let sx = sx.clamp(0, width as isize - 1) as usize;
                    let sy = sy.clamp(0, height as isize - 1) as usize;
                    sum += weight * source[sy * width + sx];
                }
                out[y as usize * width + x as usize] = sum / total;
            }
        }
        out
    };
    pass(&pass(image, true), false)
}

fn apply(h: &[f64; 9], x: f64, y: f64) -> (f64, f64) {
    let w = h[6] * x + h[7] * y + h[8];
    (
        (h[0] * x + h[1] * y + h[2]) / w,
        (h[3] * x + h[4] * y + h[5]) / w,
    )
}

fn invert(m: &[f64; 9]) -> [f64; 9] {
    let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
        + m[2] * (m[3] * m[7] - m[4] * m[6]);
    let cofactors = [
        m[4] * m[8] - m[5] * m[7],
        m[2] * m[7] - m[1] * m[8],
        m[1] * m[5] - m[2] * m[4],
        m[5] * m[6] - m[3] * m[8],
        m[0] * m[8] - m[2] * m[6],
        m[2] * m[3] - m[0] * m[5],
        m[3] * m[7] - m[4] * m[6],
        m[1] * m[6] - m[0] * m[7],
        m[0] * m[4] - m[1] * m[3],
    ];
    cofactors.map(|c| c / det)
}
