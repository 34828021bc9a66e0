//! The headless shell's frame loop: the driver fed with a scripted head pose and a fixed clock,
//! each frame drawn offscreen — the same app as on OpenXR and in the window, where no runtime
//! and no display exist (`hologuide run --backend headless`, `--backend auto`'s last resort).

use std::path::PathBuf;

use thiserror::Error;

use super::{Headless, HeadlessConfig, scripted_head};
use crate::app::driver::{Driver, Effect, Input};
use crate::app::head_path::HeadPath;
use crate::app::report::AppReport;
use crate::camera::virtual_camera::HeadFeed;
use crate::camera::{CameraSource, Sighting};
use crate::qr::Decoder;
use crate::render::RenderError;
use crate::scene::Pose;

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
    #[error("the camera stopped")]
    Camera(#[source] crate::camera::CameraError),
}

/// A camera in a headless run, on the headless clock: a frame every `every` frames, decoded
/// before that frame is built. The run is then the same on every machine however slow (tests,
/// goldens): the headless clock is fixed, and a camera on real time would see a different number
/// of frames.
pub struct HeadlessCamera {
    source: Box<dyn CameraSource>,
    every: u64,
    /// The virtual camera's head, set to the frame's head before it looks.
    follows: Option<HeadFeed>,
}

impl HeadlessCamera {
    /// `source` on the headless clock, one frame per `period`.
    pub fn lockstep(
        source: Box<dyn CameraSource>,
        period: std::time::Duration,
        follows: Option<HeadFeed>,
    ) -> Self {
        let every = (period.as_secs_f32() / FRAME_S).round().max(1.0) as u64;
        Self {
            source,
            every,
            follows,
        }
    }

    /// Hands the driver what the camera saw at frame `number` (from 1), the head at `head`.
    fn deliver(
        &mut self,
        driver: &mut Driver,
        decoder: &mut Decoder,
        number: u64,
        head: Pose,
    ) -> Result<(), HeadlessError> {
        if !(number - 1).is_multiple_of(self.every) {
            return Ok(());
        }
        if let Some(feed) = &self.follows {
            feed.set(head);
        }
        let frame = self.source.next_frame().map_err(HeadlessError::Camera)?;
        if driver.wants_photo() {
            driver.photo_taken(crate::camera::photo::encode(&frame));
        }
        let gray = frame
            .gray()
            .map_err(|e| HeadlessError::Camera(crate::camera::CameraError::Frame(e)))?;
        for detection in decoder.decode(&gray) {
            let sighting = Sighting::from_detection(detection, &frame);
            driver.input(Input::QrDetected(Box::new(sighting)));
        }
        Ok(())
    }
}

pub struct HeadlessOptions {
    /// Image size in pixels (one centred eye, as the screenshots).
    pub size: (u32, u32),
    /// Frames to draw; fewer when the input asks to exit.
    pub frames: u64,
    /// Frame number (from 1) whose image is written as a PNG.
    pub capture: Option<(u64, PathBuf)>,
    pub camera: Option<HeadlessCamera>,
    /// Where the head is at each frame (`--poses`); else [`scripted_head`], still.
    pub head_path: Option<HeadPath>,
}

/// Runs the app for `options.frames` frames (or until a scripted `exit`); returns what it did.
pub fn run(mut driver: Driver, mut options: HeadlessOptions) -> Result<AppReport, HeadlessError> {
    let (width, height) = options.size;
    let mut headless = Headless::new(HeadlessConfig::screenshot(width, height))?;
    tracing::info!("headless, rendering on {}", headless.gpu.describe());
    let mut decoder = Decoder::new();
    while driver.frames() < options.frames && !driver.exit_asked() {
        let dt = if driver.frames() == 0 { 0.0 } else { FRAME_S };
        let head = options
            .head_path
            .as_ref()
            .map_or_else(scripted_head, |path| path.at(driver.frames() + 1));
        if let Some(camera) = &mut options.camera {
            let number = driver.frames() + 1;
            camera.deliver(&mut driver, &mut decoder, number, head)?;
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
