//! Codes already found: recognising them again, and erasing their finder patterns from a
//! binary image so later rounds look past them.

use super::grid::{homography, map};
use super::{Detection, Point};

/// Whether a code with modules of `module` frame pixels centred at `at` is one already found:
/// inside a found code with modules of about the same size (a smaller code printed inside a
/// larger one is a different code).
pub(super) fn already_found(found: &[Detection], at: Point, module: f64) -> bool {
    found.iter().any(|d| {
        let side =
            f64::from((d.corners[1].x - d.corners[0].x).hypot(d.corners[1].y - d.corners[0].y));
        let found_module = side / f64::from(17 + 4 * u32::from(d.version));
        let ratio = module / found_module.max(1e-6);
        contains(&d.corners, at) && (0.6..1.7).contains(&ratio)
    })
}

/// Paints a found code's three finder patterns (with their separators) white in the binary
/// image, so later rounds neither find it again nor group its finders with another code's, while
/// anything else inside it (a code printed within a code) stays visible.
pub(super) fn erase_finders(
    binary: &mut [u8],
    width: usize,
    detection: &Detection,
    to_binary: impl Fn(&Point) -> (f64, f64),
) {
    let n = f64::from(17 + 4 * u32::from(detection.version));
    let corners = detection.corners.each_ref().map(to_binary);
    let Some(c) = homography(&[(0.0, 0.0), (n, 0.0), (n, n), (0.0, n)], &corners) else {
        return;
    };
    for (u, v) in [(0.0, 0.0), (n - 7.0, 0.0), (0.0, n - 7.0)] {
        let square = [(-1.5, -1.5), (8.5, -1.5), (8.5, 8.5), (-1.5, 8.5)]
            .map(|(du, dv)| map(&c, u + du, v + dv));
        fill(binary, width, square);
    }
}

/// Paints a convex quadrilateral white.
fn fill(binary: &mut [u8], width: usize, quad: [(f64, f64); 4]) {
    let height = binary.len() / width.max(1);
    let quad = quad.map(|(x, y)| Point {
        x: x as f32,
        y: y as f32,
    });
    let min_x = quad
        .iter()
        .map(|p| p.x)
        .fold(f32::INFINITY, f32::min)
        .max(0.0) as usize;
    let min_y = quad
        .iter()
        .map(|p| p.y)
        .fold(f32::INFINITY, f32::min)
        .max(0.0) as usize;
    let max_x = (quad.iter().map(|p| p.x).fold(0.0, f32::max).max(0.0) as usize)
        .min(width.saturating_sub(1));
    let max_y = (quad.iter().map(|p| p.y).fold(0.0, f32::max).max(0.0) as usize)
        .min(height.saturating_sub(1));
    for y in min_y..=max_y {
        for x in min_x..=max_x {
            let p = Point {
                x: x as f32,
                y: y as f32,
            };
            if contains(&quad, p) {
                binary[y * width + x] = 255;
            }
        }
    }
}

/// Whether `p` lies inside the convex quadrilateral `quad` (either winding).
fn contains(quad: &[Point; 4], p: Point) -> bool {
    let mut sign = 0i8;
    for i in 0..4 {
        let (a, b) = (quad[i], quad[(i + 1) % 4]);
        let cross = (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
        let s = if cross > 0.0 {
            1
        } else if cross < 0.0 {
            -1
        } else {
            0
        };
        if s != 0 {
            if sign != 0 && s != sign {
                return false;
            }
            sign = s;
        }
    }
    true
}
