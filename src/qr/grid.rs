//! A found code's module grid: mapping module coordinates to pixels, reading the modules again
//! from the grey image when `quircs`' own reading did not decode, and mirroring.

use quircs::Code;

use super::binarize::{Plane, otsu};

/// The projective map `quircs` fitted from module coordinates (u, v) to pixels of the image it
/// was given (same coefficients as its `perspective_map`).
pub(crate) fn map(c: &[f64; 8], u: f64, v: f64) -> (f64, f64) {
    let den = c[6] * u + c[7] * v + 1.0;
    (
        (c[0] * u + c[1] * v + c[2]) / den,
        (c[3] * u + c[4] * v + c[5]) / den,
    )
}

/// How module values are split into dark and light on a re-read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellThreshold {
    /// One Otsu threshold over all the code's modules.
    Otsu,
    /// Each module against the mean of the modules around it (uneven light across the code).
    Neighbourhood,
}

/// Grey value of every module (row-major, `size * size`), each the mean of five samples around
/// the module's centre so a grid that is a fraction of a module off still reads the right value.
/// `offset` shifts from the binary image's coordinates (with its white border) to `plane`'s.
pub(crate) fn module_values(plane: &Plane, c: &[f64; 8], size: usize, offset: f64) -> Vec<f32> {
    const TAPS: [(f64, f64); 5] = [(0.5, 0.5), (0.3, 0.3), (0.7, 0.3), (0.3, 0.7), (0.7, 0.7)];
    let mut values = Vec::with_capacity(size * size);
    for v in 0..size {
        for u in 0..size {
            let mut sum = 0.0;
            for (du, dv) in TAPS {
                let (x, y) = map(c, u as f64 + du, v as f64 + dv);
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
