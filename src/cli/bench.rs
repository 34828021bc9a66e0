//! `hologuide bench`: measurements printed as tables (speed is measured here, never in tests).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use hologuide::model::corpus::{self, Expected, Outcome};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Load every file of a glTF corpus (a folder with manifest.tsv) and compare with what the
    /// manifest expects. The last line is `glTF: loaded L/N, rejected R/M, panics P`.
    Gltf {
        /// The corpus folder, e.g. ../shared/corpus/gltf.
        corpus: PathBuf,
        /// Largest texture side; larger textures are scaled down (as on a device with that limit).
        #[arg(long, default_value_t = 8192)]
        max_texture: u32,
    },
    /// CPU time per stereo frame of the demo scene, GPU memory and asset load time.
    Render(super::bench_render::RenderBenchArgs),
    /// Our QR decoder, plain quircs and rxing on a photo corpus (manifest.tsv).
    Qr(super::bench_qr::BenchQrArgs),
    /// Encrypted cache read throughput against the same cache unencrypted, and cold start
    /// offline to the demo guide's first step.
    Cache(super::bench_cache::CacheBenchArgs),
    /// The OpenXR backend on the project's Monado: frames submitted vs predicted, CPU time per
    /// frame in our code, launch to first frame.
    Xr(super::bench_xr::BenchXrArgs),
    /// The QR path with the virtual camera: decode time of 1280×720 frames (ours, quircs,
    /// rxing), the frame loop's CPU with decoding running vs not, detection to step shown.
    Camera(super::bench_camera::CameraBenchArgs),
    /// The offline-first client against a real hologuide-server on 127.0.0.1: cold start
    /// offline to the demo's first step, and a large guide download against a raw loopback copy.
    Client(super::bench_client::ClientBenchArgs),
    /// An offline profile (50 guides, 500 MB) synced onto a new device: the first sync, an
    /// incremental one after a republish (bytes and overhead), and the device's peak memory.
    Sync(super::bench_sync::SyncBenchArgs),
    /// Answers recorded in the encrypted cache (press → durable) and 10,000 records uploaded
    /// on reconnect: time and requests.
    Records(super::bench_records::RecordsBenchArgs),
}

pub fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Gltf {
            corpus,
            max_texture,
        } => gltf(&corpus, max_texture),
        BenchCommand::Render(args) => super::bench_render::run(args),
        BenchCommand::Qr(args) => super::bench_qr::run(args),
        BenchCommand::Cache(args) => super::bench_cache::run(args),
        BenchCommand::Xr(args) => super::bench_xr::run(args),
        BenchCommand::Client(args) => super::bench_client::run(args),
        BenchCommand::Camera(args) => super::bench_camera::run(args),
        BenchCommand::Sync(args) => super::bench_sync::run(args),
        BenchCommand::Records(args) => super::bench_records::run(args),
    }
}

fn gltf(dir: &std::path::Path, max_texture: u32) -> anyhow::Result<ExitCode> {
    let rows = corpus::run(dir, max_texture).map_err(anyhow::Error::msg)?;
    let mut text = String::new();
    line!(
        text,
        "{:<66} {:<40} {:<9} {:>9}  detail",
        "file",
        "expected",
        "got",
        "ms"
    );
    for row in &rows {
        let expected = match &row.expected {
            Expected::Load => "load".to_owned(),
            Expected::Reject(reason) => format!("reject:{reason}"),
        };
        let (got, detail) = match &row.outcome {
            Outcome::Loaded {
                triangles,
                warnings,
            } => (
                "load",
                format!("{triangles} triangles, {warnings} warnings"),
            ),
            Outcome::Rejected(message) => ("reject", message.clone()),
            Outcome::Panicked(message) => ("PANIC", message.clone()),
        };
        let mark = if row.as_expected() { ' ' } else { '✗' };
        line!(
            text,
            "{:<66} {:<40} {mark}{:<8} {:>9.2}  {}",
            row.path,
            expected,
            got,
            row.time.as_secs_f64() * 1000.0,
            detail
        );
    }
    line!(text, "{}", corpus::summarise(&rows));
    super::out(&text)?;
    Ok(ExitCode::SUCCESS)
}
