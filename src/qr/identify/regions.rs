//! Connected regions and finder patterns ("capstones"), vendored from `quircs` 0.10.3
//! `identify.rs` (see `LICENSE-quircs` here; ISC: Daniel Beer 2010-2012, Friedel Ziegelmayer
//! 2020). Logic unchanged; the flood fill takes a closure instead of an untyped user-data enum
//! and reuses one stack, pixels are read with bounds checks instead of `unsafe`, and the stone/ring
//! area ratio is computed in i64.

use quircs::{Capstone, Pixel, Point, Region};

use super::fit::{perspective_map, perspective_setup};

/// The label image: 0 white, 1 black not yet labelled, 2.. a region's index.
pub(super) struct Labels<'a> {
    pub pixels: &'a mut [Pixel],
    pub width: usize,
    pub height: usize,
    /// The flood fill's work list, kept between fills so a frame allocates it once.
    pub stack: &'a mut Vec<(usize, usize)>,
}

/// Span flood fill from (x, y) turning `from` into `to`, calling `visit(y, left, right)` on each
/// span filled.
pub(super) fn flood_fill(
    image: &mut Labels<'_>,
    x: usize,
    y: usize,
    from: Pixel,
    to: Pixel,
    mut visit: impl FnMut(usize, i32, i32),
) {
    let width = image.width;
    if from == to || x >= width || y >= image.height {
        return;
    }
    image.stack.clear();
    image.stack.push((x, y));
    while let Some((x, y)) = image.stack.pop() {
        let row = &mut image.pixels[y * width..(y + 1) * width];
        let mut left = x;
        let mut right = x;
        while left > 0 && row[left - 1] == from {
            left -= 1;
        }
        while right < width - 1 && row[right + 1] == from {
            right += 1;
        }
        row[left..=right].fill(to);
        visit(y, left as i32, right as i32);

        // One seed per run of `from` in the rows above and below: the fill scans sideways.
        let mut seed_row = |ny: usize| {
            let row = &image.pixels[ny * width..(ny + 1) * width];
            let mut prev_matched = false;
            for (i, &value) in row.iter().enumerate().take(right + 1).skip(left) {
                if value == from {
                    if !prev_matched {
                        image.stack.push((i, ny));
                        prev_matched = true;
                    }
                } else {
                    prev_matched = false;
                }
            }
        };
        if y > 0 {
            seed_row(y - 1);
        }
        if y + 1 < image.height {
            seed_row(y + 1);
        }
    }
}

/// The region at (x, y): labels it (flood fill, counting its pixels) on first visit; -1 for
/// white, outside, or when the label space is full.
pub(super) fn region_code(
    image: &mut Labels<'_>,
    regions: &mut Vec<Region>,
    x: i32,
    y: usize,
) -> i32 {
    if x < 0 || x >= image.width as i32 || y >= image.height {
        return -1;
    }
    let pixel = image.pixels[y * image.width + x as usize];
    if pixel >= 2 {
        return i32::from(pixel);
    }
    if pixel == 0 {
        return -1;
    }
    let region = regions.len();
    if region >= 65_534 {
        return -1;
    }
    regions.push(Region {
        seed: Point { x, y: y as i32 },
        count: 0,
        capstone: -1,
    });
    let mut count = 0;
    flood_fill(
        image,
        x as usize,
        y,
        pixel,
        region as Pixel,
        |_, left, right| {
            count += right - left + 1;
        },
    );
    regions[region].count = count;
    region as i32
}

/// The four corners of a region: the point farthest from `point`, then the extremes along that
/// direction and its perpendicular.
fn find_region_corners(
    image: &mut Labels<'_>,
    region: &Region,
    rcode: Pixel,
    point: &Point,
) -> [Point; 4] {
    let (seed_x, seed_y) = (region.seed.x as usize, region.seed.y as usize);
    let mut far = Point::default();
    let mut best = -1;
    flood_fill(image, seed_x, seed_y, rcode, 1, |y, left, right| {
        let dy = y as i32 - point.y;
        for x in [left, right] {
            let dx = x - point.x;
            let d = dx * dx + dy * dy;
            if d > best {
                best = d;
                far = Point { x, y: y as i32 };
            }
        }
    });
    let reference = Point {
        x: far.x - point.x,
        y: far.y - point.y,
    };
    let mut corners = [region.seed; 4];
    let i = region.seed.x * reference.x + region.seed.y * reference.y;
    let j = region.seed.x * -reference.y + region.seed.y * reference.x;
    let mut scores = [i, j, -i, -j];
    flood_fill(image, seed_x, seed_y, 1, rcode, |y, left, right| {
        for x in [left, right] {
            let up = x * reference.x + y as i32 * reference.y;
            let right_0 = x * -reference.y + y as i32 * reference.x;
            for (k, score) in [up, right_0, -up, -right_0].into_iter().enumerate() {
                if score > scores[k] {
                    scores[k] = score;
                    corners[k] = Point { x, y: y as i32 };
                }
            }
        }
    });
    corners
}

fn record_capstone(
    image: &mut Labels<'_>,
    regions: &mut [Region],
    capstones: &mut Vec<Capstone>,
    ring: usize,
    stone: usize,
) {
    if capstones.len() >= 32 {
        return;
    }
    let index = capstones.len() as i32;
    regions[stone].capstone = index;
    regions[ring].capstone = index;
    let seed = regions[stone].seed;
    let corners = find_region_corners(image, &regions[ring], ring as Pixel, &seed);
    let mut capstone = Capstone {
        qr_grid: -1,
        ring: ring as i32,
        stone: stone as i32,
        corners,
        ..Default::default()
    };
    perspective_setup(&mut capstone.c, &capstone.corners, 7.0, 7.0);
    capstone.center = perspective_map(&capstone.c, 3.5, 3.5);
    capstones.push(capstone);
}

fn test_capstone(
    image: &mut Labels<'_>,
    regions: &mut Vec<Region>,
    capstones: &mut Vec<Capstone>,
    x: i32,
    y: usize,
    pb: &[i32; 5],
) {
    let ring_right = region_code(image, regions, x - pb[4], y);
    let stone = region_code(image, regions, x - pb[4] - pb[3] - pb[2], y);
    let ring_left = region_code(image, regions, x - pb[4] - pb[3] - pb[2] - pb[1] - pb[0], y);
    if ring_left < 0 || ring_right < 0 || stone < 0 {
        return;
    }
    // The ring's left and right are one region, apart from the stone.
    if ring_left != ring_right || ring_left == stone {
        return;
    }
    let (ring, stone) = (ring_left as usize, stone as usize);
    if regions[stone].capstone >= 0 || regions[ring].capstone >= 0 {
        return;
    }
    // Ideally 37.5 (9 of 24 modules). In i64: a region of a large frame overflows i32 × 100.
    let ratio = i64::from(regions[stone].count) * 100 / i64::from(regions[ring].count.max(1));
    if !(10..=70).contains(&ratio) {
        return;
    }
    record_capstone(image, regions, capstones, ring, stone);
}

/// Scans row `y` for 1:1:3:1:1 dark-light runs and tests each as a finder pattern.
///
/// The colour changes of the row are listed first (`transitions`, reused between rows), then
/// the runs between them tested: testing labels regions but never turns a pixel from dark to
/// light or back, so the list stays true, and the per-pixel loop stays free of the testing.
pub(super) fn finder_scan(
    image: &mut Labels<'_>,
    regions: &mut Vec<Region>,
    capstones: &mut Vec<Capstone>,
    y: usize,
    transitions: &mut Vec<usize>,
) {
    const CHECK: [i32; 5] = [1, 1, 3, 1, 1];
    let row = &image.pixels[y * image.width..(y + 1) * image.width];
    transitions.clear();
    // Pairs of neighbours, so the loop has no carried state and no bounds checks.
    for (x, (&left, &right)) in row.iter().zip(row.iter().skip(1)).enumerate() {
        if (left == 0) != (right == 0) {
            transitions.push(x + 1);
        }
    }
    let mut pb = [0i32; 5];
    let mut previous = 0;
    for (run_count, &x) in transitions.iter().enumerate() {
        pb.copy_within(1.., 0);
        pb[4] = (x - previous) as i32;
        previous = x;
        // A change to light (the row alternates, starting from the colour of pixel 0) after at
        // least five runs ends a dark-light-dark-light-dark candidate.
        let light = image.pixels[y * image.width + x] == 0;
        if light && run_count + 1 >= 5 {
            let avg = (pb[0] + pb[1] + pb[3] + pb[4]) / 4;
            let err = avg * 3 / 4;
            let ok = pb
                .iter()
                .zip(CHECK)
                .all(|(&run, check)| run >= check * avg - err && run <= check * avg + err);
            if ok {
                test_capstone(image, regions, capstones, x as i32, y, &pb);
            }
        }
    }
}
