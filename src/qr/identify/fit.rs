//! Grouping finder patterns into grids and fitting each grid's perspective, vendored from
//! `quircs` 0.10.3 `identify.rs` (see `LICENSE-quircs` here; ISC: Daniel Beer 2010-2012, Friedel
//! Ziegelmayer 2020). Changed: a grid is recorded with the perspective through its corners only,
//! and the costly fitness search (`jiggle`) runs only when the caller asks, for a grid whose
//! first read failed; rounding is inline (`f64::round` is a libm call on baseline x86-64, and
//! the search maps hundreds of thousands of points); products of coordinates are in i64, and the
//! alignment-pattern search is bounded by the frame's area.

use quircs::{Capstone, Grid, Pixel, Point, Region, VERSION_DB};

use super::regions::{Labels, flood_fill, region_code};

/// `x` rounded half away from zero, as `f64::round`, saturated to i32: exact, because the
/// fraction `x - trunc(x)` of an f64 is computed without error.
fn round(x: f64) -> i32 {
    let whole = x as i64;
    let fraction = x - whole as f64;
    let rounded = if fraction >= 0.5 {
        whole.saturating_add(1)
    } else if fraction <= -0.5 {
        whole.saturating_sub(1)
    } else {
        whole
    };
    rounded.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Where lines p0-p1 and q0-q1 cross; `None` when parallel.
fn line_intersect(p0: &Point, p1: &Point, q0: &Point, q1: &Point) -> Option<Point> {
    let [p0x, p0y, p1x, p1y] = [p0.x, p0.y, p1.x, p1.y].map(i64::from);
    let [q0x, q0y, q1x, q1y] = [q0.x, q0.y, q1.x, q1.y].map(i64::from);
    // (a, b) is perpendicular to p, (c, d) to q; e and f their dot products with p1 and q1.
    let (a, b) = (-(p1y - p0y), p1x - p0x);
    let (c, d) = (-(q1y - q0y), q1x - q0x);
    let e = a * p1x + b * p1y;
    let f = c * q1x + d * q1y;
    let det = a * d - b * c;
    if det == 0 {
        return None;
    }
    let clamp = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    Some(Point {
        x: clamp((d * e - b * f) / det),
        y: clamp((-c * e + a * f) / det),
    })
}

/// The projective map taking (0, 0), (w, 0), (w, h), (0, h) to `rect`.
pub(super) fn perspective_setup(c: &mut [f64; 8], rect: &[Point; 4], w: f64, h: f64) {
    let [x0, y0, x1, y1, x2, y2, x3, y3] = [
        rect[0].x, rect[0].y, rect[1].x, rect[1].y, rect[2].x, rect[2].y, rect[3].x, rect[3].y,
    ]
    .map(f64::from);
    let wden = w * (x2 * y3 - x3 * y2 + (x3 - x2) * y1 + x1 * (y2 - y3));
    let hden = h * (x2 * y3 + x1 * (y2 - y3) - x3 * y2 + (x3 - x2) * y1);
    c[0] = (x1 * (x2 * y3 - x3 * y2)
        + x0 * (-x2 * y3 + x3 * y2 + (x2 - x3) * y1)
        + x1 * (x3 - x2) * y0)
        / wden;
    c[1] = -(x0 * (x2 * y3 + x1 * (y2 - y3) - x2 * y1) - x1 * x3 * y2
        + x2 * x3 * y1
        + (x1 * x3 - x2 * x3) * y0)
        / hden;
    c[2] = x0;
    c[3] = (y0 * (x1 * (y3 - y2) - x2 * y3 + x3 * y2)
        + y1 * (x2 * y3 - x3 * y2)
        + x0 * y1 * (y2 - y3))
        / wden;
    c[4] = (x0 * (y1 * y3 - y2 * y3) + x1 * y2 * y3 - x2 * y1 * y3
        + y0 * (x3 * y2 - x1 * y2 + (x2 - x3) * y1))
        / hden;
    c[5] = y0;
    c[6] = (x1 * (y3 - y2) + x0 * (y2 - y3) + (x2 - x3) * y1 + (x3 - x2) * y0) / wden;
    c[7] = (-x2 * y3 + x1 * y3 + x3 * y2 + x0 * (y1 - y2) - x3 * y1 + (x2 - x1) * y0) / hden;
}

/// Module point (u, v) to the nearest pixel.
pub(super) fn perspective_map(c: &[f64; 8], u: f64, v: f64) -> Point {
    let den = c[6] * u + c[7] * v + 1.0;
    Point {
        x: round((c[0] * u + c[1] * v + c[2]) / den),
        y: round((c[3] * u + c[4] * v + c[5]) / den),
    }
}

fn perspective_unmap(c: &[f64; 8], p: &Point) -> (f64, f64) {
    let (x, y) = (f64::from(p.x), f64::from(p.y));
    let den = -c[0] * c[7] * y + c[1] * c[6] * y + (c[3] * c[7] - c[4] * c[6]) * x + c[0] * c[4]
        - c[1] * c[3];
    let u = -(c[1] * (y - c[5]) - c[2] * c[7] * y + (c[5] * c[7] - c[4]) * x + c[2] * c[4]) / den;
    let v = (c[0] * (y - c[5]) - c[2] * c[6] * y + (c[5] * c[6] - c[3]) * x + c[2] * c[3]) / den;
    (u, v)
}

/// Read-only view of the label image for the fitness functions.
pub(super) struct View<'a> {
    pub pixels: &'a [Pixel],
    pub width: usize,
    pub height: usize,
}

impl View<'_> {
    /// Whether the pixel is dark; `None` outside.
    fn dark(&self, p: Point) -> Option<bool> {
        (p.x >= 0 && p.y >= 0 && (p.x as usize) < self.width && (p.y as usize) < self.height)
            .then(|| self.pixels[p.y as usize * self.width + p.x as usize] != 0)
    }
}

/// Bresenham scan from p0 to p1 counting black/white transitions; -1 when an end is outside.
fn timing_scan(image: &View<'_>, p0: &Point, p1: &Point) -> i32 {
    if image.dark(*p0).is_none() || image.dark(*p1).is_none() {
        return -1;
    }
    let mut n = p1.x - p0.x;
    let mut d = p1.y - p0.y;
    let (mut x, mut y) = (p0.x, p0.y);
    let x_dominant = n.abs() > d.abs();
    if x_dominant {
        std::mem::swap(&mut n, &mut d);
    }
    let nondom_step = if n < 0 {
        n = -n;
        -1
    } else {
        1
    };
    let dom_step = if d < 0 {
        d = -d;
        -1
    } else {
        1
    };
    let (mut a, mut run_length, mut count) = (0, 0, 0);
    for _ in 0..=d {
        let Some(dark) = image.dark(Point { x, y }) else {
            break;
        };
        if dark {
            if run_length >= 2 {
                count += 1;
            }
            run_length = 0;
        } else {
            run_length += 1;
        }
        a += n;
        if x_dominant {
            x += dom_step;
        } else {
            y += dom_step;
        }
        if a >= d {
            // As in quircs: the non-dominant step is applied to x in both cases.
            if x_dominant {
                y += nondom_step;
            } else {
                x += dom_step;
            }
            a -= d;
        }
    }
    count
}

/// The grid size from the timing patterns between the finder patterns' inner ring points;
/// `None` when neither scan works or the size is no version.
fn measure_timing_pattern(qr: &mut Grid, capstones: &[Capstone], image: &View<'_>) -> Option<()> {
    const US: [f64; 3] = [6.5, 6.5, 0.5];
    const VS: [f64; 3] = [0.5, 6.5, 6.5];
    for i in 0..3 {
        qr.tpep[i] = perspective_map(&capstones[qr.caps[i]].c, US[i], VS[i]);
    }
    qr.hscan = timing_scan(image, &qr.tpep[1], &qr.tpep[2]);
    qr.vscan = timing_scan(image, &qr.tpep[1], &qr.tpep[0]);
    let scan = qr.hscan.max(qr.vscan);
    if scan < 0 {
        return None;
    }
    let size = scan * 2 + 13;
    let version = (size - 15) / 4;
    qr.grid_size = version * 4 + 17;
    (1..=40).contains(&version).then_some(())
}

/// Spirals out from the estimated alignment pattern corner for a region of about one module's
/// area.
fn find_alignment_pattern(
    image: &mut Labels<'_>,
    capstones: &[Capstone],
    regions: &mut Vec<Region>,
    qr: &mut Grid,
) {
    const DX: [i32; 4] = [1, 0, -1, 0];
    const DY: [i32; 4] = [0, -1, 0, 1];
    let (c0, c2) = (&capstones[qr.caps[0]], &capstones[qr.caps[2]]);
    let mut b = qr.align;
    let (u, v) = perspective_unmap(&c0.c, &b);
    let a = perspective_map(&c0.c, u, v + 1.0);
    let (u, v) = perspective_unmap(&c2.c, &b);
    let c = perspective_map(&c2.c, u + 1.0, v);
    let [ax, ay, bx, by, cx, cy] = [a.x, a.y, b.x, b.y, c.x, c.y].map(i64::from);
    // Bounded by the frame's area: a wild estimate must not spiral for ever.
    let area = (image.width * image.height) as i64;
    let size_estimate = ((ax - bx) * -(cy - by) + (ay - by) * (cx - bx))
        .abs()
        .min(area);
    let mut step_size: i64 = 1;
    let mut dir = 0;
    while step_size * step_size < size_estimate * 100 {
        for _ in 0..step_size {
            let code = if b.y >= 0 {
                region_code(image, regions, b.x, b.y as usize)
            } else {
                -1
            };
            if code >= 0 {
                let count = i64::from(regions[code as usize].count);
                if count >= size_estimate / 2 && count <= size_estimate * 2 {
                    qr.align_region = Some(code as Pixel);
                    return;
                }
            }
            b.x = b.x.saturating_add(DX[dir]);
            b.y = b.y.saturating_add(DY[dir]);
        }
        dir = (dir + 1) % 4;
        if dir & 1 == 0 {
            step_size += 1;
        }
    }
}

/// +1 per dark, -1 per light sample of nine in cell (x, y); outside samples count nothing.
fn fitness_cell(qr: &Grid, image: &View<'_>, x: i32, y: i32) -> i32 {
    const OFFSETS: [f64; 3] = [0.3, 0.5, 0.7];
    let mut score = 0;
    for v in OFFSETS {
        for u in OFFSETS {
            let p = perspective_map(&qr.c, f64::from(x) + u, f64::from(y) + v);
            match image.dark(p) {
                Some(true) => score += 1,
                Some(false) => score -= 1,
                None => {}
            }
        }
    }
    score
}

fn fitness_ring(qr: &Grid, image: &View<'_>, cx: i32, cy: i32, radius: i32) -> i32 {
    let mut score = 0;
    for i in 0..radius * 2 {
        score += fitness_cell(qr, image, cx - radius + i, cy - radius);
        score += fitness_cell(qr, image, cx - radius, cy + radius - i);
        score += fitness_cell(qr, image, cx + radius, cy - radius + i);
        score += fitness_cell(qr, image, cx + radius - i, cy + radius);
    }
    score
}

fn fitness_apat(qr: &Grid, image: &View<'_>, cx: i32, cy: i32) -> i32 {
    fitness_cell(qr, image, cx, cy) - fitness_ring(qr, image, cx, cy, 1)
        + fitness_ring(qr, image, cx, cy, 2)
}

fn fitness_capstone(qr: &Grid, image: &View<'_>, x: i32, y: i32) -> i32 {
    let (x, y) = (x + 3, y + 3);
    fitness_cell(qr, image, x, y) + fitness_ring(qr, image, x, y, 1)
        - fitness_ring(qr, image, x, y, 2)
        + fitness_ring(qr, image, x, y, 3)
}

/// How well the grid's perspective matches the timing, finder and alignment patterns.
fn fitness_all(qr: &Grid, image: &View<'_>) -> i32 {
    let Some(info) = usize::try_from((qr.grid_size - 17) / 4)
        .ok()
        .and_then(|version| VERSION_DB.get(version))
    else {
        return 0;
    };
    let mut score = 0;
    for i in 0..qr.grid_size - 14 {
        let expect = if i & 1 != 0 { 1 } else { -1 };
        score += fitness_cell(qr, image, i + 7, 6) * expect;
        score += fitness_cell(qr, image, 6, i + 7) * expect;
    }
    score += fitness_capstone(qr, image, 0, 0);
    score += fitness_capstone(qr, image, qr.grid_size - 7, 0);
    score += fitness_capstone(qr, image, 0, qr.grid_size - 7);
    let apat: Vec<i32> = info.apat.iter().copied().take_while(|&p| p != 0).collect();
    if apat.is_empty() {
        return score;
    }
    for &x in &apat[1..apat.len() - 1] {
        score += fitness_apat(qr, image, 6, x);
        score += fitness_apat(qr, image, x, 6);
    }
    for &x in &apat[1..] {
        for &y in &apat[1..] {
            score += fitness_apat(qr, image, x, y);
        }
    }
    score
}

/// quircs' grid refinement: nudges each coefficient up and down (2 % of its value, halved five
/// times) and keeps what raises [`fitness_all`]. About 80 fitness evaluations of the whole grid:
/// by far the costliest step of identification, hence run only on request.
pub(super) fn jiggle_perspective(qr: &mut Grid, image: &View<'_>) {
    let mut best = fitness_all(qr, image);
    let mut adjustments = qr.c.map(|c| c * 0.02);
    for _ in 0..5 {
        for i in 0..16 {
            let j = i >> 1;
            let old = qr.c[j];
            let step = adjustments[j];
            qr.c[j] = if i & 1 != 0 { old + step } else { old - step };
            let test = fitness_all(qr, image);
            if test > best {
                best = test;
            } else {
                qr.c[j] = old;
            }
        }
        for a in &mut adjustments {
            *a *= 0.5;
        }
    }
}

/// Rotates a capstone's corners so that corner 0 is the leftmost with respect to the line.
fn rotate_capstone(cap: &mut Capstone, h0: &Point, hd: &Point) {
    let mut best = 0;
    let mut best_score = i64::MAX;
    for (j, p) in cap.corners.iter().enumerate() {
        let score =
            i64::from(p.x - h0.x) * i64::from(-hd.y) + i64::from(p.y - h0.y) * i64::from(hd.x);
        if j == 0 || score < best_score {
            best = j;
            best_score = score;
        }
    }
    cap.corners.rotate_left(best);
    perspective_setup(&mut cap.c, &cap.corners, 7.0, 7.0);
}

/// Records capstones a, b, c (b the corner) as a grid if its timing pattern measures, with the
/// perspective through the three outer finder corners and the alignment point (not refined).
fn record_qr_grid(
    image: &mut Labels<'_>,
    regions: &mut Vec<Region>,
    capstones: &mut [Capstone],
    grids: &mut Vec<Grid>,
    mut a: usize,
    b: usize,
    mut c: usize,
) {
    if grids.len() >= 8 {
        return;
    }
    // The hypotenuse A-C; B should be to its left (A-B-C clockwise).
    let h0 = capstones[a].center;
    let mut hd = Point {
        x: capstones[c].center.x - h0.x,
        y: capstones[c].center.y - h0.y,
    };
    let side = i64::from(capstones[b].center.x - h0.x) * i64::from(-hd.y)
        + i64::from(capstones[b].center.y - h0.y) * i64::from(hd.x);
    if side > 0 {
        std::mem::swap(&mut a, &mut c);
        hd.x = -hd.x;
        hd.y = -hd.y;
    }
    let index = grids.len();
    let mut qr = Grid {
        caps: [a, b, c],
        align_region: None,
        ..Grid::default()
    };
    for &cap in &qr.caps {
        rotate_capstone(&mut capstones[cap], &h0, &hd);
        capstones[cap].qr_grid = index as i32;
    }
    let view = View {
        pixels: image.pixels,
        width: image.width,
        height: image.height,
    };
    let placed = measure_timing_pattern(&mut qr, capstones, &view).and_then(|()| {
        // First estimate of the alignment pattern: where lines from capstones A and C cross.
        qr.align = line_intersect(
            &capstones[a].corners[0],
            &capstones[a].corners[1],
            &capstones[c].corners[0],
            &capstones[c].corners[3],
        )?;
        if qr.grid_size > 21 {
            find_alignment_pattern(image, capstones, regions, &mut qr);
            if let Some(align_region) = qr.align_region {
                // The alignment region's point nearest the grid's top-left.
                let seed = regions[usize::from(align_region)].seed;
                let mut best = -hd.y * seed.x + hd.x * seed.y;
                let mut corner = seed;
                let (sx, sy) = (seed.x as usize, seed.y as usize);
                flood_fill(image, sx, sy, align_region, 1, |_, _, _| {});
                flood_fill(image, sx, sy, 1, align_region, |y, left, right| {
                    for x in [left, right] {
                        let d = -hd.y * x + hd.x * y as i32;
                        if d < best {
                            best = d;
                            corner = Point { x, y: y as i32 };
                        }
                    }
                });
                qr.align = corner;
            }
        }
        Some(())
    });
    if placed.is_none() {
        for &cap in &qr.caps {
            capstones[cap].qr_grid = -1;
        }
        return;
    }
    let rect = [
        capstones[qr.caps[1]].corners[0],
        capstones[qr.caps[2]].corners[0],
        qr.align,
        capstones[qr.caps[0]].corners[0],
    ];
    let span = f64::from(qr.grid_size - 7);
    perspective_setup(&mut qr.c, &rect, span, span);
    grids.push(qr);
}

/// Groups capstone `i` with the best-matched pair of neighbours along its two axes.
pub(super) fn test_grouping(
    image: &mut Labels<'_>,
    regions: &mut Vec<Region>,
    capstones: &mut [Capstone],
    grids: &mut Vec<Grid>,
    i: usize,
) {
    if capstones[i].qr_grid >= 0 {
        return;
    }
    // Neighbours along the capstone's own axes: (index, distance in capstone units).
    let mut hlist: Vec<(usize, f64)> = Vec::new();
    let mut vlist: Vec<(usize, f64)> = Vec::new();
    let c1 = capstones[i].c;
    for (j, c2) in capstones.iter().enumerate() {
        if i == j || c2.qr_grid >= 0 {
            continue;
        }
        let (u, v) = perspective_unmap(&c1, &c2.center);
        let (u, v) = ((u - 3.5).abs(), (v - 3.5).abs());
        if u < 0.2 * v {
            hlist.push((j, v));
        }
        if v < 0.2 * u {
            vlist.push((j, u));
        }
    }
    let mut best: Option<(f64, usize, usize)> = None;
    for &(h, hd) in &hlist {
        for &(v, vd) in &vlist {
            let score = (1.0 - hd / vd).abs();
            if score > 2.5 {
                continue;
            }
            if best.is_none_or(|(s, _, _)| score < s) {
                best = Some((score, h, v));
            }
        }
    }
    if let Some((_, h, v)) = best {
        record_qr_grid(image, regions, capstones, grids, h, i, v);
    }
}
