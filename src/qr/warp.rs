//! A module grid that bends: one projective map per cell of the alignment-pattern lattice,
//! each alignment pattern found where it really is. Codes on curved surfaces (stickers on pipes,
//! shirts) and under strong perspective drift by more than a module from any single homography;
//! this follows them (ZXing-cpp does the same for its larger symbols).

use quircs::VERSION_DB;

use super::binarize::Plane;
use super::grid::{homography, map};

pub(crate) struct Warp {
    /// Module coordinates of the lattice lines (alignment pattern centres), both axes.
    lines: Vec<f64>,
    /// Projective map of each lattice cell, row-major, `(lines - 1)²`.
    cells: Vec<[f64; 8]>,
}

/// Ring response of an alignment pattern centred at module point (u, v) on `sample`: light ring
/// at distance 1 minus the dark centre and dark ring at distance 2.
fn alignment_score(sample: &dyn Fn(f64, f64) -> f64, u: f64, v: f64) -> f64 {
    let mut inner = 0.0;
    let mut outer = 0.0;
    for k in -2i32..=2 {
        let k = f64::from(k);
        outer += sample(u + k, v - 2.0) + sample(u + k, v + 2.0);
        if k.abs() < 2.0 {
            outer += sample(u - 2.0, v + k) + sample(u + 2.0, v + k);
        }
        if k.abs() <= 1.0 {
            inner += sample(u + k, v - 1.0) + sample(u + k, v + 1.0);
        }
    }
    inner += sample(u - 1.0, v) + sample(u + 1.0, v);
    inner / 8.0 - (sample(u, v) + outer / 16.0) / 2.0
}

/// Best alignment-pattern centre within ±`radius` modules of (u, v) on grid `c` shifted by
/// `shift` pixels: its pixel position, or `None` if nothing there looks like one.
pub(crate) fn find_alignment(
    plane: &Plane<'_>,
    c: &[f64; 8],
    shift: (f64, f64),
    (u, v): (f64, f64),
    radius: f64,
    offset: f64,
) -> Option<(f64, f64)> {
    let sample = |u: f64, v: f64| {
        let (x, y) = map(c, u, v);
        f64::from(plane.sample(x + shift.0 - offset + 0.5, y + shift.1 - offset + 0.5))
    };
    let steps = (radius * 8.0) as usize;
    let mut best: Option<(f64, f64, f64)> = None;
    for i in 0..=steps {
        for j in 0..=steps {
            let du = -radius + 2.0 * radius * i as f64 / steps as f64;
            let dv = -radius + 2.0 * radius * j as f64 / steps as f64;
            let score = alignment_score(&sample, u + du, v + dv);
            if best.is_none_or(|(s, _, _)| score > s) {
                best = Some((score, u + du, v + dv));
            }
        }
    }
    let (score, u, v) = best?;
    // Light ring at least 10 grey levels above the dark parts: a pattern, not noise.
    (score > 10.0).then(|| {
        let (x, y) = map(c, u, v);
        (x + shift.0, y + shift.1)
    })
}

impl Warp {
    /// Fits the lattice for a `size`-module code starting from grid `c`; `None` for versions
    /// without alignment patterns or when fewer than half of them are found.
    pub fn fit(plane: &Plane<'_>, c: &[f64; 8], size: usize, offset: f64) -> Option<Self> {
        let version = size.checked_sub(17)? / 4;
        let centres: Vec<usize> = VERSION_DB
            .get(version)?
            .apat
            .iter()
            .take_while(|&&p| p != 0)
            .map(|&p| p as usize)
            .collect();
        let k = centres.len();
        if k < 2 {
            return None;
        }
        let lines: Vec<f64> = centres.iter().map(|&p| p as f64 + 0.5).collect();
        let mut points: Vec<Option<(f64, f64)>> = vec![None; k * k];
        let mut shifts = vec![(0.0, 0.0); k * k];
        let mut found = 0;
        // Row by row from the top-left, each search starting from where the neighbours already
        // found say the pattern has drifted to.
        for j in 0..k {
            for i in 0..k {
                let finder_corner = (i == 0 && (j == 0 || j == k - 1)) || (i == k - 1 && j == 0);
                let neighbours: Vec<(f64, f64)> = [(i.wrapping_sub(1), j), (i, j.wrapping_sub(1))]
                    .iter()
                    .filter(|&&(a, b)| a < k && b < k && points[b * k + a].is_some())
                    .map(|&(a, b)| shifts[b * k + a])
                    .collect();
                let shift = if neighbours.is_empty() {
                    (0.0, 0.0)
                } else {
                    let n = neighbours.len() as f64;
                    (
                        neighbours.iter().map(|s| s.0).sum::<f64>() / n,
                        neighbours.iter().map(|s| s.1).sum::<f64>() / n,
                    )
                };
                let predicted = map(c, lines[i], lines[j]);
                if finder_corner {
                    // No alignment pattern here; `c` was fitted to the finder next to it.
                    points[j * k + i] = Some(predicted);
                    continue;
                }
                match find_alignment(plane, c, shift, (lines[i], lines[j]), 1.5, offset) {
                    Some(p) => {
                        found += 1;
                        shifts[j * k + i] = (p.0 - predicted.0, p.1 - predicted.1);
                        points[j * k + i] = Some(p);
                    }
                    // Not measured: placed by its neighbours' drift, which later searches
                    // do not take from it.
                    None => shifts[j * k + i] = shift,
                }
            }
        }
        if found * 2 < k * k - 3 {
            return None;
        }
        let position = |i: usize, j: usize| {
            points[j * k + i].unwrap_or_else(|| {
                let p = map(c, lines[i], lines[j]);
                (p.0 + shifts[j * k + i].0, p.1 + shifts[j * k + i].1)
            })
        };
        let mut cells = Vec::with_capacity((k - 1) * (k - 1));
        for j in 0..k - 1 {
            for i in 0..k - 1 {
                let from = [
                    (lines[i], lines[j]),
                    (lines[i + 1], lines[j]),
                    (lines[i + 1], lines[j + 1]),
                    (lines[i], lines[j + 1]),
                ];
                let to = [
                    position(i, j),
                    position(i + 1, j),
                    position(i + 1, j + 1),
                    position(i, j + 1),
                ];
                cells.push(homography(&from, &to)?);
            }
        }
        Some(Self { lines, cells })
    }

    /// Pixel position (binary-image coordinates) of module point (u, v); outside the lattice the
    /// nearest cell's map extends to the code's edge.
    pub fn map(&self, u: f64, v: f64) -> (f64, f64) {
        let cells_per_row = self.lines.len() - 1;
        let index = |t: f64| {
            self.lines[1..cells_per_row]
                .iter()
                .take_while(|&&line| t >= line)
                .count()
        };
        map(&self.cells[index(v) * cells_per_row + index(u)], u, v)
    }
}
