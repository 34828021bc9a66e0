//! `hologuide bench qr <corpus dir>`: our decoder, plain quircs and rxing on the same frames.
//!
//! Image files are decoded to grey once, outside the timing; each decoder's time is the best of
//! `--runs` calls on the loaded frame.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use hologuide::qr::corpus::{self, CorpusImage, Floor, Score};
use hologuide::qr::file::{GrayImage, load_gray};
use hologuide::qr::{Decoder, GrayFrame};

use super::out;

#[derive(Debug, Args)]
pub struct BenchQrArgs {
    /// Corpus directory holding manifest.tsv (e.g. ../shared/corpus/qr).
    #[arg(value_name = "CORPUS_DIR")]
    corpus: PathBuf,
    /// Calls per image and decoder; the fastest counts.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// Measure our decoder only (quicker while working on it).
    #[arg(long)]
    ours_only: bool,
    /// List the images where our decoder missed a code or read one wrong.
    #[arg(long)]
    misses: bool,
    /// Raise the regression floor in FILE to this run's count (never lowers it; refused if
    /// this run has more wrong decodes than the floor allows).
    #[arg(long, value_name = "FILE")]
    raise_floor: Option<PathBuf>,
}

const DECODERS: [&str; 3] = ["ours", "quircs", "rxing"];

/// One decoder on one image.
#[derive(Debug, Clone, Copy)]
struct Measure {
    score: Score,
    ms: f64,
}

struct Row<'a> {
    image: &'a CorpusImage,
    megapixels: f64,
    measures: Vec<Measure>,
}

pub fn run(args: BenchQrArgs) -> anyhow::Result<ExitCode> {
    let images = corpus::load(&args.corpus)
        .with_context(|| format!("loading the corpus in {}", args.corpus.display()))?;
    let decoders = if args.ours_only { 1 } else { DECODERS.len() };
    let mut ours = Decoder::new();
    let mut plain = quircs::Quirc::new();
    let mut rows = Vec::with_capacity(images.len());
    for image in &images {
        let gray = load_gray(&image.path).with_context(|| format!("reading {}", image.name))?;
        let frame = gray
            .frame()
            .with_context(|| format!("reading {}", image.name))?;
        let mut measures = Vec::with_capacity(decoders);
        for which in 0..decoders {
            let mut best = f64::INFINITY;
            let mut decodes = Vec::new();
            for _ in 0..args.runs {
                let started = Instant::now();
                decodes = match which {
                    0 => ours
                        .decode(&frame)
                        .into_iter()
                        .map(|d| vec![d.text])
                        .collect(),
                    1 => decode_quircs(&mut plain, &gray),
                    _ => decode_rxing(&gray),
                };
                best = best.min(started.elapsed().as_secs_f64() * 1000.0);
            }
            let score = corpus::score(&image.expected, &decodes);
            if which == 0 && args.misses && score.correct < image.expected.len() {
                report_miss(image, &frame, &mut ours, score);
            }
            measures.push(Measure { score, ms: best });
        }
        rows.push(Row {
            image,
            megapixels: (gray.width * gray.height) as f64 / 1e6,
            measures,
        });
    }
    out(&table(&rows, decoders))?;
    if let Some(path) = &args.raise_floor {
        raise_floor(path, &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn report_miss(image: &CorpusImage, frame: &GrayFrame<'_>, ours: &mut Decoder, score: Score) {
    let texts: Vec<String> = ours
        .decode(frame)
        .into_iter()
        .map(|d| truncate(&d.text))
        .collect();
    eprintln!(
        "miss: {} ({}x{}) read {}/{} wrong {} got {:?}",
        image.name,
        frame.width(),
        frame.height(),
        score.correct,
        image.expected.len(),
        score.wrong,
        texts
    );
}

fn truncate(text: &str) -> String {
    let short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// Plain quircs as its README shows it; its payload bytes are read as UTF-8, Shift_JIS or
/// Latin-1 (any match counts), as in the corpus baseline.
pub(super) fn decode_quircs(quirc: &mut quircs::Quirc, gray: &GrayImage) -> Vec<Vec<String>> {
    let codes: Vec<_> = quirc
        .identify(gray.width, gray.height, &gray.pixels)
        .collect();
    codes
        .into_iter()
        .filter_map(|code| code.ok()?.decode().ok())
        .map(|data| {
            let bytes = &data.payload;
            let mut readings = Vec::new();
            if let Ok(text) = std::str::from_utf8(bytes) {
                readings.push(text.to_owned());
            }
            let (sjis, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
            if !had_errors {
                readings.push(sjis.into_owned());
            }
            readings.push(bytes.iter().map(|&b| char::from(b)).collect());
            readings
        })
        .collect()
}

/// rxing's multi-code reader, QR only, TryHarder (its helpers' default).
pub(super) fn decode_rxing(gray: &GrayImage) -> Vec<Vec<String>> {
    let mut hints = rxing::DecodeHints::default()
        .with(rxing::DecodeHintValue::PossibleFormats(
            [rxing::BarcodeFormat::QR_CODE].into_iter().collect(),
        ))
        .with(rxing::DecodeHintValue::TryHarder(true));
    let pixels = gray.pixels.clone();
    let (width, height) = (gray.width as u32, gray.height as u32);
    // A panic inside the peer is its miss, not the end of the benchmark.
    let results = catch_unwind(AssertUnwindSafe(|| {
        rxing::helpers::detect_multiple_in_luma_with_hints(pixels, width, height, &mut hints)
    }));
    match results {
        Ok(Ok(results)) => results
            .into_iter()
            .map(|r| vec![r.getText().to_owned()])
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Default)]
struct Summary {
    images: usize,
    codes: usize,
    correct: Vec<usize>,
    wrong: Vec<usize>,
    ms: Vec<Vec<f64>>,
    ms_per_mp: Vec<Vec<f64>>,
}

fn summarise<'a>(rows: impl Iterator<Item = &'a Row<'a>>, decoders: usize) -> Summary {
    let mut s = Summary {
        correct: vec![0; decoders],
        wrong: vec![0; decoders],
        ms: vec![Vec::new(); decoders],
        ms_per_mp: vec![Vec::new(); decoders],
        ..Summary::default()
    };
    for row in rows {
        s.images += 1;
        s.codes += row.image.expected.len();
        for (i, m) in row.measures.iter().take(decoders).enumerate() {
            s.correct[i] += m.score.correct;
            s.wrong[i] += m.score.wrong;
            s.ms[i].push(m.ms);
            s.ms_per_mp[i].push(m.ms / row.megapixels.max(1e-6));
        }
    }
    s
}

pub(super) fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn percent(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

fn table(rows: &[Row<'_>], decoders: usize) -> String {
    let mut by_source: BTreeMap<&str, Vec<&Row<'_>>> = BTreeMap::new();
    for row in rows {
        by_source.entry(&row.image.source).or_default().push(row);
    }
    let mut text = String::new();
    let mut header = "| source | images | codes |".to_owned();
    for name in &DECODERS[..decoders] {
        header.push_str(&format!(
            " {name}: ok (%) / wrong / med ms / p95 ms / med ms/MP |"
        ));
    }
    line!(text, "{header}");
    line!(text, "|---|---|---|{}", "---|".repeat(decoders));
    let mut cells = |name: &str, s: &Summary| {
        let mut row = format!("| {name} | {} | {} |", s.images, s.codes);
        for i in 0..decoders {
            row.push_str(&format!(
                " {} ({:.0}%) / {} / {:.2} / {:.2} / {:.1} |",
                s.correct[i],
                percent(s.correct[i], s.codes),
                s.wrong[i],
                percentile(&s.ms[i], 0.5),
                percentile(&s.ms[i], 0.95),
                percentile(&s.ms_per_mp[i], 0.5),
            ));
        }
        line!(text, "{row}");
    };
    for (source, rows) in &by_source {
        cells(source, &summarise(rows.iter().copied(), decoders));
    }
    let all = summarise(rows.iter(), decoders);
    cells("**all**", &all);
    let last: Vec<String> = (0..decoders)
        .map(|i| {
            format!(
                "{} {:.1}% ({}/{}) wrong {} median {:.2} ms",
                DECODERS[i],
                percent(all.correct[i], all.codes),
                all.correct[i],
                all.codes,
                all.wrong[i],
                percentile(&all.ms[i], 0.5)
            )
        })
        .collect();
    line!(text, "{}", last.join(" | "));
    text
}

fn raise_floor(path: &Path, rows: &[Row<'_>]) -> anyhow::Result<()> {
    let all = summarise(rows.iter(), 1);
    let now = Floor {
        decoded: all.correct[0],
        wrong: all.wrong[0],
    };
    let old = match std::fs::read_to_string(path) {
        Ok(text) => Some(
            Floor::parse(&text)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("reading the floor in {}", path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if let Some(old) = old {
        if now.wrong > old.wrong {
            bail!(
                "not raising the floor: {} wrong decodes, the floor allows {}",
                now.wrong,
                old.wrong
            );
        }
        if now.decoded <= old.decoded && now.wrong == old.wrong {
            eprintln!(
                "floor unchanged: {} decoded (floor {}), {} wrong",
                now.decoded, old.decoded, now.wrong
            );
            return Ok(());
        }
    }
    let new = Floor {
        decoded: old.map_or(now.decoded, |old| old.decoded.max(now.decoded)),
        wrong: now.wrong,
    };
    std::fs::write(path, new.to_text()).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "floor raised: decoded {} wrong {} in {}",
        new.decoded,
        new.wrong,
        path.display()
    );
    Ok(())
}
