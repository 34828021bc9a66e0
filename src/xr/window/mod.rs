//! The desktop window backend: the app in a winit window, drawn by the same renderer as the
//! headless and OpenXR backends, with a mouse-and-keyboard camera.
//!
//! Keys: N or → next, B or ← back, R restart, O toggles the Offline banner, M opens or closes
//! the All list (F3) and 1–9 open its entry of that number, W/A/S/D walk, Esc quits. Mouse: drag with either button held to look around; a left click (press and
//! release without dragging) on the card's Back/Next buttons presses them.
//!
//! The renderer draws into an offscreen texture that is then blitted to the window, so any
//! frame can also be read back (`capture`, `shots`) and tests can prove what was shown.

mod camera;
mod handler;
mod pick;
mod present;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::app::View;
use crate::app::driver::Driver;
use crate::app::report::AppReport;
use crate::render::RenderError;

pub use crate::app::report::Cause;

pub use camera::{FlyCamera, Walk};
pub use pick::{button_centre_px, cursor_ray};

/// Vertical field of view of the window's camera, as the headless screenshots'.
pub const FOV_Y_DEG: f32 = 52.0;

#[derive(Debug, Error)]
pub enum WindowError {
    /// No window could be opened (no X display, or it refused the connection). Nothing was
    /// shown; `--backend auto` goes on headless.
    #[error("no window can be opened: {0}")]
    NoDisplay(String),
    /// The window opened but Vulkan cannot present to it.
    #[error("the window cannot be drawn into with Vulkan: {0}")]
    Surface(String),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("writing {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("the GPU reported {} error(s): {}", .0.len(), .0.join("; "))]
    Gpu(Vec<String>),
    #[error("the window's event loop failed: {0}")]
    EventLoop(String),
}

impl WindowError {
    /// Whether no window was ever shown, so another backend may be tried instead.
    pub fn nothing_shown(&self) -> bool {
        matches!(self, Self::NoDisplay(_) | Self::Surface(_))
    }
}

/// How time advances from one frame to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameClock {
    /// The wall clock (people).
    Real,
    /// Every frame is this many seconds after the previous one (tests: animations and the
    /// card's movement are the same on every machine, however slow the GPU).
    Fixed { frame_s: f32 },
}

#[derive(Debug, Clone)]
pub struct WindowOptions {
    /// Inner size of the window in pixels.
    pub size: (u32, u32),
    pub clock: FrameClock,
    /// Close after this many frames (tests, scripts).
    pub exit_after_frames: Option<u64>,
    /// Frame number (from 1, as every shell counts) to read back and write as a PNG.
    pub capture: Option<(u64, PathBuf)>,
    /// A folder that gets `step-NN.png` each time a step has been shown for
    /// [`STEP_TIME_S`](crate::xr::headless::shots::STEP_TIME_S) seconds: the headless
    /// backend's pictures, taken from the live window.
    pub shots: Option<PathBuf>,
    /// A camera decoded on its own threads; its codes go to the driver each frame.
    pub camera: Option<std::sync::Arc<crate::camera::decoding::QrWorker>>,
}

/// Told what the window does, as it happens (the CLI prints it).
pub trait Observer {
    /// The window shows its first frame; `gpu` names the adapter.
    fn opened(&mut self, gpu: &str);
    /// The app shows a new screen (or the same one after Restart).
    fn shown(&mut self, frame: u64, view: &View<'_>, cause: Cause);
    /// Frame `frame` is the first drawn with (`online` false) or without the Offline banner
    /// since the last change (the O key, or the guide service lost or back).
    fn online_changed(&mut self, frame: u64, online: bool);
    fn written(&mut self, path: &Path);
    /// F3: frame `frame` shows the All list with these lines (the exact empty text when
    /// nothing is cached).
    fn all_list(&mut self, frame: u64, lines: &[String]) {
        let _ = (frame, lines);
    }
    /// A guide chosen from the All list replaces the one shown, from frame `frame`.
    fn guide_opened(&mut self, frame: u64, title: &str, version: u32) {
        let _ = (frame, title, version);
    }
    /// The status line shows `text` from frame `frame` (a refusal, how a guide was opened).
    fn status(&mut self, frame: u64, text: &str) {
        let _ = (frame, text);
    }
    /// N6: an answer was given at frame `frame` ("refit-cap: 25.4 N·m (key keyboard)").
    fn answered(&mut self, frame: u64, line: &str) {
        let _ = (frame, line);
    }
}

/// Opens the window and runs until Esc, the window is closed, or `exit_after_frames`.
/// One window per process: winit allows one event loop. `surroundings` say each frame whether
/// the Offline banner shows and take the screen changes (F2, F9).
pub fn run(
    driver: Driver,
    options: WindowOptions,
    observer: &mut dyn Observer,
) -> Result<AppReport, WindowError> {
    use winit::event_loop::EventLoop;
    if let Some(dir) = &options.shots {
        std::fs::create_dir_all(dir).map_err(|e| WindowError::Write {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
    }
    let event_loop = EventLoop::new().map_err(|e| WindowError::NoDisplay(e.to_string()))?;
    let mut handler = handler::Handler::new(driver, options, observer);
    event_loop
        .run_app(&mut handler)
        .map_err(|e| WindowError::EventLoop(e.to_string()))?;
    handler.finish()
}
