//! Finding finder patterns and fitting grids: `quircs`' identification, vendored.
//!
//! Vendored from `quircs` 0.10.3 (`src/identify.rs`; a Rust port of Daniel Beer's quirc), under
//! its ISC licence kept next to this file (`LICENSE-quircs`). Why a copy instead of the crate:
//! `Quirc::identify` always refines every grid it finds with a fitness search over the whole
//! grid (about 80 evaluations of every timing, finder and alignment module, nine samples each),
//! which was a third of our decoding time, although most grids read without it and those that
//! do not get our own re-reads anyway. Here a grid is recorded unrefined and
//! [`Identifier::refine`] runs that search only for a grid whose first read failed. The
//! crate's public state (`Quirc` and its `Capstone`, `Grid`, `Region` types) is reused, so the
//! rest of the decoder reads the same fields as before.

mod fit;
mod regions;

use quircs::{Code, Pixel, Quirc, Region};

use fit::{View, jiggle_perspective, perspective_map, test_grouping};
use regions::{Labels, finder_scan};

/// `quircs`' state plus our reusable scratch buffers.
#[derive(Default)]
pub(crate) struct Identifier {
    pub quirc: Quirc,
    stack: Vec<(usize, usize)>,
    transitions: Vec<usize>,
}

impl Identifier {
    /// Thresholds `image` (`width` × `height`, contiguous) at its Otsu level, labels its regions,
    /// finds the finder patterns and groups them into grids (`quirc.capstones`, `quirc.grids`).
    /// An image of the wrong length finds nothing.
    pub fn identify(&mut self, width: usize, height: usize, image: &[u8]) {
        let q = &mut self.quirc;
        q.reset();
        if width.checked_mul(height) != Some(image.len()) || image.is_empty() {
            return;
        }
        q.resize(width, height);
        // Labels 0 and 1 are white and black; regions start at 2.
        q.regions.push(Region::default());
        q.regions.push(Region::default());
        let threshold = otsu(image);
        for (label, &value) in q.pixels.iter_mut().zip(image) {
            *label = Pixel::from(value < threshold);
        }
        let mut labels = Labels {
            pixels: &mut q.pixels,
            width,
            height,
            stack: &mut self.stack,
        };
        for y in 0..height {
            finder_scan(
                &mut labels,
                &mut q.regions,
                &mut q.capstones,
                y,
                &mut self.transitions,
            );
        }
        for i in 0..q.capstones.len() {
            test_grouping(
                &mut labels,
                &mut q.regions,
                &mut q.capstones,
                &mut q.grids,
                i,
            );
        }
    }

    /// Refines grid `index`'s perspective with `quircs`' fitness search on the label image.
    pub fn refine(&mut self, index: usize) {
        let q = &mut self.quirc;
        let view = View {
            pixels: &q.pixels,
            width: q.w,
            height: q.h,
        };
        if let Some(grid) = q.grids.get_mut(index) {
            jiggle_perspective(grid, &view);
        }
    }

    /// The modules of grid `index` as sampled from the label image at each module's centre.
    pub fn extract(&self, index: usize) -> Option<Code> {
        let q = &self.quirc;
        let grid = q.grids.get(index)?;
        let size = grid.grid_size;
        let n = f64::from(size);
        let mut code = Code {
            size,
            ..Code::default()
        };
        code.corners =
            [(0.0, 0.0), (n, 0.0), (n, n), (0.0, n)].map(|(u, v)| perspective_map(&grid.c, u, v));
        let mut i = 0usize;
        for y in 0..size {
            for x in 0..size {
                let p = perspective_map(&grid.c, f64::from(x) + 0.5, f64::from(y) + 0.5);
                let inside = p.x >= 0 && p.y >= 0 && (p.x as usize) < q.w && (p.y as usize) < q.h;
                if inside
                    && q.pixels[p.y as usize * q.w + p.x as usize] != 0
                    && let Some(byte) = code.cell_bitmap.get_mut(i >> 3)
                {
                    *byte |= 1 << (i & 7);
                }
                i += 1;
            }
        }
        Some(code)
    }
}

/// `quircs`' Otsu threshold (values below it are black), bit for bit: ties go to the higher
/// level, and the level itself is returned (not the one after it).
fn otsu(image: &[u8]) -> u8 {
    let mut histogram = [0u64; 256];
    for &value in image {
        histogram[usize::from(value)] += 1;
    }
    let count = image.len() as u64;
    let sum: u64 = histogram
        .iter()
        .enumerate()
        .map(|(i, &n)| i as u64 * n)
        .sum();
    let (mut below, mut below_sum) = (0u64, 0u64);
    let (mut max, mut threshold) = (0f64, 0u8);
    for (i, &n) in histogram.iter().enumerate() {
        below += n;
        if below == 0 {
            continue;
        }
        let above = count - below;
        if above == 0 {
            break;
        }
        below_sum += i as u64 * n;
        let m1 = below_sum as f64 / below as f64;
        let m2 = (sum - below_sum) as f64 / above as f64;
        let variance = (m1 - m2) * (m1 - m2) * below as f64 * above as f64;
        if variance >= max {
            threshold = i as u8;
            max = variance;
        }
    }
    threshold
}

#[cfg(test)]
mod tests {
    use super::super::synth::{Optics, Pose, Rng, render, symbol};
    use super::Identifier;

    /// The copy must find what the crate finds: same finder patterns, same groups, same grid
    /// sizes, and once refined on request the very same perspective (bit for bit).
    #[test]
    fn vendored_identification_finds_what_quircs_finds_and_refines_to_the_same_grid() {
        let mut rng = Rng::new(5);
        let mut grids = 0;
        for i in 0..12u64 {
            let symbol = symbol(900 + i, 1 + (i % 7) as i16, i as usize);
            let pose = Pose {
                module_px: rng.range(2.5, 7.0),
                centre: (200.0, 190.0),
                rotation_deg: rng.range(0.0, 360.0),
                tilt_deg: rng.range(0.0, 40.0),
                inverted: false,
                mirrored: false,
            };
            let optics = Optics {
                clutter: i % 3 == 0,
                blur_px: 0.5,
                noise: 4.0,
                seed: i,
                ..Optics::default()
            };
            let (width, height) = (400, 380);
            let pixels = render(width, height, &[(&symbol, pose)], &optics);

            let mut crate_quirc = quircs::Quirc::new();
            let _ = crate_quirc.identify(width, height, &pixels).count();
            let mut ours = Identifier::default();
            ours.identify(width, height, &pixels);

            let q = &ours.quirc;
            assert_eq!(q.capstones.len(), crate_quirc.capstones.len(), "case {i}");
            for (a, b) in q.capstones.iter().zip(&crate_quirc.capstones) {
                assert_eq!((a.ring, a.stone, a.qr_grid), (b.ring, b.stone, b.qr_grid));
                assert_eq!(a.c, b.c, "case {i}");
            }
            assert_eq!(q.grids.len(), crate_quirc.grids.len(), "case {i}");
            for index in 0..q.grids.len() {
                ours.refine(index);
                let (a, b) = (&ours.quirc.grids[index], &crate_quirc.grids[index]);
                assert_eq!((a.caps, a.grid_size), (b.caps, b.grid_size), "case {i}");
                assert_eq!(a.c, b.c, "case {i}: refined grid differs");
                grids += 1;
            }
        }
        assert!(grids >= 8, "only {grids} grids compared");
    }
}
