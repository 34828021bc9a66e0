//! The corners of a decoded code to a few hundredths of a pixel, for its pose (X3).
//!
//! The decoder's corners come from the outer edges of the three finder patterns (`qr::corners`):
//! twelve points, each from seven samples, good to about a tenth of a pixel. That pins where
//! the code is, but not how it is tilted: at a metre a 50 mm code is 50 pixels across, and a
//! degree of tilt moves its far side by only four hundredths of a pixel against its near one.
//! So once a code is read, every pixel of it is used: its modules are known (read at their
//! centres through the decoder's grid), so the code's image is predicted — each pixel the mean
//! light of the modules it covers — and the homography from pixels to modules is adjusted, with
//! the light and dark levels, until prediction and frame agree (Gauss–Newton on the squared
//! difference in linear light, the Lucas–Kanade alignment of a template, with large
//! differences down-weighted: a module read wrong or a glint then does not pull the fit). The
//! corners are where the fitted homography puts the code's.
//!
//! Pixels are area samples (centre at `i + 0.5`); a pixel's footprint in module units is taken
//! as a box as wide as the pixel's extent along each module axis. A footprint model that is
//! wrong in width (optical blur) is symmetric about an edge, so it does not move edges.

use crate::qr::corners::LINEAR;
use crate::qr::grid::{homography, map, solve};
use crate::qr::{Detection, Point};

use super::CameraFrame;

/// Gauss–Newton rounds; the modules are read again from the fitted grid after the first.
const ROUNDS: usize = 8;
/// Quiet-zone modules around the code that take part (light by the standard).
const MARGIN: f64 = 1.0;
/// More pixels than this and every other one is skipped (a code this large is placed well
/// already; the fit's time then stays bounded).
const MAX_PIXELS: usize = 12_000;

/// `detection`'s corners fitted to every pixel of the code in `frame`; `None` when the fit does
/// not improve on the decoder's corners (too few pixels, too little contrast, a diverging fit).
pub fn aligned_corners(frame: &CameraFrame, detection: &Detection) -> Option<[Point; 4]> {
    let n = f64::from(17 + 4 * u32::from(detection.version));
    let pixels: [(f64, f64); 4] = detection.corners.map(|p| (f64::from(p.x), f64::from(p.y)));
    let square = [(0.0, 0.0), (n, 0.0), (n, n), (0.0, n)];
    // Pixels about the code's centre, scaled to its size: the fit's numbers stay near 1.
    let centre = (
        pixels.iter().map(|p| p.0).sum::<f64>() / 4.0,
        pixels.iter().map(|p| p.1).sum::<f64>() / 4.0,
    );
    let side = (0..4)
        .map(|i| {
            let (a, b) = (pixels[i], pixels[(i + 1) % 4]);
            (b.0 - a.0).hypot(b.1 - a.1)
        })
        .sum::<f64>()
        / 4.0;
    if !(side.is_finite() && side > 8.0) {
        return None;
    }
    let normalised = pixels.map(|(x, y)| ((x - centre.0) / side, (y - centre.1) / side));
    let mut fit = Fit {
        frame,
        n,
        centre,
        side,
        // Pixels (normalised) → modules.
        g: homography(&normalised, &square)?,
        light: 0.0,
        dark: 0.0,
        modules: Vec::new(),
        quiet_dark: false,
    };
    fit.read_modules()?;
    let before = fit.round(false)?;
    let mut last = before;
    for round in 0..ROUNDS {
        if round == 1 {
            fit.read_modules()?;
        }
        last = fit.round(true)?;
    }
    // The fit must explain the frame better than the decoder's corners did.
    if !(last.is_finite() && last < before) {
        return None;
    }
    let corners = square.map(|(u, v)| fit.to_pixel(u, v));
    let module = side / n;
    let moved_far = corners.iter().zip(&pixels).any(|(a, b)| {
        !(a.0.is_finite() && a.1.is_finite()) || (a.0 - b.0).hypot(a.1 - b.1) > module
    });
    (!moved_far).then(|| {
        corners.map(|(x, y)| Point {
            x: x as f32,
            y: y as f32,
        })
    })
}

struct Fit<'a> {
    frame: &'a CameraFrame,
    n: f64,
    centre: (f64, f64),
    side: f64,
    g: [f64; 8],
    light: f64,
    dark: f64,
    /// Darkness of each module as seen (1 dark, 0 light), row-major, `n × n`.
    modules: Vec<f64>,
    /// The quiet zone is dark (an inverted code).
    quiet_dark: bool,
}

impl Fit<'_> {
    /// Linear light of pixel (i, j), 0–255 (camera grey is gamma-encoded: the decoder's table).
    fn light_at(&self, i: usize, j: usize) -> f64 {
        f64::from(LINEAR[usize::from(self.frame.pixels[j * self.frame.stride + i])])
    }

    /// Bilinear linear light at a point in pixels.
    fn sample(&self, x: f64, y: f64) -> f64 {
        let (w, h) = (self.frame.width, self.frame.height);
        let sx = (x - 0.5).clamp(0.0, (w - 1) as f64);
        let sy = (y - 0.5).clamp(0.0, (h - 1) as f64);
        let (x0, y0) = (sx as usize, sy as usize);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (fx, fy) = (sx - x0 as f64, sy - y0 as f64);
        let top = self.light_at(x0, y0) * (1.0 - fx) + self.light_at(x1, y0) * fx;
        let bottom = self.light_at(x0, y1) * (1.0 - fx) + self.light_at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// Module coordinates → frame pixels, through the inverse of the fitted homography.
    fn to_pixel(&self, u: f64, v: f64) -> (f64, f64) {
        let inverse = invert(&self.g).unwrap_or([f64::NAN; 8]);
        let (x, y) = map(&inverse, u, v);
        (self.centre.0 + x * self.side, self.centre.1 + y * self.side)
    }

    /// Reads every module at its centre through the current grid, and the code's light and
    /// dark levels from its finder patterns' cores and the ring of modules just outside it.
    fn read_modules(&mut self) -> Option<()> {
        let n = self.n as usize;
        let samples: Vec<f64> = (0..n * n)
            .map(|k| {
                let (x, y) = self.to_pixel((k % n) as f64 + 0.5, (k / n) as f64 + 0.5);
                self.sample(x, y)
            })
            .collect();
        // The finders' cores are the code's ink, the ring just outside the code its paper.
        let cores = [(3, 3), (n - 4, 3), (3, n - 4)];
        let core = cores.iter().map(|&(i, j)| samples[j * n + i]).sum::<f64>() / 3.0;
        let ring: Vec<f64> = (0..n)
            .flat_map(|k| {
                let t = k as f64 + 0.5;
                [(t, -0.5), (t, self.n + 0.5), (-0.5, t), (self.n + 0.5, t)]
            })
            .map(|(u, v)| {
                let (x, y) = self.to_pixel(u, v);
                self.sample(x, y)
            })
            .collect();
        let quiet = ring.iter().sum::<f64>() / ring.len() as f64;
        // Too little contrast to fit to: leave the decoder's corners.
        if (quiet - core).abs() <= 8.0 || !quiet.is_finite() || !core.is_finite() {
            return None;
        }
        // An inverted code (light modules on dark) has a dark quiet zone and light cores.
        self.quiet_dark = quiet < core;
        (self.light, self.dark) = (quiet.max(core), quiet.min(core));
        let middle = (quiet + core) / 2.0;
        self.modules = samples
            .iter()
            .map(|&s| if s < middle { 1.0 } else { 0.0 })
            .collect();
        Some(())
    }

    /// Darkness of module (i, j); outside the code, the quiet zone's.
    fn module(&self, i: i64, j: i64) -> f64 {
        let n = self.n as i64;
        if (0..n).contains(&i) && (0..n).contains(&j) {
            self.modules[(j * n + i) as usize]
        } else if self.quiet_dark {
            1.0
        } else {
            0.0
        }
    }

    /// One Gauss–Newton step (when `update`); returns the weighted mean squared difference
    /// between the frame and the predicted code before the step.
    fn round(&mut self, update: bool) -> Option<f64> {
        let inverse = invert(&self.g)?;
        // The pixels the code and its margin cover.
        let corners = [
            (-MARGIN, -MARGIN),
            (self.n + MARGIN, -MARGIN),
            (self.n + MARGIN, self.n + MARGIN),
            (-MARGIN, self.n + MARGIN),
        ]
        .map(|(u, v)| {
            let (x, y) = map(&inverse, u, v);
            (self.centre.0 + x * self.side, self.centre.1 + y * self.side)
        });
        let (w, h) = (self.frame.width as f64, self.frame.height as f64);
        let x0 = corners
            .iter()
            .map(|c| c.0)
            .fold(f64::INFINITY, f64::min)
            .max(0.0);
        let x1 = corners
            .iter()
            .map(|c| c.0)
            .fold(f64::NEG_INFINITY, f64::max)
            .min(w);
        let y0 = corners
            .iter()
            .map(|c| c.1)
            .fold(f64::INFINITY, f64::min)
            .max(0.0);
        let y1 = corners
            .iter()
            .map(|c| c.1)
            .fold(f64::NEG_INFINITY, f64::max)
            .min(h);
        if !(x1 > x0 && y1 > y0) {
            return None;
        }
        let area = (x1 - x0) * (y1 - y0);
        let stride = ((area / MAX_PIXELS as f64).sqrt().ceil() as usize).max(1);
        let contrast = self.dark - self.light;
        // Differences beyond this are down-weighted (Huber): a fifth of the code's contrast.
        let huber = 0.2 * contrast.abs();
        let mut normal = [[0.0f64; 10]; 10];
        let mut gradient = [0.0f64; 10];
        let (mut sum, mut weights) = (0.0, 0.0);
        let g = self.g;
        for j in (y0 as usize..(y1.ceil() as usize).min(self.frame.height)).step_by(stride) {
            for i in (x0 as usize..(x1.ceil() as usize).min(self.frame.width)).step_by(stride) {
                let x = (i as f64 + 0.5 - self.centre.0) / self.side;
                let y = (j as f64 + 0.5 - self.centre.1) / self.side;
                let d = g[6] * x + g[7] * y + 1.0;
                let u = (g[0] * x + g[1] * y + g[2]) / d;
                let v = (g[3] * x + g[4] * y + g[5]) / d;
                if !(-MARGIN..=self.n + MARGIN).contains(&u)
                    || !(-MARGIN..=self.n + MARGIN).contains(&v)
                {
                    continue;
                }
                // The pixel's extent in modules along each axis (its footprint).
                let step = 1.0 / self.side;
                let du_dx = (g[0] - u * g[6]) / d * step;
                let du_dy = (g[1] - u * g[7]) / d * step;
                let dv_dx = (g[3] - v * g[6]) / d * step;
                let dv_dy = (g[4] - v * g[7]) / d * step;
                let wu = (du_dx.abs() + du_dy.abs()).clamp(0.05, 2.0);
                let wv = (dv_dx.abs() + dv_dy.abs()).clamp(0.05, 2.0);
                let (t, tu, tv) = self.template(u, v, wu, wv);
                let predicted = self.light + contrast * t;
                let r = self.light_at(i, j) - predicted;
                let weight = if r.abs() <= huber {
                    1.0
                } else {
                    huber / r.abs()
                };
                sum += weight * r * r;
                weights += weight;
                if !update {
                    continue;
                }
                // d(predicted)/d(parameters): the homography's eight, then light and dark.
                let pu = contrast * tu / d;
                let pv = contrast * tv / d;
                let jac = [
                    pu * x,
                    pu * y,
                    pu,
                    pv * x,
                    pv * y,
                    pv,
                    -(pu * u + pv * v) * x,
                    -(pu * u + pv * v) * y,
                    1.0 - t,
                    t,
                ];
                for (a, row) in normal.iter_mut().enumerate() {
                    gradient[a] += weight * jac[a] * r;
                    for (b, cell) in row.iter_mut().enumerate().skip(a) {
                        *cell += weight * jac[a] * jac[b];
                    }
                }
            }
        }
        if weights < 64.0 {
            return None;
        }
        if update {
            #[allow(clippy::needless_range_loop)] // a symmetric matrix's lower half from its upper
            for a in 0..10 {
                for b in 0..a {
                    normal[a][b] = normal[b][a];
                }
                // A touch of damping keeps a nearly flat direction from running away.
                normal[a][a] *= 1.0 + 1e-6;
            }
            let step = solve(normal, gradient)?;
            for (g, delta) in self.g.iter_mut().zip(&step) {
                *g += delta;
            }
            self.light += step[8];
            self.dark += step[9];
        }
        Some(sum / weights)
    }

    /// The predicted darkness at module point (u, v) for a pixel footprint `wu × wv` modules
    /// wide, and its derivatives along u and v.
    fn template(&self, u: f64, v: f64, wu: f64, wv: f64) -> (f64, f64, f64) {
        let (i0, i1) = ((u - wu / 2.0).floor() as i64, (u + wu / 2.0).floor() as i64);
        let (j0, j1) = ((v - wv / 2.0).floor() as i64, (v + wv / 2.0).floor() as i64);
        let (mut t, mut tu, mut tv) = (0.0, 0.0, 0.0);
        for j in j0..=j1 {
            let (pv, dpv) = overlap(v - j as f64, wv);
            for i in i0..=i1 {
                let m = self.module(i, j);
                if m == 0.0 {
                    continue;
                }
                let (pu, dpu) = overlap(u - i as f64, wu);
                t += m * pu * pv;
                tu += m * dpu * pv;
                tv += m * pu * dpv;
            }
        }
        (t, tu, tv)
    }
}

/// The share of a footprint `w` wide centred at `t` that falls on a module spanning [0, 1], and
/// its derivative in `t`.
fn overlap(t: f64, w: f64) -> (f64, f64) {
    let (lo, hi) = (t - w / 2.0, t + w / 2.0);
    let covered = hi.min(1.0) - lo.max(0.0);
    if covered <= 0.0 {
        return (0.0, 0.0);
    }
    let rising = if (0.0..1.0).contains(&hi) { 1.0 } else { 0.0 };
    let falling = if (0.0..1.0).contains(&lo) { 1.0 } else { 0.0 };
    (covered / w, (rising - falling) / w)
}

/// The inverse of a homography with its last entry 1 (`None` if singular).
fn invert(c: &[f64; 8]) -> Option<[f64; 8]> {
    let m = [[c[0], c[1], c[2]], [c[3], c[4], c[5]], [c[6], c[7], 1.0]];
    let cofactor = |r: usize, k: usize| {
        let (r0, r1) = ((r + 1) % 3, (r + 2) % 3);
        let (k0, k1) = ((k + 1) % 3, (k + 2) % 3);
        m[r0][k0] * m[r1][k1] - m[r0][k1] * m[r1][k0]
    };
    // adj[i][j] = cofactor(j, i); the inverse is adj / det, rescaled so its last entry is 1.
    let adj = |i: usize, j: usize| cofactor(j, i);
    let last = adj(2, 2);
    if last.abs() <= 1e-12 || !last.is_finite() {
        return None;
    }
    Some([
        adj(0, 0) / last,
        adj(0, 1) / last,
        adj(0, 2) / last,
        adj(1, 0) / last,
        adj(1, 1) / last,
        adj(1, 2) / last,
        adj(2, 0) / last,
        adj(2, 1) / last,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_homography_inverted_maps_points_back() {
        let c = [1.2, 0.1, 5.0, -0.2, 0.9, 3.0, 0.001, -0.002];
        let inverse = invert(&c).unwrap();
        for (u, v) in [(0.0, 0.0), (10.0, 3.0), (-4.0, 7.5)] {
            let (x, y) = map(&c, u, v);
            let (u2, v2) = map(&inverse, x, y);
            assert!((u - u2).abs() < 1e-9 && (v - v2).abs() < 1e-9);
        }
    }

    #[test]
    fn a_footprint_half_over_a_module_edge_sees_half_the_module() {
        assert_eq!(overlap(0.0, 0.5), (0.5, 2.0));
        assert_eq!(overlap(0.5, 0.5), (1.0, 0.0));
        assert_eq!(overlap(1.0, 0.5), (0.5, -2.0));
        assert_eq!(overlap(2.0, 0.5), (0.0, 0.0));
    }
}
