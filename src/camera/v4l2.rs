//! A V4L2 webcam as a camera (`--camera v4l2:/dev/video0`, cargo feature `v4l2`): for testers
//! holding printed stickers up to a laptop. Frames are asked for at 1280×720 in YUYV (what
//! nearly every UVC webcam gives) or GREY, and handed on as their luma; the intrinsics are
//! [`DEFAULT_HFOV_DEG`] across the frame (a webcam does not say its own); the camera is taken
//! to sit where the head is (a laptop has no head pose).
//!
//! Built and clippy-checked by `scripts/test`; not run there, since CI machines have no camera.

use std::path::Path;
use std::time::Instant;

use v4l::buffer::Type;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::Capture;
use v4l::{Device, FourCC};

use super::{CameraError, CameraFrame, CameraSource, DEFAULT_HFOV_DEG, Intrinsics};
use crate::scene::Pose;

/// Buffers the driver fills in turn.
const BUFFERS: u32 = 4;

enum Layout {
    /// Y0 U Y1 V: every other byte is luma.
    Yuyv,
    /// One byte a pixel.
    Grey,
}

pub struct Webcam {
    stream: Stream<'static>,
    // The stream reads the device through its own handle; the device is kept for as long.
    _device: Device,
    width: usize,
    height: usize,
    stride: usize,
    layout: Layout,
    started: Instant,
}

impl Webcam {
    pub fn open(path: &Path) -> Result<Self, CameraError> {
        let fail = |source: std::io::Error| CameraError::Webcam {
            device: path.display().to_string(),
            source,
        };
        let device = Device::with_path(path).map_err(fail)?;
        let mut wanted = device.format().map_err(fail)?;
        wanted.width = 1280;
        wanted.height = 720;
        wanted.fourcc = FourCC::new(b"YUYV");
        let mut format = device.set_format(&wanted).map_err(fail)?;
        if format.fourcc != FourCC::new(b"YUYV") {
            wanted.fourcc = FourCC::new(b"GREY");
            format = device.set_format(&wanted).map_err(fail)?;
        }
        let layout = match &format.fourcc.repr {
            b"YUYV" => Layout::Yuyv,
            b"GREY" => Layout::Grey,
            other => {
                return Err(CameraError::WebcamFormat {
                    device: path.display().to_string(),
                    fourcc: String::from_utf8_lossy(other).into_owned(),
                });
            }
        };
        let stream = Stream::with_buffers(&device, Type::VideoCapture, BUFFERS).map_err(fail)?;
        Ok(Self {
            stream,
            _device: device,
            width: format.width as usize,
            height: format.height as usize,
            stride: format.stride as usize,
            layout,
            started: Instant::now(),
        })
    }
}

impl CameraSource for Webcam {
    fn next_frame(&mut self) -> Result<CameraFrame, CameraError> {
        let (bytes, _) = self.stream.next().map_err(|source| CameraError::Webcam {
            device: "the webcam".into(),
            source,
        })?;
        let (w, h) = (self.width, self.height);
        let mut pixels = Vec::with_capacity(w * h);
        for row in bytes.chunks(self.stride.max(1)).take(h) {
            match self.layout {
                Layout::Yuyv => pixels.extend(row.iter().step_by(2).take(w)),
                Layout::Grey => pixels.extend(row.iter().take(w)),
            }
        }
        // A short buffer (a driver hiccup) is padded, never read past.
        pixels.resize(w * h, 0);
        Ok(CameraFrame {
            pixels,
            width: w,
            height: h,
            stride: w,
            captured_at: self.started.elapsed(),
            intrinsics: Intrinsics::from_hfov(w, h, DEFAULT_HFOV_DEG),
            camera_from_head: Pose::IDENTITY,
            head: None,
        })
    }
}
