//! The headless shell's frame loop: the driver fed with a scripted head pose and a fixed clock,
//! each frame drawn offscreen — the same app as on OpenXR and in the window, where no runtime
//! and no display exist (`hologuide run --backend headless`, `--backend auto`'s last resort).

use std::path::PathBuf;

use thiserror::Error;

use super::{Headless, HeadlessConfig, scripted_head};
use crate::app::driver::{Driver, Effect};
use crate::app::report::AppReport;
use crate::camera::decoding::QrWorker;
use crate::render::RenderError;

/// Every frame is this long after the previous one, whatever the machine (60 Hz).
pub const FRAME_S: f32 = 1.0 / 60.0;

#[derive(Debug, Error)]
pub enum HeadlessError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("writing {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("frame {frame} was never drawn: the run ended after {frames} frames")]
    NeverDrawn { frame: u64, frames: u64 },
    #[error("the GPU reported {} error(s): {}", .0.len(), .0.join("; "))]
    Gpu(Vec<String>),
}

pub struct HeadlessOptions {
    /// Image size in pixels (one centred eye, as the screenshots).
    pub size: (u32, u32),
    /// Frames to draw; fewer when the input asks to exit.
    pub frames: u64,
    /// Frame number (from 1) whose image is written as a PNG.
    pub capture: Option<(u64, PathBuf)>,
    /// A camera decoded on its own threads; its codes go to the driver as they come.
    pub camera: Option<QrWorker>,
}

/// Runs the app for `options.frames` frames (or until a scripted `exit`); returns what it did.
pub fn run(mut driver: Driver, options: HeadlessOptions) -> Result<AppReport, HeadlessError> {
    let (width, height) = options.size;
    let mut headless = Headless::new(HeadlessConfig::screenshot(width, height))?;
    tracing::info!("headless, rendering on {}", headless.gpu.describe());
    let head = scripted_head();
    while driver.frames() < options.frames && !driver.exit_asked() {
        let dt = if driver.frames() == 0 { 0.0 } else { FRAME_S };
        if let Some(camera) = &options.camera {
            driver.collect_sightings(camera);
        }
        driver.frame(head, dt);
        for effect in driver.take_effects() {
            match effect {
                // Its files may share paths with the last guide's.
                Effect::SwapAssets => headless.renderer.forget_assets(),
            }
        }
        let Some(frame) = driver.last_frame() else {
            continue;
        };
        let content = driver.content();
        let read = |path: &str| content.read_asset(path);
        match &options.capture {
            Some((number, path)) if *number == driver.frames() => {
                let eyes = headless.render(frame, head, &read)?;
                let image = eyes
                    .first()
                    .ok_or_else(|| RenderError::Readback("no eye".into()))?;
                image.save(path).map_err(|e| HeadlessError::Write {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            }
            _ => {
                headless.submit(frame, head, &read)?;
                headless.wait()?;
            }
        }
    }
    let errors = headless.gpu.uncaptured_errors();
    if !errors.is_empty() {
        return Err(HeadlessError::Gpu(errors));
    }
    if let Some((frame, _)) = options.capture
        && frame > driver.frames()
    {
        return Err(HeadlessError::NeverDrawn {
            frame,
            frames: driver.frames(),
        });
    }
    Ok(driver.report())
}
