//! The decoder: passes over the frame (scale × threshold × polarity), cheapest first, each a
//! binary image handed to `quircs`; every grid it finds but cannot decode gets retries that read
//! the modules again from the grey image and mirrored.

use quircs::{Code, Quirc};

use super::binarize::{Integral, Plane, Threshold, binarize};
use super::grid::{CellThreshold, cells_of, map, module_values, threshold_modules};
use super::segments::{self, Payload};
use super::symbol::{self, Codewords};
use super::{Detection, GrayFrame, Point};

/// White border around every binary image: a quiet zone for codes cut by the frame edge.
const PAD: usize = 8;
/// Frames larger than this (longest side) are first read shrunk by an integer factor: codes in
/// them are large enough, and the work is proportional to pixels.
const BASE_MAX_SIDE: usize = 1280;
/// Frames up to this size (longest side, after shrinking) are also read at twice their size,
/// for codes under ~3 px per module.
const UPSCALE_MAX_SIDE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// The frame shrunk to at most `BASE_MAX_SIDE` (unchanged when smaller).
    Base,
    /// The frame at its own size (only when `Base` shrank it).
    Full,
    /// `Base` at twice its size.
    Double,
}

#[derive(Debug, Clone, Copy)]
struct Pass {
    scale: Scale,
    threshold: Threshold,
    inverted: bool,
}

/// A plane and what is derived from it once for all passes over it.
struct Level {
    plane: Plane,
    integral: Integral,
    /// Frame pixels per plane pixel.
    frame_per_pixel: f64,
}

/// Reusable QR decoder: holds `quircs`' state and the binary image buffer between frames.
#[derive(Default)]
pub struct Decoder {
    quirc: Quirc,
    binary: Vec<u8>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every code found in `frame`, each once.
    pub fn decode(&mut self, frame: &GrayFrame<'_>) -> Vec<Detection> {
        let longest = frame.width.max(frame.height);
        let factor = longest.div_ceil(BASE_MAX_SIDE);
        let base = level(Plane::from_frame(frame, factor), factor as f64);
        let base_side = base.plane.width.max(base.plane.height);
        let mut full = None;
        let mut double = None;

        let mut found: Vec<Detection> = Vec::new();
        for pass in passes(&base, factor > 1, base_side <= UPSCALE_MAX_SIDE) {
            let level = match pass.scale {
                Scale::Base => &base,
                Scale::Full => full.get_or_insert_with(|| level(Plane::from_frame(frame, 1), 1.0)),
                Scale::Double => double.get_or_insert_with(|| {
                    level(base.plane.upscaled_2x(), base.frame_per_pixel / 2.0)
                }),
            };
            let undecoded = self.run_pass(level, pass, &mut found);
            if !found.is_empty() && undecoded == 0 {
                break;
            }
        }
        found
    }

    /// Runs one pass, adding new detections to `found`; returns how many grids it found but
    /// could not decode.
    fn run_pass(&mut self, level: &Level, pass: Pass, found: &mut Vec<Detection>) -> usize {
        let plane = &level.plane;
        binarize(
            plane,
            &level.integral,
            pass.threshold,
            pass.inverted,
            PAD,
            &mut self.binary,
        );
        let (width, height) = (plane.width + 2 * PAD, plane.height + 2 * PAD);
        let codes: Vec<Option<Code>> = self
            .quirc
            .identify(width, height, &self.binary)
            .map(Result::ok)
            .collect();
        let mut undecoded = 0;
        for (index, code) in codes.into_iter().enumerate() {
            let (Some(code), Some(grid)) = (code, self.quirc.grids.get(index)) else {
                continue;
            };
            let size = code.size.max(0) as usize;
            let to_frame = |(x, y): (f64, f64)| Point {
                x: ((x - PAD as f64 + 0.5) * level.frame_per_pixel) as f32,
                y: ((y - PAD as f64 + 0.5) * level.frame_per_pixel) as f32,
            };
            let half = size as f64 / 2.0;
            let centre = to_frame(map(&grid.c, half, half));
            if found.iter().any(|d| contains(&d.corners, centre)) {
                continue;
            }
            match read(&code, plane, &grid.c, pass.inverted) {
                Some((codewords, payload, mirrored)) => {
                    let n = size as f64;
                    let mut corners = [(0.0, 0.0), (n, 0.0), (n, n), (0.0, n)]
                        .map(|(u, v)| to_frame(map(&grid.c, u, v)));
                    if mirrored {
                        corners.swap(1, 3);
                    }
                    found.push(Detection {
                        text: payload.text,
                        payload: payload.bytes,
                        version: codewords.version as u8,
                        ecc: codewords.ecc,
                        corners,
                        mirrored,
                        inverted: pass.inverted,
                    });
                }
                None => undecoded += 1,
            }
        }
        undecoded
    }
}

fn level(plane: Plane, frame_per_pixel: f64) -> Level {
    let integral = Integral::of(&plane);
    Level {
        plane,
        integral,
        frame_per_pixel,
    }
}

/// The passes, in the order tried: plain quircs first (it reads most clean codes at once), then
/// local thresholds, inverted codes, small codes (upscaled) and, for large frames, full size.
fn passes(base: &Level, shrunk: bool, upscale: bool) -> Vec<Pass> {
    let shortest = base.plane.width.min(base.plane.height);
    let wide = Threshold::Local {
        radius: (shortest / 8).max(8),
        percent: 10,
    };
    let narrow = Threshold::Local {
        radius: (shortest / 24).max(4),
        percent: 10,
    };
    let mut passes = Vec::new();
    let pass = |scale, threshold, inverted| Pass {
        scale,
        threshold,
        inverted,
    };
    passes.push(pass(Scale::Base, Threshold::Global, false));
    passes.push(pass(Scale::Base, wide, false));
    passes.push(pass(Scale::Base, Threshold::Global, true));
    passes.push(pass(Scale::Base, wide, true));
    passes.push(pass(Scale::Base, narrow, false));
    if upscale {
        let doubled = |t| match t {
            Threshold::Local { radius, percent } => Threshold::Local {
                radius: radius * 2,
                percent,
            },
            Threshold::Global => Threshold::Global,
        };
        passes.push(pass(Scale::Double, doubled(wide), false));
        passes.push(pass(Scale::Double, doubled(narrow), false));
    }
    if shrunk {
        passes.push(pass(Scale::Full, Threshold::Global, false));
    }
    passes
}

/// Decodes a found grid: as `quircs` read it, then from the grey image with two thresholds,
/// each also mirrored. Returns the codewords, payload and whether it was mirrored.
fn read(
    code: &Code,
    plane: &Plane,
    c: &[f64; 8],
    inverted: bool,
) -> Option<(Codewords, Payload, bool)> {
    let size = code.size.max(0) as usize;
    if let Some(found) = read_cells(size, &cells_of(code)) {
        return Some(found);
    }
    let values = module_values(plane, c, size, PAD as f64);
    [CellThreshold::Otsu, CellThreshold::Neighbourhood]
        .into_iter()
        .find_map(|how| read_cells(size, &threshold_modules(&values, size, how, inverted)))
}

/// Decodes modules (row-major, dark = true) as they are and mirrored (transposed: the mirror
/// image of a code keeps its finder patterns at the same three corners).
fn read_cells(size: usize, cells: &[bool]) -> Option<(Codewords, Payload, bool)> {
    if cells.len() < size * size {
        return None;
    }
    [false, true].into_iter().find_map(|mirrored| {
        let dark = |x: usize, y: usize| {
            if mirrored {
                cells[x * size + y]
            } else {
                cells[y * size + x]
            }
        };
        let codewords = symbol::decode(size, &dark).ok()?;
        let payload = segments::parse(&codewords.data, codewords.version).ok()?;
        Some((codewords, payload, mirrored))
    })
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
