//! Our own grouping of finder patterns into codes, for those `quircs` left ungrouped or grouped
//! wrongly (its greedy pairing can take one finder from each of two neighbouring codes): every
//! triple that looks like the three corners of one code, with the code's size estimated from
//! the finders' spacing and module size.

/// A finder pattern: centre and module size, in binary-image pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finder {
    pub centre: (f64, f64),
    pub module: f64,
}

/// A candidate code: finder indices (top-left, top-right, bottom-left as seen, or with the last
/// two swapped for a mirrored code) and the sizes (modules across) worth trying, likeliest first.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub finders: [usize; 3],
    pub sizes: Vec<usize>,
}

/// Triples of `finders` shaped like one code's corners, best shaped first, at most `limit`.
pub(crate) fn candidates(finders: &[Finder], limit: usize) -> Vec<Candidate> {
    let mut scored: Vec<(f64, Candidate)> = Vec::new();
    let n = finders.len();
    for a in 0..n {
        for b in 0..n {
            for c in (b + 1)..n {
                if a == b || a == c {
                    continue;
                }
                let (pa, pb, pc) = (finders[a].centre, finders[b].centre, finders[c].centre);
                let ab = (pb.0 - pa.0, pb.1 - pa.1);
                let ac = (pc.0 - pa.0, pc.1 - pa.1);
                let (lab, lac) = (ab.0.hypot(ab.1), ac.0.hypot(ac.1));
                if lab < 1.0 || lac < 1.0 {
                    continue;
                }
                let cross = ab.0 * ac.1 - ab.1 * ac.0;
                let cosine = (ab.0 * ac.0 + ab.1 * ac.1) / (lab * lac);
                let ratio = lab.max(lac) / lab.min(lac);
                let modules = [finders[a].module, finders[b].module, finders[c].module];
                let module_max = modules.iter().copied().fold(0.0, f64::max);
                let module_min = modules.iter().copied().fold(f64::INFINITY, f64::min);
                // Perspective bends the right angle and stretches one side; more than this is
                // rarely one code.
                if cosine.abs() > 0.5 || ratio > 1.8 || module_max > 2.0 * module_min {
                    continue;
                }
                let module = modules.iter().sum::<f64>() / 3.0;
                let across = (lab + lac) / 2.0 / module + 7.0;
                let version = ((across - 17.0) / 4.0).round();
                if !(0.5..=40.5).contains(&version) {
                    continue;
                }
                let version = version as usize;
                let sizes = [version, version + 1, version.saturating_sub(1)]
                    .into_iter()
                    .filter(|v| (1..=40).contains(v))
                    .map(|v| 17 + 4 * v)
                    .collect();
                // Seen upright the top-right finder is clockwise of the bottom-left one.
                let finders = if cross > 0.0 { [a, b, c] } else { [a, c, b] };
                let shape = cosine.abs() + (ratio - 1.0);
                scored.push((shape, Candidate { finders, sizes }));
            }
        }
    }
    scored.sort_by(|x, y| x.0.total_cmp(&y.0));
    scored.into_iter().take(limit).map(|(_, c)| c).collect()
}
