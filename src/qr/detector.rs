//! The decoder: passes over the frame (scale × threshold × polarity), cheapest first, each an
//! image handed to `quircs` for finder patterns and grids, stopping after the first pass that
//! decoded something and left no candidate behind. Within a pass, found codes are erased and
//! the image searched again; grids that do not decode get re-reads on refined grids; leftover
//! finder patterns are grouped by us.

use std::cell::OnceCell;

use quircs::Code;

use super::binarize::{Integral, Plane, Threshold, binarize, otsu};
use super::corners;
use super::found::{already_found, erase_finders};
use super::grid::{
    CellThreshold, ModuleMap, affine_through, cells_of, finder_affine, finder_homography, map,
    module_values, refine_with_alignment, threshold_modules,
};
use super::group::{Finder, candidates};
use super::identify::Identifier;
use super::segments::{self, Payload};
use super::symbol::{self, Codewords};
use super::warp::Warp;
use super::{Detection, GrayFrame, Point};

/// White border around every binary image: a quiet zone for codes cut by the frame edge.
const PAD: usize = 3;
/// Frames larger than this (longest side) are first read shrunk by an integer factor: codes in
/// them are large enough, and the work is proportional to pixels.
const BASE_MAX_SIDE: usize = 1280;
/// Frames up to this size (longest side, after shrinking) are also read at twice their size,
/// for codes under ~3 px per module.
const UPSCALE_MAX_SIDE: usize = 1024;

/// Frames at least this large (shortest side, after shrinking) are first read at half size.
const HALF_MIN_SIDE: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// The frame shrunk to at most `BASE_MAX_SIDE` (unchanged when smaller).
    Base,
    /// The frame at its own size (only when `Base` shrank it).
    Full,
    /// `Base` at twice its size.
    Double,
    /// `Base` at half its size: a quick first look, enough for the large codes of most photos.
    Half,
}

#[derive(Debug, Clone, Copy)]
struct Pass {
    scale: Scale,
    threshold: Threshold,
    inverted: bool,
}

/// A plane and what is derived from it once for all passes over it.
struct Level<'a> {
    plane: Plane<'a>,
    /// Built on the first pass with a local threshold (the first pass has a global one).
    integral: OnceCell<Integral>,
    /// Frame pixels per plane pixel.
    frame_per_pixel: f64,
}

/// Reusable QR decoder: holds the finder-pattern search's state and the binary image buffer
/// between frames.
#[derive(Default)]
pub struct Decoder {
    identifier: Identifier,
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
        // Planes are made when a pass first needs them: a frame the first pass decodes pays for
        // no other. At factor 1 the base plane is the frame itself, borrowed.
        let base_plane = || level(Plane::from_frame(frame, factor), factor as f64);
        let base_size = (
            (frame.width / factor).max(1),
            (frame.height / factor).max(1),
        );
        let mut base = None;
        let mut full = None;
        let mut double = None;
        let mut half = None;

        let mut found: Vec<Detection> = Vec::new();
        let upscale = base_size.0.max(base_size.1) <= UPSCALE_MAX_SIDE;
        for pass in passes(base_size, factor > 1, upscale) {
            let level = match pass.scale {
                Scale::Base => &*base.get_or_insert_with(base_plane),
                Scale::Full => full.get_or_insert_with(|| level(Plane::from_frame(frame, 1), 1.0)),
                Scale::Double => double.get_or_insert_with(|| {
                    let base = base.get_or_insert_with(base_plane);
                    level(base.plane.upscaled_2x(), base.frame_per_pixel / 2.0)
                }),
                Scale::Half => half.get_or_insert_with(|| {
                    level(Plane::from_frame(frame, factor * 2), (factor * 2) as f64)
                }),
            };
            let outcome = self.run_pass(level, pass, &mut found);
            if !found.is_empty() && outcome.undecoded == 0 && outcome.stray_finders == 0 {
                break;
            }
        }
        if found.is_empty() {
            found.extend(whole_frame_symbol(base.get_or_insert_with(base_plane)));
        }
        let full = Plane::borrowed(frame);
        for detection in &mut found {
            corners::refine(&full, detection, frame.linear_light());
        }
        found
    }

    /// Runs one pass, adding new detections to `found`. Codes already found are erased from the
    /// binary image first, and again after each round that decodes something, so finder
    /// patterns `quircs` grouped wrongly (or with an already-read code) get another chance.
    fn run_pass(&mut self, level: &Level, pass: Pass, found: &mut Vec<Detection>) -> Outcome {
        const ROUNDS: usize = 4;
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
        let to_binary = |p: &Point| {
            (
                f64::from(p.x) / level.frame_per_pixel - 0.5 + PAD as f64,
                f64::from(p.y) / level.frame_per_pixel - 0.5 + PAD as f64,
            )
        };
        for detection in found.iter() {
            erase_finders(&mut self.binary, width, detection, to_binary);
        }
        let mut outcome = Outcome::default();
        for _ in 0..ROUNDS {
            let before = found.len();
            outcome = self.identify_round(level, pass, width, height, found);
            if found.len() == before || outcome.stray_finders == 0 {
                break;
            }
            for detection in &found[before..] {
                erase_finders(&mut self.binary, width, detection, to_binary);
            }
        }
        if outcome.undecoded > 0 || outcome.stray_finders > 0 {
            self.group_leftovers(level, pass, found);
        }
        outcome
    }

    /// Tries our own grouping of the finder patterns the last round left outside found codes.
    fn group_leftovers(&mut self, level: &Level, pass: Pass, found: &mut Vec<Detection>) {
        /// Triples tried per pass: bounds the work in a frame full of finder-like clutter.
        const MAX_CANDIDATES: usize = 24;
        let finders: Vec<Finder> = self
            .identifier
            .quirc
            .capstones
            .iter()
            .filter_map(|cap| {
                let centre = map(&cap.c, 3.5, 3.5);
                let (o, u, v) = (
                    map(&cap.c, 0.0, 0.0),
                    map(&cap.c, 7.0, 0.0),
                    map(&cap.c, 0.0, 7.0),
                );
                let module = ((u.0 - o.0).hypot(u.1 - o.1) + (v.0 - o.0).hypot(v.1 - o.1)) / 14.0;
                let at = level.to_frame(centre);
                if already_found(found, at, module * level.frame_per_pixel) {
                    return None;
                }
                Some(Finder { centre, module })
            })
            .collect();
        if finders.len() < 3 {
            return;
        }
        let mut used = vec![false; finders.len()];
        for candidate in candidates(&finders, MAX_CANDIDATES) {
            if candidate.finders.iter().any(|&i| used[i]) {
                continue;
            }
            let [tl, tr, bl] = candidate.finders.map(|i| finders[i].centre);
            for &size in &candidate.sizes {
                let Some(c) = affine_through(size, tl, tr, bl) else {
                    continue;
                };
                if let Some((read, c)) = reread_aligned(&level.plane, c, size, pass.inverted) {
                    found.push(detection(read, &c, size, level, pass.inverted));
                    candidate.finders.iter().for_each(|&i| used[i] = true);
                    break;
                }
            }
        }
    }

    /// One identification over the binary image, decoding every grid it groups: first on the
    /// grid as found, and only if that fails on the grid refined by `quircs`' fitness search and
    /// our re-reads.
    fn identify_round(
        &mut self,
        level: &Level,
        pass: Pass,
        width: usize,
        height: usize,
        found: &mut Vec<Detection>,
    ) -> Outcome {
        let plane = &level.plane;
        self.identifier.identify(width, height, &self.binary);
        let quirc = &self.identifier.quirc;
        let mut outcome = Outcome {
            undecoded: 0,
            stray_finders: quirc.capstones.iter().filter(|c| c.qr_grid < 0).count(),
        };
        for index in 0..quirc.grids.len() {
            let (Some(code), Some(grid)) = (
                self.identifier.extract(index),
                self.identifier.quirc.grids.get(index).copied(),
            ) else {
                continue;
            };
            let size = code.size.max(0) as usize;
            let half = size as f64 / 2.0;
            let centre = level.to_frame(map(&grid.c, half, half));
            let (left, right) = (map(&grid.c, 0.0, half), map(&grid.c, size as f64, half));
            let module = (right.0 - left.0).hypot(right.1 - left.1) / size.max(1) as f64;
            if already_found(found, centre, module * level.frame_per_pixel) {
                continue;
            }
            let capstones = grid.caps.map(|i| {
                self.identifier
                    .quirc
                    .capstones
                    .get(i)
                    .map_or([(0.0, 0.0); 4], |cap| {
                        [(0.0, 0.0), (7.0, 0.0), (7.0, 7.0), (0.0, 7.0)]
                            .map(|(u, v)| map(&cap.c, u, v))
                    })
            });
            let first = read_cells(size, &cells_of(&code))
                .map(|found| (found, ModuleMap::Projective(grid.c)))
                .or_else(|| reread(plane, ModuleMap::Projective(grid.c), size, pass.inverted));
            let read = first.or_else(|| {
                self.identifier.refine(index);
                let refined = self.identifier.quirc.grids.get(index)?.c;
                let code = self.identifier.extract(index)?;
                read(&code, plane, &refined, &capstones, pass.inverted)
            });
            let Some((read, c)) = read else {
                outcome.undecoded += 1;
                continue;
            };
            found.push(detection(read, &c, size, level, pass.inverted));
        }
        outcome
    }
}

/// A symbol that fills the frame (a tight crop, a screenshot, a scan without quiet zone, or
/// modules too small for the finder-pattern scan, like version 40 at 1 px per module): the dark
/// pixels' bounding box is the symbol, the top-left finder's first row gives the module size.
/// Tried once, when nothing else was found.
fn whole_frame_symbol(level: &Level) -> Option<Detection> {
    let plane = &level.plane;
    let (w, h) = (plane.width, plane.height);
    let threshold = otsu((0..h).flat_map(|y| plane.row(y).iter().copied()));
    [false, true].into_iter().find_map(|inverted| {
        let dark = |x: usize, y: usize| (plane.row(y)[x] < threshold) != inverted;
        let rows: Vec<usize> = (0..h).filter(|&y| (0..w).any(|x| dark(x, y))).collect();
        let cols: Vec<usize> = (0..w).filter(|&x| (0..h).any(|y| dark(x, y))).collect();
        let (&top, &bottom, &left, &right) =
            (rows.first()?, rows.last()?, cols.first()?, cols.last()?);
        let (width, height) = ((right + 1 - left) as f64, (bottom + 1 - top) as f64);
        // A square symbol, not a dark blob in a scene.
        if width < 21.0 || (width - height).abs() > 0.1 * width {
            return None;
        }
        let run = (left..=right).take_while(|&x| dark(x, top)).count() as f64;
        let module = run / 7.0;
        if module < 0.5 {
            return None;
        }
        let version = ((width / module - 17.0) / 4.0).round() as i64;
        [version, version - 1, version + 1]
            .into_iter()
            .filter(|v| (1..=40).contains(v))
            .find_map(|version| {
                let size = 17 + 4 * version as usize;
                let (du, dv) = (width / size as f64, height / size as f64);
                // Binary-image coordinates: pixel index of the plane plus the border, minus
                // half a pixel so module edges fall on pixel edges.
                let origin = (
                    left as f64 + PAD as f64 - 0.5,
                    top as f64 + PAD as f64 - 0.5,
                );
                let grid = ModuleMap::Projective([du, 0.0, origin.0, 0.0, dv, origin.1, 0.0, 0.0]);
                let (read, grid) = reread(plane, grid, size, inverted)?;
                Some(detection(read, &grid, size, level, inverted))
            })
    })
}

/// The detection for a symbol read on `grid`.
fn detection(
    read: Read,
    grid: &ModuleMap,
    size: usize,
    level: &Level,
    inverted: bool,
) -> Detection {
    let n = size as f64;
    let mut corners =
        [(0.0, 0.0), (n, 0.0), (n, n), (0.0, n)].map(|(u, v)| level.to_frame(grid.map(u, v)));
    if read.mirrored {
        corners.swap(1, 3);
    }
    Detection {
        text: read.payload.text,
        payload: read.payload.bytes,
        version: read.codewords.version as u8,
        ecc: read.codewords.ecc,
        corners,
        mirrored: read.mirrored,
        inverted,
    }
}

/// What a pass left undone.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    /// Grids found but not decoded.
    undecoded: usize,
    /// Finder patterns not grouped into any grid in the last round.
    stray_finders: usize,
}

impl Level<'_> {
    /// Binary-image pixel coordinates (with the white border) to frame pixels.
    fn to_frame(&self, (x, y): (f64, f64)) -> Point {
        Point {
            x: ((x - PAD as f64 + 0.5) * self.frame_per_pixel) as f32,
            y: ((y - PAD as f64 + 0.5) * self.frame_per_pixel) as f32,
        }
    }
}

fn level(plane: Plane<'_>, frame_per_pixel: f64) -> Level<'_> {
    Level {
        plane,
        integral: OnceCell::new(),
        frame_per_pixel,
    }
}

/// The passes, in the order tried: plain quircs first (it reads most clean codes at once), then
/// local thresholds, inverted codes, small codes (upscaled) and, for large frames, full size.
fn passes((width, height): (usize, usize), shrunk: bool, upscale: bool) -> Vec<Pass> {
    let shortest = width.min(height);
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
    if shortest >= HALF_MIN_SIDE {
        passes.push(pass(Scale::Half, Threshold::Global, false));
    }
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
        passes.push(pass(Scale::Double, doubled(wide), true));
    }
    if shrunk {
        passes.push(pass(Scale::Full, Threshold::Global, false));
    }
    passes
}

/// Decodes a found grid: as `quircs` read it, then from the grey image on its grid, then on an
/// affine grid through the finder patterns (refined by the alignment pattern), then on a grid
/// bent through every alignment pattern. Returns what was read and the grid it was read on.
fn read(
    code: &Code,
    plane: &Plane<'_>,
    c: &[f64; 8],
    capstones: &[[(f64, f64); 4]; 3],
    inverted: bool,
) -> Option<(Read, ModuleMap)> {
    let size = code.size.max(0) as usize;
    if let Some(found) = read_cells(size, &cells_of(code)) {
        return Some((found, ModuleMap::Projective(*c)));
    }
    // Finder centres: the middle of each ring's corners.
    let finders = capstones.map(|corners| {
        let (x, y) = corners
            .iter()
            .fold((0.0, 0.0), |(x, y), p| (x + p.0 / 4.0, y + p.1 / 4.0));
        (x, y)
    });
    reread(plane, ModuleMap::Projective(*c), size, inverted)
        .or_else(|| reread_aligned(plane, finder_affine(c, size, finders)?, size, inverted))
        .or_else(|| {
            let through_finders = finder_homography(c, size, capstones)?;
            reread(
                plane,
                ModuleMap::Projective(through_finders),
                size,
                inverted,
            )
        })
        .or_else(|| reread_warped(plane, c, size, inverted))
}

/// Reads the modules from the grey image on grid `c`, then on `c` refined by the alignment
/// pattern, then on a grid bent through all alignment patterns.
fn reread_aligned(
    plane: &Plane<'_>,
    c: [f64; 8],
    size: usize,
    inverted: bool,
) -> Option<(Read, ModuleMap)> {
    reread(plane, ModuleMap::Projective(c), size, inverted)
        .or_else(|| {
            let refined = refine_with_alignment(plane, &c, size, PAD as f64)?;
            reread(plane, ModuleMap::Projective(refined), size, inverted)
        })
        .or_else(|| reread_warped(plane, &c, size, inverted))
}

fn reread_warped(
    plane: &Plane<'_>,
    c: &[f64; 8],
    size: usize,
    inverted: bool,
) -> Option<(Read, ModuleMap)> {
    let warp = Warp::fit(plane, c, size, PAD as f64)?;
    reread(plane, ModuleMap::Warped(warp), size, inverted)
}

/// Reads the modules from the grey image on `grid`, with an Otsu threshold over the code and
/// then against each module's neighbourhood.
fn reread(
    plane: &Plane<'_>,
    grid: ModuleMap,
    size: usize,
    inverted: bool,
) -> Option<(Read, ModuleMap)> {
    let values = module_values(plane, &grid, size, PAD as f64);
    [CellThreshold::Otsu, CellThreshold::Neighbourhood]
        .into_iter()
        .find_map(|how| read_cells(size, &threshold_modules(&values, size, how, inverted)))
        .map(|found| (found, grid))
}

/// A decoded symbol.
struct Read {
    codewords: Codewords,
    payload: Payload,
    mirrored: bool,
}

/// Decodes modules (row-major, dark = true) as they are and mirrored (transposed: the mirror
/// image of a code keeps its finder patterns at the same three corners).
fn read_cells(size: usize, cells: &[bool]) -> Option<Read> {
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
        Some(Read {
            codewords,
            payload,
            mirrored,
        })
    })
}
