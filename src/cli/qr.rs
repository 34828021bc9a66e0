//! `hologuide qr decode <images…>`: codes in photos, with corners and time; `hologuide qr
//! watch --camera virtual|files:DIR`: codes a camera sees, where they are, and what the app
//! would do with each.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;

use hologuide::camera::pose::sticker_pose;
use hologuide::guide::payload::guide_link_in;
use hologuide::qr::{self, Decoder, Detection};

use super::run_camera::CameraArgs;
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
    /// Decode a camera's frames as they come and print each code seen: its payload, corners,
    /// capture time, pose (with --size-mm) and what the app would do with it (open a guide
    /// link, or why not).
    Watch {
        #[command(flatten)]
        camera: CameraArgs,
        /// The side of the codes' modules in millimetres: each code's pose in the camera's frame
        /// (and in the world, for the virtual camera, which knows the head).
        #[arg(long, value_name = "MM")]
        size_mm: Option<f64>,
        /// Stop after this many frames (default: until interrupted).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        frames: Option<u64>,
        /// One JSON object per code seen on standard output.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: QrCommand) -> anyhow::Result<ExitCode> {
    match command {
        QrCommand::Decode { images, json } => decode(&images, json),
        QrCommand::Watch {
            camera,
            size_mm,
            frames,
            json,
        } => watch(&camera, size_mm, frames, json),
    }
}

/// Frames decoded here, one after the other: a tester's tool has no frame loop to spare.
fn watch(
    args: &CameraArgs,
    size_mm: Option<f64>,
    frames: Option<u64>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(opened) = args.open()? else {
        anyhow::bail!("qr watch needs --camera virtual[:OPTIONS] or --camera files:DIR");
    };
    let spec = args.camera.as_deref().unwrap_or("virtual");
    let head_path = args.head_path()?;
    let (mut source, period) = (opened.source, opened.period);
    let mut decoder = Decoder::new();
    let mut number = 0u64;
    while frames.is_none_or(|n| number < n) {
        number += 1;
        if let (Some(feed), Some(path)) = (&opened.follows, &head_path) {
            feed.set(path.at(number));
        }
        let frame = source
            .next_frame()
            .with_context(|| format!("reading frame {number} of {spec}"))?;
        let gray = frame
            .gray()
            .with_context(|| format!("frame {number} of {spec}"))?;
        for code in decoder.decode(&gray) {
            let verdict = guide_link_in(&code.payload);
            let captured_ms = frame.captured_at.as_secs_f64() * 1000.0;
            let pose = size_mm.and_then(|mm| {
                let found = sticker_pose(&code.corners, &frame.intrinsics, mm / 1000.0)?;
                let world = frame.head.map(|head| {
                    let at = head.then(frame.camera_from_head).then(found.in_camera);
                    json!({
                        "position": at.position.to_array(),
                        "rotation": at.orientation.to_array(),
                    })
                });
                Some(json!({
                    "in_camera": {
                        "position": found.in_camera.position.to_array(),
                        "rotation": found.in_camera.orientation.to_array(),
                    },
                    "in_world": world,
                    "rms_px": found.rms_px,
                }))
            });
            let text = if as_json {
                let (opens, ignored) = match &verdict {
                    Ok(link) => (Some(link.to_string()), None),
                    Err(why) => (None, Some(why.to_string())),
                };
                json!({
                    "frame": number,
                    "captured_ms": captured_ms,
                    "text": code.text,
                    "corners": code.corners.iter().map(|p| [p.x, p.y]).collect::<Vec<_>>(),
                    "opens": opens,
                    "ignored": ignored,
                    "pose": pose,
                })
                .to_string()
            } else {
                let verdict = match &verdict {
                    Ok(link) => format!("opens {link}"),
                    Err(why) => format!("ignored: {why}"),
                };
                let at = pose
                    .as_ref()
                    .and_then(|p| p["in_camera"]["position"].as_array().cloned())
                    .map(|p| {
                        let metres: Vec<String> = p
                            .iter()
                            .map(|v| format!("{:.3}", v.as_f64().unwrap_or(f64::NAN)))
                            .collect();
                        format!(" at ({}) m from the camera", metres.join(", "))
                    })
                    .unwrap_or_default();
                format!(
                    "frame {number} at {captured_ms:.0} ms: {:?}{at} — {verdict}",
                    code.text
                )
            };
            out(&format!("{text}\n"))?;
        }
        std::thread::sleep(period);
    }
    Ok(ExitCode::SUCCESS)
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
