//! Camera frames for QR detection (X2): the [`CameraSource`] seam, what a frame carries, and
//! the sources behind it — image files replayed from a folder ([`files`]) today. Frames are
//! decoded off the frame loop by [`decoding::QrWorker`], whose [`Sighting`]s a shell hands to
//! the app driver. Where the XR runtime tracks QR codes itself, its markers become the same
//! [`Sighting`]s ([`runtime_marker`]).
//!
//! The types here are pure; only the sources read files.

pub mod align;
pub mod decoding;
pub mod files;
pub mod photo;
pub mod pose;
pub mod room;
pub mod runtime_marker;
#[cfg(feature = "v4l2")]
pub mod v4l2;
pub mod virtual_camera;

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
    /// The head's pose in the world at capture time, where the source knows it (the virtual
    /// camera, a runtime that stamps frames); else the app takes the head of the frame it
    /// handles the sighting in.
    pub head: Option<Pose>,
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
    #[error("'{0}' is not a camera (expected virtual[:OPTIONS], files:DIR or v4l2:DEVICE)")]
    UnknownCamera(String),
    #[error(
        "'{0}' is not a virtual camera option (expected noise=SIGMA, blur, gain=G, exposure_ms=MS, rate=HZ, size=WxH)"
    )]
    VirtualOption(String),
    #[error(transparent)]
    Room(#[from] room::RoomError),
    #[error("the camera's frame cannot be decoded")]
    Frame(#[source] QrError),
    #[error("cannot read the webcam {device}")]
    Webcam {
        device: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the webcam {device} gives {fourcc} frames; only YUYV and GREY are read")]
    WebcamFormat { device: String, fourcc: String },
    #[error("this build has no V4L2 webcam support (build with --features v4l2)")]
    NoWebcamSupport,
}

/// Where frames come from. Called on the camera's own thread, never on the frame loop: a call
/// may wait for the next frame.
pub trait CameraSource: Send {
    fn next_frame(&mut self) -> Result<CameraFrame, CameraError>;
}

/// Frames a second of sources without a clock of their own (a folder of photos).
pub const FILES_PERIOD: Duration = Duration::from_nanos(1_000_000_000 / 30);

/// A camera opened from the command line.
pub struct OpenedCamera {
    pub source: Box<dyn CameraSource>,
    /// Time between frames.
    pub period: Duration,
    /// The virtual camera follows this head: the app driver must write it every frame.
    pub follows: Option<virtual_camera::HeadFeed>,
}

/// The camera named on the command line: `files:DIR`, `virtual[:OPTIONS]` seeing `room` (see
/// [`virtual_camera::VirtualOptions::parse`] for the options), or `v4l2:/dev/videoN` (cargo
/// feature `v4l2`).
pub fn open(spec: &str, room: Option<room::Room>) -> Result<OpenedCamera, CameraError> {
    let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "files" if !rest.is_empty() => {
            let source = files::ImageFiles::open(std::path::Path::new(rest), None, FILES_PERIOD)?;
            Ok(OpenedCamera {
                source: Box::new(source),
                period: FILES_PERIOD,
                follows: None,
            })
        }
        "virtual" => {
            let options = virtual_camera::VirtualOptions::parse(rest)?;
            let degradations = options.degradations;
            let model = virtual_camera::CameraModel {
                rate_hz: options.rate_hz,
                width: options.size.0,
                height: options.size.1,
                ..virtual_camera::CameraModel::hololens2()
            };
            let head = virtual_camera::HeadFeed::new(Pose::standing());
            let camera = virtual_camera::VirtualCamera::new(
                room.unwrap_or_default(),
                model,
                degradations,
                head.clone(),
            );
            Ok(OpenedCamera {
                source: Box::new(camera),
                period: model.period(),
                follows: Some(head),
            })
        }
        "v4l2" if !rest.is_empty() => webcam(rest),
        _ => Err(CameraError::UnknownCamera(spec.chars().take(200).collect())),
    }
}

#[cfg(feature = "v4l2")]
fn webcam(device: &str) -> Result<OpenedCamera, CameraError> {
    let source = v4l2::Webcam::open(std::path::Path::new(device))?;
    Ok(OpenedCamera {
        source: Box::new(source),
        // The driver paces the frames: the next one is waited for.
        period: Duration::ZERO,
        follows: None,
    })
}

#[cfg(not(feature = "v4l2"))]
fn webcam(_device: &str) -> Result<OpenedCamera, CameraError> {
    Err(CameraError::NoWebcamSupport)
}

/// A QR code seen in a frame, as it enters the app driver.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// The code's payload bytes as encoded.
    pub payload: Vec<u8>,
    /// Top-left, top-right, bottom-right, bottom-left, in frame pixels.
    pub corners: [Point; 4],
    /// Seen as its mirror image: a reflection, never where the sticker is.
    pub mirrored: bool,
    pub captured_at: Duration,
    /// The frame's camera: with the corners, where the sticker is.
    pub intrinsics: Intrinsics,
    pub camera_from_head: Pose,
    pub head: Option<Pose>,
    /// The code's pose in the camera were it 1 m across, worked out on the decoder's thread
    /// (the frame loop only scales it by the anchor's size: a square's pose scales with it).
    pub pose_per_metre: Option<pose::StickerPose>,
    /// Where the runtime's own tracker located the sticker, in the world, in the anchor frame
    /// (HoloLens 2's scene markers, `XR_EXT_spatial_marker_tracking`: [`runtime_marker`]);
    /// corners and intrinsics then mean nothing. `None` for a code a camera's frame showed.
    pub located: Option<Pose>,
}

impl Sighting {
    /// A code the decoder found in `frame`.
    pub fn from_detection(detection: crate::qr::Detection, frame: &CameraFrame) -> Self {
        // A reflection is never placed: its corners need no more care.
        let corners = (!detection.mirrored)
            .then(|| align::aligned_corners(frame, &detection))
            .flatten()
            .unwrap_or(detection.corners);
        let pose_per_metre = (!detection.mirrored)
            .then(|| pose::sticker_pose(&corners, &frame.intrinsics, 1.0))
            .flatten();
        Self {
            pose_per_metre,
            payload: detection.payload,
            corners,
            mirrored: detection.mirrored,
            captured_at: frame.captured_at,
            intrinsics: frame.intrinsics,
            camera_from_head: frame.camera_from_head,
            head: frame.head,
            located: None,
        }
    }

    /// A code seen with no camera to speak of (its corners at the origin): what a payload does,
    /// without a pose (tests of the payload rules, replays of payloads alone).
    pub fn of_payload(payload: &[u8]) -> Self {
        Self {
            payload: payload.to_vec(),
            corners: [Point { x: 0.0, y: 0.0 }; 4],
            mirrored: false,
            captured_at: Duration::ZERO,
            intrinsics: Intrinsics::from_hfov(1280, 720, DEFAULT_HFOV_DEG),
            camera_from_head: Pose::IDENTITY,
            head: None,
            pose_per_metre: None,
            located: None,
        }
    }
}
