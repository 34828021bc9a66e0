//! `hologuide qr decode <images…>`: codes in photos, with corners and time.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use hologuide::qr::{self, Decoder, Detection};

use super::{EXIT_FAILURE, out};

#[derive(Debug, Subcommand)]
pub enum QrCommand {
    /// Decode the QR codes in image files (PNG, JPEG, WebP): payload, version, error correction,
    /// corners in pixels and decode time per image. A file that cannot be read is reported and
    /// the next one is still decoded; the exit code is then 1.
    Decode {
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<PathBuf>,
        /// One JSON object per image on standard output.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: QrCommand) -> anyhow::Result<ExitCode> {
    match command {
        QrCommand::Decode { images, json } => decode(&images, json),
    }
}

fn decode(images: &[PathBuf], as_json: bool) -> anyhow::Result<ExitCode> {
    let mut decoder = Decoder::new();
    let mut failed = false;
    for path in images {
        match decode_file(&mut decoder, path) {
            Ok((detections, ms)) => {
                let text = if as_json {
                    format!("{}\n", detections_json(path, &detections, ms))
                } else {
                    detections_text(path, &detections, ms)
                };
                out(&text)?;
            }
            Err(error) => {
                failed = true;
                let message = format!("{error:#}");
                if as_json {
                    out(&format!(
                        "{}\n",
                        json!({ "path": path.display().to_string(), "error": message })
                    ))?;
                }
                eprintln!("error: {message}");
            }
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

fn decode_file(decoder: &mut Decoder, path: &Path) -> anyhow::Result<(Vec<Detection>, f64)> {
    let image = qr::file::load_gray(path).with_context(|| format!("reading {}", path.display()))?;
    let frame = image
        .frame()
        .with_context(|| format!("reading {}", path.display()))?;
    let started = Instant::now();
    let detections = decoder.decode(&frame);
    Ok((detections, started.elapsed().as_secs_f64() * 1000.0))
}

fn detections_text(path: &Path, detections: &[Detection], ms: f64) -> String {
    let mut text = String::new();
    let plural = if detections.len() == 1 { "" } else { "s" };
    line!(
        text,
        "{}: {} code{plural} in {ms:.2} ms",
        path.display(),
        detections.len()
    );
    for d in detections {
        let corners: Vec<String> = d
            .corners
            .iter()
            .map(|p| format!("({:.1}, {:.1})", p.x, p.y))
            .collect();
        let mut flags = String::new();
        if d.mirrored {
            flags.push_str(" mirrored");
        }
        if d.inverted {
            flags.push_str(" inverted");
        }
        line!(
            text,
            "  version {} ecc {:?}{flags} corners {}",
            d.version,
            d.ecc,
            corners.join(" ")
        );
        line!(text, "  {:?}", d.text);
    }
    text
}

fn detections_json(path: &Path, detections: &[Detection], ms: f64) -> serde_json::Value {
    let codes: Vec<serde_json::Value> = detections
        .iter()
        .map(|d| {
            json!({
                "text": d.text,
                "payload_hex": d.payload.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                "version": d.version,
                "ecc": d.ecc,
                "corners": d.corners.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>(),
                "mirrored": d.mirrored,
                "inverted": d.inverted,
            })
        })
        .collect();
    json!({ "path": path.display().to_string(), "ms": ms, "codes": codes })
}
