//! Grey planes and their black/white versions: scaling, Otsu, and local thresholds from an
//! integral image.
//!
//! Binary images are written the way `quircs` reads them best: black 0, white 255, so its own
//! Otsu threshold passes them through unchanged; a white border around them gives codes that
//! touch the frame edge the quiet zone the finder-pattern scan needs.

use std::borrow::Cow;

use super::GrayFrame;

/// An 8-bit grey image: the caller's frame as it is (borrowed, rows `stride` bytes apart) or a
/// scaled copy of it.
#[derive(Debug, Clone)]
pub(crate) struct Plane<'a> {
    pub width: usize,
    pub height: usize,
    stride: usize,
    pixels: Cow<'a, [u8]>,
}

impl<'a> Plane<'a> {
    /// The frame itself, not copied: the Y plane of a camera frame is read where it lies.
    pub fn borrowed(frame: &GrayFrame<'a>) -> Self {
        Self {
            width: frame.width,
            height: frame.height,
            stride: frame.stride,
            pixels: Cow::Borrowed(frame.pixels),
        }
    }

    fn owned(width: usize, height: usize, pixels: Vec<u8>) -> Self {
        Self {
            width,
            height,
            stride: width,
            pixels: Cow::Owned(pixels),
        }
    }

    /// Row `y` (`width` pixels).
    pub fn row(&self, y: usize) -> &[u8] {
        &self.pixels[y * self.stride..y * self.stride + self.width]
    }

    /// The frame shrunk by an integer `factor` (box filter); 1 borrows it.
    pub fn from_frame(frame: &GrayFrame<'a>, factor: usize) -> Self {
        let factor = factor.max(1);
        if factor == 1 {
            return Self::borrowed(frame);
        }
        let width = (frame.width / factor).max(1);
        let height = (frame.height / factor).max(1);
        if factor == 2 && frame.width >= 2 && frame.height >= 2 {
            return Self::halved(frame, width, height);
        }
        let mut sums = vec![0u32; width];
        let mut pixels = Vec::with_capacity(width * height);
        for y in 0..height {
            sums.fill(0);
            let rows = (y * factor)..((y + 1) * factor).min(frame.height);
            let area = (rows.len() * factor.min(frame.width)) as u32;
            for sy in rows {
                let row = frame.row(sy);
                if row.len() >= width * factor {
                    for (sum, chunk) in sums.iter_mut().zip(row.chunks_exact(factor)) {
                        *sum += chunk.iter().map(|&v| u32::from(v)).sum::<u32>();
                    }
                } else {
                    // A frame narrower than the factor: one output pixel from what there is.
                    sums[0] += row.iter().map(|&v| u32::from(v)).sum::<u32>();
                }
            }
            pixels.extend(sums.iter().map(|&sum| (sum / area.max(1)) as u8));
        }
        Self::owned(width, height, pixels)
    }

    /// The frame at half size: the most common shrink (the first look at a camera frame), so
    /// it gets a loop over row pairs the compiler can vectorise. Same values as the general box
    /// filter (the mean rounded down).
    fn halved(frame: &GrayFrame<'a>, width: usize, height: usize) -> Self {
        let mut pixels = vec![0u8; width * height];
        for (y, out) in pixels.chunks_exact_mut(width).enumerate() {
            let (top, bottom) = (frame.row(2 * y), frame.row(2 * y + 1));
            let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for (o, (t, b)) in out.iter_mut().zip(pairs) {
                let sum = u16::from(t[0]) + u16::from(t[1]) + u16::from(b[0]) + u16::from(b[1]);
                *o = (sum / 4) as u8;
            }
        }
        Self::owned(width, height, pixels)
    }

    /// Twice the size, bilinear: gives codes under ~3 px per module enough pixels for the
    /// finder-pattern ratio test.
    pub fn upscaled_2x(&self) -> Plane<'static> {
        let (w, h) = (self.width, self.height);
        let (width, height) = (w * 2, h * 2);
        let mut pixels = vec![0u8; width * height];
        for y in 0..height {
            // Source coordinate of this pixel's centre: (y + 0.5) / 2 - 0.5.
            let sy = (y as f32 + 0.5) * 0.5 - 0.5;
            let y0 = sy.floor().max(0.0) as usize;
            let y1 = (y0 + 1).min(h - 1);
            let fy = (sy - y0 as f32).clamp(0.0, 1.0);
            for x in 0..width {
                let sx = (x as f32 + 0.5) * 0.5 - 0.5;
                let x0 = sx.floor().max(0.0) as usize;
                let x1 = (x0 + 1).min(w - 1);
                let fx = (sx - x0 as f32).clamp(0.0, 1.0);
                let at = |xx: usize, yy: usize| f32::from(self.row(yy)[xx]);
                let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
                let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
                pixels[y * width + x] = (top * (1.0 - fy) + bottom * fy + 0.5) as u8;
            }
        }
        Plane::owned(width, height, pixels)
    }

    /// Bilinear sample at a point in pixel coordinates (pixel centres at .5); outside reads the
    /// nearest edge pixel.
    pub fn sample(&self, x: f64, y: f64) -> f32 {
        self.sample_through(x, y, f32::from)
    }

    /// [`Self::sample`] with each pixel's grey first turned into `level(grey)` (e.g. light
    /// linear in the scene, where a pixel half over an edge is half way).
    pub fn sample_through(&self, x: f64, y: f64, level: impl Fn(u8) -> f32) -> f32 {
        let sx = (x - 0.5).clamp(0.0, (self.width - 1) as f64);
        let sy = (y - 0.5).clamp(0.0, (self.height - 1) as f64);
        let x0 = sx as usize;
        let y0 = sy as usize;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let fx = (sx - x0 as f64) as f32;
        let fy = (sy - y0 as f64) as f32;
        let at = |xx: usize, yy: usize| level(self.pixels[yy * self.stride + xx]);
        let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
        let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

/// Otsu's threshold of a set of grey values: values `< threshold` are black.
pub(crate) fn otsu(values: impl Iterator<Item = u8>) -> u8 {
    let mut histogram = [0u64; 256];
    let mut count = 0u64;
    for value in values {
        histogram[usize::from(value)] += 1;
        count += 1;
    }
    let total: u64 = histogram
        .iter()
        .enumerate()
        .map(|(i, &n)| i as u64 * n)
        .sum();
    let (mut below, mut below_sum) = (0u64, 0u64);
    let (mut best, mut threshold) = (-1.0f64, 128u8);
    for (i, &n) in histogram.iter().enumerate() {
        below += n;
        below_sum += i as u64 * n;
        if below == 0 || below == count {
            continue;
        }
        let above = count - below;
        let mean_below = below_sum as f64 / below as f64;
        let mean_above = (total - below_sum) as f64 / above as f64;
        let spread = (mean_below - mean_above).powi(2) * below as f64 * above as f64;
        if spread > best {
            best = spread;
            threshold = (i + 1).min(255) as u8;
        }
    }
    threshold
}

/// Summed-area table of a plane, `(width + 1) * (height + 1)` entries. Sums wrap at 2^32; a
/// window's sum (at most 255 * window area) is still exact from wrapped corners.
#[derive(Debug, Default)]
pub(crate) struct Integral {
    width: usize,
    height: usize,
    sums: Vec<u32>,
}

impl Integral {
    pub fn of(plane: &Plane<'_>) -> Self {
        let (w, h) = (plane.width, plane.height);
        let stride = w + 1;
        let mut sums = vec![0u32; stride * (h + 1)];
        for y in 0..h {
            let mut row_sum = 0u32;
            let row = plane.row(y);
            for x in 0..w {
                row_sum = row_sum.wrapping_add(u32::from(row[x]));
                sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1].wrapping_add(row_sum);
            }
        }
        Self {
            width: w,
            height: h,
            sums,
        }
    }

    /// Mean of the window of half-size `radius` around (x, y), clipped to the image.
    pub fn mean(&self, x: usize, y: usize, radius: usize) -> u32 {
        let x0 = x.saturating_sub(radius);
        let y0 = y.saturating_sub(radius);
        let x1 = (x + radius + 1).min(self.width);
        let y1 = (y + radius + 1).min(self.height);
        let stride = self.width + 1;
        let sum = self.sums[y1 * stride + x1]
            .wrapping_sub(self.sums[y0 * stride + x1])
            .wrapping_sub(self.sums[y1 * stride + x0])
            .wrapping_add(self.sums[y0 * stride + x0]);
        sum / ((x1 - x0) * (y1 - y0)) as u32
    }
}

/// How a pass turns grey into black and white.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threshold {
    /// One Otsu threshold for the whole plane, `quircs`' own: what plain quircs does. The
    /// "binary" image is then the grey plane with its border.
    Global,
    /// Black where a pixel is darker than its neighbourhood's mean (window half-size `radius`)
    /// by more than `percent` of that mean (so flat areas stay white).
    Local { radius: usize, percent: u32 },
}

/// Writes `plane` as a binary image (grey for [`Threshold::Global`]) with a white border of `pad` pixels into `out`
/// (`(width + 2 pad) * (height + 2 pad)` bytes). `inverted` reads light modules as black.
/// The integral image is built on first use: the cheapest pass (`Global`) never needs it, and a
/// frame that pass decodes never pays for it.
pub(crate) fn binarize(
    plane: &Plane<'_>,
    integral: &std::cell::OnceCell<Integral>,
    threshold: Threshold,
    inverted: bool,
    pad: usize,
    out: &mut Vec<u8>,
) {
    let (w, h) = (plane.width, plane.height);
    let out_width = w + 2 * pad;
    // Only the border is filled here; every pixel inside is written below.
    out.resize(out_width * (h + 2 * pad), 255);
    out[..pad * out_width].fill(255);
    out[(h + pad) * out_width..].fill(255);
    for y in pad..h + pad {
        out[y * out_width..y * out_width + pad].fill(255);
        out[y * out_width + pad + w..(y + 1) * out_width].fill(255);
    }
    let (black, white) = (0u8, 255u8);
    match threshold {
        Threshold::Global => {
            // Grey as it is (inverted if asked): `quircs` applies its own Otsu threshold, the
            // same one plain quircs uses, without a second pass over the pixels here.
            for y in 0..h {
                let row = plane.row(y);
                let dest = &mut out[(y + pad) * out_width + pad..][..w];
                if inverted {
                    for (d, &v) in dest.iter_mut().zip(row) {
                        *d = 255 - v;
                    }
                } else {
                    dest.copy_from_slice(row);
                }
            }
        }
        Threshold::Local { radius, percent } => {
            let integral = integral.get_or_init(|| Integral::of(plane));
            for y in 0..h {
                let row = plane.row(y);
                let dest = &mut out[(y + pad) * out_width + pad..][..w];
                for (x, (d, &v)) in dest.iter_mut().zip(row).enumerate() {
                    let mean = integral.mean(x, y, radius);
                    let v = u32::from(v);
                    let dark = v * 100 < mean * (100 - percent);
                    // Inverted: a light module is brighter than its surroundings by as much.
                    let light = v * 100 > mean * (100 + percent);
                    *d = if if inverted { light } else { dark } {
                        black
                    } else {
                        white
                    };
                }
            }
        }
    }
}
