//! A found code's module grid: mapping module coordinates to pixels, reading the modules again
//! from the grey image when `quircs`' own reading did not decode, and mirroring.

use quircs::Code;

use super::binarize::{Plane, otsu};
use super::warp::{Warp, find_alignment};

/// The projective map `quircs` fitted from module coordinates (u, v) to pixels of the image it
/// was given (same coefficients as its `perspective_map`).
pub(crate) fn map(c: &[f64; 8], u: f64, v: f64) -> (f64, f64) {
    let den = c[6] * u + c[7] * v + 1.0;
    (
        (c[0] * u + c[1] * v + c[2]) / den,
        (c[3] * u + c[4] * v + c[5]) / den,
    )
}

/// An affine grid through the centres of the three finder patterns (module coordinates (3.5,
/// 3.5), (size - 3.5, 3.5), (3.5, size - 3.5)): for version 1, which has no alignment pattern to
/// fix the fourth corner, and where `quircs`' perspective fit went astray. `finders` are the
/// capstone centres in any order; each is matched to the corner `c` puts nearest.
pub(crate) fn finder_affine(
    c: &[f64; 8],
    size: usize,
    finders: [(f64, f64); 3],
) -> Option<[f64; 8]> {
    let far = size as f64 - 3.5;
    let expected = [(3.5, 3.5), (far, 3.5), (3.5, far)];
    let mut matched = [(0.0, 0.0); 3];
    let mut used = [false; 3];
    for (slot, &(u, v)) in expected.iter().enumerate() {
        let (ex, ey) = map(c, u, v);
        let (best, _) = finders
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, &(x, y))| (i, (x - ex).powi(2) + (y - ey).powi(2)))
            .min_by(|a, b| a.1.total_cmp(&b.1))?;
        used[best] = true;
        matched[slot] = finders[best];
    }
    affine_through(size, matched[0], matched[1], matched[2])
}

/// The affine grid putting the finder centres of a `size`-module code at `top_left`,
/// `top_right` and `bottom_left`.
pub(crate) fn affine_through(
    size: usize,
    top_left: (f64, f64),
    top_right: (f64, f64),
    bottom_left: (f64, f64),
) -> Option<[f64; 8]> {
    let span = size as f64 - 7.0;
    if span <= 0.0 {
        return None;
    }
    let du = (
        (top_right.0 - top_left.0) / span,
        (top_right.1 - top_left.1) / span,
    );
    let dv = (
        (bottom_left.0 - top_left.0) / span,
        (bottom_left.1 - top_left.1) / span,
    );
    let origin = (
        top_left.0 - 3.5 * (du.0 + dv.0),
        top_left.1 - 3.5 * (du.1 + dv.1),
    );
    Some([du.0, dv.0, origin.0, du.1, dv.1, origin.1, 0.0, 0.0])
}

/// A homography through the outer corners of all three finder patterns (least squares over 12
/// points): for codes without an alignment pattern (version 1) seen in perspective, where an
/// affine grid through the finder centres drifts. `capstones` are each finder's ring corners in
/// pixels (any order); each is matched to the module corner grid `c` puts nearest.
pub(crate) fn finder_homography(
    c: &[f64; 8],
    size: usize,
    capstones: &[[(f64, f64); 4]; 3],
) -> Option<[f64; 8]> {
    let n = size as f64;
    let far = n - 7.0;
    let mut pairs = Vec::with_capacity(12);
    for (u0, v0) in [(0.0, 0.0), (far, 0.0), (0.0, far)] {
        for (du, dv) in [(0.0, 0.0), (7.0, 0.0), (7.0, 7.0), (0.0, 7.0)] {
            let (u, v) = (u0 + du, v0 + dv);
            let (ex, ey) = map(c, u, v);
            let nearest = capstones
                .iter()
                .flatten()
                .min_by(|a, b| {
                    let da = (a.0 - ex).powi(2) + (a.1 - ey).powi(2);
                    let db = (b.0 - ex).powi(2) + (b.1 - ey).powi(2);
                    da.total_cmp(&db)
                })
                .copied()?;
            pairs.push(((u, v), nearest));
        }
    }
    // Normal equations of the 24 linear equations in the 8 unknowns.
    let mut m = [[0f64; 9]; 8];
    for &((u, v), (x, y)) in &pairs {
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
    solve8(m)
}

/// Solves 8 linear equations given as an augmented matrix (Gauss-Jordan, partial pivoting).
pub(crate) fn solve8(a: [[f64; 9]; 8]) -> Option<[f64; 8]> {
    let matrix = a.map(|row| std::array::from_fn(|k| row[k]));
    let right = a.map(|row| row[8]);
    solve(matrix, right)
}

/// Solves `a x = b` (Gauss-Jordan, partial pivoting); `None` when `a` is singular.
pub(crate) fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
        a.swap(col, pivot);
        b.swap(col, pivot);
        if a[col][col].abs() < 1e-9 {
            return None;
        }
        let (pivot_row, pivot_b) = (a[col], b[col]);
        for (row, (values, right)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
            if row != col {
                let f = values[col] / pivot_row[col];
                for (value, &p) in values.iter_mut().zip(&pivot_row).skip(col) {
                    *value -= f * p;
                }
                *right -= f * pivot_b;
            }
        }
    }
    let x: [f64; N] = std::array::from_fn(|i| b[i] / a[i][i]);
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// The projective map (`quircs`' layout: `den = c6 u + c7 v + 1`) taking module coordinates
/// `from[i]` to pixels `to[i]`; `None` when the points are degenerate.
pub(crate) fn homography(from: &[(f64, f64); 4], to: &[(f64, f64); 4]) -> Option<[f64; 8]> {
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let ((u, v), (x, y)) = (from[i], to[i]);
        a[2 * i] = [u, v, 1.0, 0.0, 0.0, 0.0, -x * u, -x * v, x];
        a[2 * i + 1] = [0.0, 0.0, 0.0, u, v, 1.0, -y * u, -y * v, y];
    }
    solve8(a)
}

/// Refines a grid with the alignment pattern nearest the bottom-right corner (versions 2 and
/// up): searches ±2.5 modules around where `c` puts it for the best dark-light-dark ring
/// response, then fits a homography through the three finder centres and that point, which
/// corrects the perspective an affine grid through the finders alone misses.
pub(crate) fn refine_with_alignment(
    plane: &Plane<'_>,
    c: &[f64; 8],
    size: usize,
    offset: f64,
) -> Option<[f64; 8]> {
    if size < 25 {
        return None;
    }
    let target = size as f64 - 6.5;
    let found = find_alignment(plane, c, (0.0, 0.0), (target, target), 2.5, offset)?;
    let far = size as f64 - 3.5;
    let from = [(3.5, 3.5), (far, 3.5), (3.5, far), (target, target)];
    let to = [map(c, 3.5, 3.5), map(c, far, 3.5), map(c, 3.5, far), found];
    homography(&from, &to)
}

/// How module values are split into dark and light on a re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellThreshold {
    /// One Otsu threshold over all the code's modules.
    Otsu,
    /// Each module against the mean of the modules around it (uneven light across the code).
    Neighbourhood,
}

/// Where modules are: one homography for the whole code, or one per alignment-lattice cell.
pub(crate) enum ModuleMap {
    Projective([f64; 8]),
    Warped(Warp),
}

impl ModuleMap {
    /// Binary-image pixel position of module point (u, v).
    pub fn map(&self, u: f64, v: f64) -> (f64, f64) {
        match self {
            Self::Projective(c) => map(c, u, v),
            Self::Warped(warp) => warp.map(u, v),
        }
    }
}

/// Grey value of every module (row-major, `size * size`), each the mean of five samples around
/// the module's centre so a grid that is a fraction of a module off still reads the right value.
/// `offset` shifts from the binary image's coordinates (with its white border) to `plane`'s.
pub(crate) fn module_values(
    plane: &Plane<'_>,
    grid: &ModuleMap,
    size: usize,
    offset: f64,
) -> Vec<f32> {
    const TAPS: [(f64, f64); 5] = [(0.5, 0.5), (0.3, 0.3), (0.7, 0.3), (0.3, 0.7), (0.7, 0.7)];
    let mut values = Vec::with_capacity(size * size);
    for v in 0..size {
        for u in 0..size {
            let mut sum = 0.0;
            for (du, dv) in TAPS {
                let (x, y) = grid.map(u as f64 + du, v as f64 + dv);
                // quircs' coordinates are pixel indices; the plane samples at pixel centres.
                sum += plane.sample(x - offset + 0.5, y - offset + 0.5);
            }
            values.push(sum / TAPS.len() as f32);
        }
    }
    values
}

/// Dark modules (true) from module grey values; `inverted` codes have light modules set.
pub(crate) fn threshold_modules(
    values: &[f32],
    size: usize,
    how: CellThreshold,
    inverted: bool,
) -> Vec<bool> {
    let dark = |value: f32, threshold: f32| (value < threshold) != inverted;
    match how {
        CellThreshold::Otsu => {
            let t = f32::from(otsu(values.iter().map(|&v| v.clamp(0.0, 255.0) as u8)));
            values.iter().map(|&v| dark(v, t - 0.5)).collect()
        }
        CellThreshold::Neighbourhood => {
            // Window of 9x9 modules: larger than a finder pattern, so its dark core is compared
            // with light around it.
            let radius = 4usize;
            let stride = size + 1;
            let mut sums = vec![0f64; stride * stride];
            for y in 0..size {
                let mut row = 0f64;
                for x in 0..size {
                    row += f64::from(values[y * size + x]);
                    sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1] + row;
                }
            }
            let mut cells = Vec::with_capacity(size * size);
            for y in 0..size {
                for x in 0..size {
                    let (x0, y0) = (x.saturating_sub(radius), y.saturating_sub(radius));
                    let (x1, y1) = ((x + radius + 1).min(size), (y + radius + 1).min(size));
                    let sum =
                        sums[y1 * stride + x1] - sums[y0 * stride + x1] - sums[y1 * stride + x0]
                            + sums[y0 * stride + x0];
                    let mean = sum / ((x1 - x0) * (y1 - y0)) as f64;
                    cells.push(dark(values[y * size + x], mean as f32));
                }
            }
            cells
        }
    }
}

/// The modules of a `quircs` code as booleans (row-major).
pub(crate) fn cells_of(code: &Code) -> Vec<bool> {
    let size = code.size.max(0) as usize;
    (0..size * size)
        .map(|i| {
            code.cell_bitmap
                .get(i >> 3)
                .is_some_and(|b| b & (1 << (i & 7)) != 0)
        })
        .collect()
}
