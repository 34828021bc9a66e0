//! Camera frames for QR detection (X2): the [`CameraSource`] seam, what a frame carries, and
//! the sources behind it — image files replayed from a folder ([`files`]) today. Frames are
//! decoded off the frame loop by [`decoding::QrWorker`], whose [`Sighting`]s a shell hands to
//! the app driver.
//!
//! The types here are pure; only the sources read files.

pub mod decoding;
pub mod files;

use std::time::Duration;

use crate::qr::{GrayFrame, Point, QrError};
use crate::scene::Pose;

/// Horizontal field of view assumed when none is given: HoloLens 2's photo/video camera at
/// 1280×720.
pub const DEFAULT_HFOV_DEG: f32 = 64.69;

/// Pinhole intrinsics in pixels: focal lengths and principal point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intrinsics {
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
}

impl Intrinsics {
    /// Square pixels, the principal point in the middle, `hfov_deg` across `width`.
    pub fn from_hfov(width: usize, height: usize, hfov_deg: f32) -> Self {
        let fx = width as f32 / 2.0 / (hfov_deg.to_radians() / 2.0).tan();
        Self {
            fx,
            fy: fx,
            cx: width as f32 / 2.0,
            cy: height as f32 / 2.0,
        }
    }
}

/// One camera frame: 8-bit grey (an NV12 frame's Y plane as it is), row `y` at `y * stride`.
#[derive(Debug, Clone)]
pub struct CameraFrame {
    pub pixels: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    /// When the frame was captured, on the source's clock (from its first frame).
    pub captured_at: Duration,
    pub intrinsics: Intrinsics,
    /// The camera's pose relative to the head at capture time.
    pub camera_from_head: Pose,
}

impl CameraFrame {
    /// The frame as the QR decoder reads it; refuses a buffer that does not match its size.
    pub fn gray(&self) -> Result<GrayFrame<'_>, QrError> {
        GrayFrame::new(&self.pixels, self.width, self.height, self.stride)
    }
}

/// Why a camera gives no frame.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("cannot list the images in {dir}")]
    ReadDir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{dir} holds no PNG, JPEG or WebP image")]
    NoImages { dir: String },
    #[error("cannot read the camera image {path}")]
    Image {
        path: String,
        #[source]
        source: crate::qr::file::ImageFileError,
    },
    #[error("'{0}' is not a camera (expected files:DIR)")]
    UnknownCamera(String),
}

/// Where frames come from. Called on the camera's own thread, never on the frame loop: a call
/// may wait for the next frame.
pub trait CameraSource: Send {
    fn next_frame(&mut self) -> Result<CameraFrame, CameraError>;
}

/// Frames a second of sources without a clock of their own (a folder of photos).
pub const FILES_PERIOD: Duration = Duration::from_nanos(1_000_000_000 / 30);

/// The camera named on the command line (`--camera files:DIR`) and the time between its
/// frames.
pub fn open(spec: &str) -> Result<(Box<dyn CameraSource>, Duration), CameraError> {
    match spec.split_once(':') {
        Some(("files", dir)) if !dir.is_empty() => {
            let source = files::ImageFiles::open(std::path::Path::new(dir), None, FILES_PERIOD)?;
            Ok((Box::new(source), FILES_PERIOD))
        }
        _ => Err(CameraError::UnknownCamera(spec.chars().take(200).collect())),
    }
}

/// A QR code seen in a frame, as it enters the app driver.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// The code's payload bytes as encoded.
    pub payload: Vec<u8>,
    /// Top-left, top-right, bottom-right, bottom-left, in frame pixels.
    pub corners: [Point; 4],
    pub captured_at: Duration,
}
