//! Sub-pixel corners of a decoded code, for the anchor pose (PnP).
//!
//! The grid a code was read on is fitted to finder and alignment centres found at module
//! precision, often on a half-size plane, and extrapolated to the corners: up to ~1.5 modules
//! off, fine for sampling modules, too coarse for a pose. Once the code is decoded its structure
//! is certain, so we measure it on the full-resolution frame: each finder pattern's four outer
//! edges (a light-to-dark step along seven modules) are located to a fraction of a pixel along
//! their normals, a line is fitted to each, the lines' intersections give twelve exact points
//! of the symbol, and a homography through them (least squares, normalised coordinates) gives
//! the corners. Without enough clean edges the corners stay as they were.

use super::binarize::Plane;
use super::grid::{homography, map, solve8};
use super::{Detection, Point};

/// How far across an edge its step is searched, in modules (the grid is at most about half a
/// module off at the finder patterns, where it was fitted; the light separator and the dark
/// ring are each one module wide).
const SEARCH: f64 = 0.8;
/// A point in module coordinates and where it was measured in the frame.
type Pair = ((f64, f64), (f64, f64));

/// Samples across an edge: a tenth of a module apart, the step interpolated between them.
const STEPS: usize = 17;
/// Least difference between the light and dark sides of an edge, in grey levels.
const MIN_CONTRAST: f32 = 16.0;

/// Refines `detection`'s corners on `plane` (the frame at full resolution) in place; returns
/// whether it did.
pub(crate) fn refine(plane: &Plane<'_>, detection: &mut Detection, linear_light: bool) -> bool {
    let plane = &Light {
        plane,
        linear: linear_light,
    };
    let n = f64::from(17 + 4 * u32::from(detection.version));
    let to = detection.corners.map(|p| (f64::from(p.x), f64::from(p.y)));
    let from = [(0.0, 0.0), (n, 0.0), (n, n), (0.0, n)];
    let Some(initial) = homography(&from, &to) else {
        return false;
    };
    let module = side(&to) / n;
    // Most grids are within half a module at the finder patterns, and their edges measure
    // consistently at once. A grid a module off at one finder (read anyway, thanks to error
    // correction) first has each finder pattern found again around where it puts it.
    let fitted = fit_to_finders(plane, &initial, n, [(0.0, 0.0); 3], module).or_else(|| {
        let shifts = [(0.0, 0.0), (n - 7.0, 0.0), (0.0, n - 7.0)]
            .map(|origin| locate_finder(plane, &initial, origin, detection.inverted));
        fit_to_finders(plane, &initial, n, shifts, module)
    });
    let Some(c) = fitted else {
        return false;
    };
    let corners = from.map(|(u, v)| map(&c, u, v));
    // A refinement that moves a corner by more than two modules measured something else.
    let moved_far = corners
        .iter()
        .zip(&to)
        .any(|(a, b)| (a.0 - b.0).hypot(a.1 - b.1) > 2.0 * module);
    if moved_far || corners.iter().any(|p| !p.0.is_finite() || !p.1.is_finite()) {
        return false;
    }
    detection.corners = corners.map(|(x, y)| Point {
        x: x as f32,
        y: y as f32,
    });
    true
}

/// Largest mean distance, in modules, between the measured finder corners and where the fitted
/// homography puts them, for a fit to count: the twelve points of three squares agree far
/// better than this when every edge was the right one.
const MAX_RESIDUAL: f64 = 0.12;

/// Measures the finder edges from grid `c` (each finder's edges looked for `shifts[i]` modules
/// from where `c` puts them) and fits a homography to them; twice, the second time from the
/// first fit. `None` if an edge is missing or the points do not fit one homography.
fn fit_to_finders(
    plane: &Light<'_>,
    c: &[f64; 8],
    n: f64,
    shifts: [(f64, f64); 3],
    module: f64,
) -> Option<[f64; 8]> {
    let mut points = finder_corners(plane, c, n, shifts)?;
    let mut fitted = fit_homography(&points)?;
    points = finder_corners(plane, &fitted, n, [(0.0, 0.0); 3])?;
    fitted = fit_homography(&points)?;
    let residual = points
        .iter()
        .map(|&((u, v), (x, y))| {
            let (px, py) = map(&fitted, u, v);
            (px - x).hypot(py - y)
        })
        .sum::<f64>()
        / points.len() as f64
        / module.max(1e-9);
    (residual <= MAX_RESIDUAL).then_some(fitted)
}

/// Where the finder pattern with top-left module `origin` really is relative to grid `c`: the
/// shift (half-module steps, up to 1.5 modules) at which the 9×9 modules of finder and separator
/// best match their pattern.
fn locate_finder(
    plane: &Light<'_>,
    c: &[f64; 8],
    origin: (f64, f64),
    inverted: bool,
) -> (f64, f64) {
    let dark = |i: i32, j: i32| {
        let ring = i.max(j) == 6 || i.min(j) == 0;
        let stone = (2..=4).contains(&i) && (2..=4).contains(&j);
        (0..=6).contains(&i) && (0..=6).contains(&j) && (ring || stone)
    };
    let mut best = (f64::NEG_INFINITY, (0.0, 0.0));
    for a in -3..=3 {
        for b in -3..=3 {
            let (du, dv) = (0.5 * f64::from(a), 0.5 * f64::from(b));
            let mut score = 0.0;
            for j in -1..=7 {
                for i in -1..=7 {
                    let (x, y) = map(
                        c,
                        origin.0 + du + f64::from(i) + 0.5,
                        origin.1 + dv + f64::from(j) + 0.5,
                    );
                    let value = f64::from(plane.sample(x, y));
                    score += if dark(i, j) != inverted {
                        -value
                    } else {
                        value
                    };
                }
            }
            if score > best.0 {
                best = (score, (du, dv));
            }
        }
    }
    best.1
}

/// Mean side length of a quadrilateral.
fn side(q: &[(f64, f64); 4]) -> f64 {
    (0..4)
        .map(|i| {
            let (a, b) = (q[i], q[(i + 1) % 4]);
            (b.0 - a.0).hypot(b.1 - a.1)
        })
        .sum::<f64>()
        / 4.0
}

/// The outer corners of the three finder patterns (module coordinates → measured pixels), from
/// lines fitted to their edges, each finder's edges looked for `shifts[i]` modules from where
/// `c` puts them; `None` unless every edge was measured.
fn finder_corners(
    plane: &Light<'_>,
    c: &[f64; 8],
    n: f64,
    shifts: [(f64, f64); 3],
) -> Option<Vec<Pair>> {
    let mut points = Vec::with_capacity(12);
    let origins = [(0.0, 0.0), (n - 7.0, 0.0), (0.0, n - 7.0)];
    for ((u0, v0), (du, dv)) in origins.into_iter().zip(shifts) {
        // Sides clockwise from the top: start, direction along, outward normal.
        let sides = [
            ((u0, v0), (1.0, 0.0), (0.0, -1.0)),
            ((u0 + 7.0, v0), (0.0, 1.0), (1.0, 0.0)),
            ((u0 + 7.0, v0 + 7.0), (-1.0, 0.0), (0.0, 1.0)),
            ((u0, v0 + 7.0), (0.0, -1.0), (-1.0, 0.0)),
        ];
        // The step is where the grey is halfway between the code's dark and its paper: the
        // finder's 3×3 core and the quiet zone outside it. Not the profile's own extremes: at
        // two or three pixels a module the one-module ring and separator never reach full dark
        // or full light, and a midpoint between them puts the inner edges a tenth of a module
        // off — the code then looks smaller, and a pose that far (5 mm at a metre for a 5 cm
        // code).
        let outward: [usize; 2] = match (u0 > 0.0, v0 > 0.0) {
            (false, false) => [0, 3],
            (true, _) => [0, 1],
            (false, true) => [2, 3],
        };
        let sample = |u: f64, v: f64| {
            let (x, y) = map(c, u + du, v + dv);
            plane.light(x, y)
        };
        let dark = sample(u0 + 3.5, v0 + 3.5);
        let light = outward
            .iter()
            .map(|&k| {
                let ((su, sv), along, normal) = sides[k];
                sample(
                    su + along.0 * 3.5 + normal.0 * 1.5,
                    sv + along.1 * 3.5 + normal.1 * 1.5,
                )
            })
            .sum::<f32>()
            / 2.0;
        let levels = ((plane.encoded(light) - plane.encoded(dark)).abs() >= MIN_CONTRAST)
            .then_some((dark + light) / 2.0);
        let mut lines = Vec::with_capacity(4);
        for ((su, sv), along, normal) in sides {
            lines.push(edge_line(
                plane,
                c,
                (su + du, sv + dv),
                along,
                normal,
                levels,
            )?);
        }
        // Corner k is where side k - 1 meets side k: top-left, top-right, bottom-right,
        // bottom-left of the finder.
        for (k, module) in [
            (u0, v0),
            (u0 + 7.0, v0),
            (u0 + 7.0, v0 + 7.0),
            (u0, v0 + 7.0),
        ]
        .into_iter()
        .enumerate()
        {
            let pixel = intersect(&lines[(k + 3) % 4], &lines[k])?;
            points.push((module, pixel));
        }
    }
    Some(points)
}

/// Cameras store grey gamma-encoded (sRGB, BT.709: about the 2.2th root of the light); a pixel
/// half over an edge holds half the light, so edges are measured on light, not on grey — on
/// grey, dark modules look a tenth of a module smaller at two pixels a module.
const GAMMA: f32 = 2.2;

pub(crate) static LINEAR: std::sync::LazyLock<[f32; 256]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|grey| 255.0 * (grey as f32 / 255.0).powf(GAMMA))
});

/// The frame, and whether its grey is light already.
struct Light<'a> {
    plane: &'a Plane<'a>,
    linear: bool,
}

impl Light<'_> {
    /// Grey as stored, bilinear (finding patterns).
    fn sample(&self, x: f64, y: f64) -> f32 {
        self.plane.sample(x, y)
    }

    /// The light at (x, y), on the grey scale's 0–255 (measuring edges).
    fn light(&self, x: f64, y: f64) -> f32 {
        if self.linear {
            self.plane.sample(x, y)
        } else {
            self.plane
                .sample_through(x, y, |grey| LINEAR[usize::from(grey)])
        }
    }

    /// Light back to grey, where contrast is judged as the eye (and the binariser) sees it.
    fn encoded(&self, light: f32) -> f32 {
        if self.linear {
            light
        } else {
            255.0 * (light.max(0.0) / 255.0).powf(1.0 / GAMMA)
        }
    }
}

/// A line in pixels: a point on it and its unit direction.
struct Line {
    point: (f64, f64),
    direction: (f64, f64),
}

/// Fits a line to the step positions along one finder side (seven modules from `start` in
/// direction `along`, light side towards `normal`), each where the grey crosses `mid` (else
/// halfway between the profile's extremes); `None` with fewer than five clean samples.
fn edge_line(
    plane: &Light<'_>,
    c: &[f64; 8],
    start: (f64, f64),
    along: (f64, f64),
    normal: (f64, f64),
    mid: Option<f32>,
) -> Option<Line> {
    let mut found = Vec::with_capacity(7);
    // One sample per module, keeping off the corners where two edges meet.
    for i in 0..7 {
        let t = 0.5 + i as f64;
        let base = (start.0 + along.0 * t, start.1 + along.1 * t);
        let at = |d: f64| map(c, base.0 + normal.0 * d, base.1 + normal.1 * d);
        let profile: Vec<f32> = (0..STEPS)
            .map(|k| {
                let d = -SEARCH + 2.0 * SEARCH * k as f64 / (STEPS - 1) as f64;
                let (x, y) = at(d);
                plane.light(x, y)
            })
            .collect();
        if let Some(d) = step_position(plane, &profile, mid) {
            found.push(at(d));
        }
    }
    fit_line(&found)
}

/// Where the profile (inside to outside, `STEPS` samples over ±`SEARCH` modules) crosses `mid`,
/// or without it the middle grey between its extremes, nearest the middle; as an offset in
/// modules.
fn step_position(plane: &Light<'_>, profile: &[f32], mid: Option<f32>) -> Option<f64> {
    let (low, high) = profile
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if plane.encoded(high) - plane.encoded(low) < MIN_CONTRAST {
        return None;
    }
    let mid = mid
        .filter(|m| (low..=high).contains(m))
        .unwrap_or((low + high) / 2.0);
    let step = 2.0 * SEARCH / (STEPS - 1) as f64;
    profile
        .windows(2)
        .enumerate()
        .filter(|(_, w)| (w[0] - mid) * (w[1] - mid) <= 0.0 && w[0] != w[1])
        .map(|(k, w)| {
            let fraction = f64::from((mid - w[0]) / (w[1] - w[0]));
            -SEARCH + step * (k as f64 + fraction)
        })
        .min_by(|a, b| a.abs().total_cmp(&b.abs()))
}

/// Total least squares line through `points`, refitted once without those farther than twice
/// the mean distance (a sample that caught a neighbouring edge or a glare spot).
fn fit_line(points: &[(f64, f64)]) -> Option<Line> {
    let line = principal_line(points)?;
    let distance = |p: &(f64, f64)| {
        let (dx, dy) = (p.0 - line.point.0, p.1 - line.point.1);
        (dx * line.direction.1 - dy * line.direction.0).abs()
    };
    let mean = points.iter().map(distance).sum::<f64>() / points.len() as f64;
    let kept: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| distance(p) <= 2.0 * mean + 1e-9)
        .collect();
    principal_line(&kept)
}

fn principal_line(points: &[(f64, f64)]) -> Option<Line> {
    if points.len() < 5 {
        return None;
    }
    let count = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.0 / count, y + p.1 / count));
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for p in points {
        let (dx, dy) = (p.0 - mx, p.1 - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    // Direction of largest spread: the eigenvector of the 2×2 scatter matrix.
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let direction = (angle.cos(), angle.sin());
    (sxx + syy > 0.0).then_some(Line {
        point: (mx, my),
        direction,
    })
}

fn intersect(a: &Line, b: &Line) -> Option<(f64, f64)> {
    let cross = a.direction.0 * b.direction.1 - a.direction.1 * b.direction.0;
    // Sides of a finder meet at a right angle seen in perspective, never nearly parallel.
    if cross.abs() < 0.2 {
        return None;
    }
    let (dx, dy) = (b.point.0 - a.point.0, b.point.1 - a.point.1);
    let t = (dx * b.direction.1 - dy * b.direction.0) / cross;
    Some((a.point.0 + t * a.direction.0, a.point.1 + t * a.direction.1))
}

/// Least-squares homography (module → pixel, `map`'s layout) through the pairs, solved in
/// coordinates centred and scaled to about ±1 so the normal equations stay well conditioned.
fn fit_homography(pairs: &[Pair]) -> Option<[f64; 8]> {
    let normaliser = |points: &mut dyn Iterator<Item = (f64, f64)>| {
        let points: Vec<(f64, f64)> = points.collect();
        let count = points.len() as f64;
        let (mx, my) = points
            .iter()
            .fold((0.0, 0.0), |(x, y), p| (x + p.0 / count, y + p.1 / count));
        let spread = points
            .iter()
            .map(|p| (p.0 - mx).hypot(p.1 - my))
            .sum::<f64>()
            / count;
        (mx, my, spread.max(1e-9))
    };
    let (mu, mv, su) = normaliser(&mut pairs.iter().map(|p| p.0));
    let (mx, my, sx) = normaliser(&mut pairs.iter().map(|p| p.1));
    let mut m = [[0f64; 9]; 8];
    for &((u, v), (x, y)) in pairs {
        let (u, v) = ((u - mu) / su, (v - mv) / su);
        let (x, y) = ((x - mx) / sx, (y - my) / sx);
        for row in [
            [u, v, 1.0, 0.0, 0.0, 0.0, -x * u, -x * v, x],
            [0.0, 0.0, 0.0, u, v, 1.0, -y * u, -y * v, y],
        ] {
            for i in 0..8 {
                for j in 0..9 {
                    m[i][j] += row[i] * row[j];
                }
            }
        }
    }
    let h = solve8(m)?;
    // Undo the normalisations: H = T_pixel⁻¹ · Hn · T_module, then scale so that h₈ = 1.
    let hn = [[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1.0]];
    let t_module = [
        [1.0 / su, 0.0, -mu / su],
        [0.0, 1.0 / su, -mv / su],
        [0.0, 0.0, 1.0],
    ];
    let t_pixel_inv = [[sx, 0.0, mx], [0.0, sx, my], [0.0, 0.0, 1.0]];
    let full = multiply(&t_pixel_inv, &multiply(&hn, &t_module));
    let w = full[2][2];
    if w.abs() < 1e-12 {
        return None;
    }
    let c = [
        full[0][0] / w,
        full[0][1] / w,
        full[0][2] / w,
        full[1][0] / w,
        full[1][1] / w,
        full[1][2] / w,
        full[2][0] / w,
        full[2][1] / w,
    ];
    c.iter().all(|v| v.is_finite()).then_some(c)
}

fn multiply(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            out[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}
