//! The OpenXR backend: `hologuide run`/`demo --backend openxr` on a real runtime.
//!
//! - [`instance`]: loader, instance with only the extensions we use, the HMD system, blend mode.
//! - [`binding`]: the graphics seam; [`vulkan`] implements it (`XR_KHR_vulkan_enable2` → wgpu).
//! - [`session`]: the session lifecycle as a state machine.
//! - [`frame`]: the frame loop and session handling (events, begin/end, re-creation).
//! - `loss`: what follows a lost session (bounded wait for the system, bounded re-creation).
//! - [`draw`]: one frame (locate → input → app/scene → render → release → end), and what runs
//!   once before the first (asset preload, warm-up draw).
//! - [`swapchain`]: the 2-layer stereo swapchain wrapped for wgpu; the left-eye capture.
//! - [`input`]: the action set (select/next/back/menu, aim pose) on the runtime's profiles,
//!   and hand-tracking pinch.
//! - [`markers`]: QR stickers the runtime tracks itself (HoloLens 2's scene markers, declared
//!   in [`markers_ffi`]; `XR_EXT_spatial_marker_tracking` in `markers_ext`), polled each frame.
//! - [`probe`]: "does a runtime answer?" for `--backend auto`, bounded in time.
//!
//! On these Debian 12 machines the project's Monado needs the libraries of its own Debian 13
//! tree, so a client reaches it only when started through that tree's dynamic loader
//! ([`crate::platform::monado`]); the CLI re-executes itself that way, so users never see it.

pub mod binding;
#[cfg(windows)]
pub mod d3d12;
pub mod draw;
pub mod frame;
pub mod input;
pub mod instance;
mod loss;
pub mod markers;
mod markers_ext;
pub mod markers_ffi;
pub mod probe;
pub mod session;
pub mod swapchain;
pub mod vulkan;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use crate::app::driver::Driver;
use crate::app::report::AppReport;
use crate::render::RenderError;

pub use probe::{RuntimeSummary, XrUnavailable, probe_runtime, probe_runtime_with};

#[derive(Debug, Error)]
pub enum XrError {
    #[error("no OpenXR runtime answered: {0}")]
    NoRuntime(String),
    #[error(
        "the OpenXR runtime has no Vulkan support ({0} is missing); hologuide renders with Vulkan on this platform"
    )]
    NoGraphicsBinding(&'static str),
    #[error("the OpenXR runtime has no head-mounted display: {0}")]
    NoSystem(String),
    #[error("the OpenXR runtime has no stereo view configuration: {0}")]
    NoStereo(String),
    #[error(
        "the OpenXR runtime offers no swapchain format hologuide can draw into (it offers {offered}; hologuide needs an 8-bit sRGB RGBA or BGRA format)"
    )]
    NoSwapchainFormat { offered: String },
    #[error("Vulkan through the OpenXR runtime: {0}")]
    Vulkan(String),
    #[error("{call} failed: {result}")]
    Call {
        call: &'static str,
        result: openxr::sys::Result,
    },
    #[error(
        "the OpenXR runtime stopped answering ({call}: {result}); is the runtime's service (monado-service) still running?"
    )]
    RuntimeLost {
        call: &'static str,
        result: openxr::sys::Result,
    },
    #[error("the OpenXR session was lost and could not be created again: {0}")]
    SessionLost(String),
    #[error("rendering: {0}")]
    Render(#[from] RenderError),
    #[error("capturing frame {frame} to {path}: {reason}")]
    Capture {
        frame: u64,
        path: PathBuf,
        reason: String,
    },
}

impl XrError {
    /// An OpenXR call failed; a runtime that went away is told apart from a refused call.
    pub fn call(call: &'static str, result: openxr::sys::Result) -> Self {
        use openxr::sys::Result as R;
        match result {
            R::ERROR_INSTANCE_LOST | R::ERROR_RUNTIME_FAILURE | R::ERROR_SESSION_LOST => {
                Self::RuntimeLost { call, result }
            }
            _ => Self::Call { call, result },
        }
    }
}

/// Time of the last sign of life from the frame loop, for a watchdog that ends a process whose
/// runtime stopped answering (a call into a dead runtime may block forever).
#[derive(Debug, Clone, Default)]
pub struct Heartbeat(Arc<AtomicU64>);

impl Heartbeat {
    pub fn beat(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }

    /// How long ago the last beat was (since the epoch if there was none).
    pub fn since_last(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.0.load(Ordering::Relaxed)))
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A copy of the left eye's image of one frame, taken before the image goes to the runtime.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Frame number counted from 1 among the frames rendered.
    pub frame: u64,
    pub out: PathBuf,
}

/// How long to run and what to capture (what to show is the driver's).
pub struct RunOptions {
    /// Ask the runtime to end the session after this many frames were submitted.
    pub frames: Option<u64>,
    /// … or after this long since the first frame.
    pub duration: Option<Duration>,
    pub capture: Option<Capture>,
    /// Swapchain size per eye; the runtime's recommended size when `None`.
    pub eye_size: Option<(u32, u32)>,
    /// Set from outside (Ctrl-C): end the session cleanly.
    pub stop: Arc<AtomicBool>,
    pub heartbeat: Heartbeat,
    /// A camera decoded on its own threads; its codes go to the driver each frame.
    pub camera: Option<crate::camera::decoding::QrWorker>,
}

/// What happened on the runtime (frames waited, ended, timings), beside what the app did, for
/// `--json`, tests and `bench xr`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub runtime: String,
    pub system: String,
    pub graphics: String,
    pub extensions: Vec<String>,
    pub blend_mode: String,
    pub reference_space: String,
    pub swapchain_format: String,
    pub eye_size: [u32; 2],
    pub multiview: bool,
    /// Whether each projection view carried an `XrCompositionLayerDepthInfoKHR`
    /// (`XR_KHR_composition_layer_depth` on and a depth format offered).
    pub depth_layer: bool,
    /// The depth swapchain's format ("Depth32Float"); empty without a depth layer.
    pub depth_format: String,
    pub interaction_profiles: Vec<String>,
    /// What the runtime bound per hand ("/user/hand/right: /interaction_profiles/…").
    pub active_profiles: Vec<String>,
    /// Whether the right hand is tracked (XR_EXT_hand_tracking): a pinch selects.
    pub hand_tracking: bool,
    /// Frames in which a controller's aim pose was tracked (its ray can press card buttons).
    pub frames_with_aim: u64,
    /// xrWaitFrame calls that returned, xrBeginFrame and xrEndFrame calls that succeeded.
    pub frames_waited: u64,
    pub frames_begun: u64,
    pub frames_ended: u64,
    /// Frames whose eyes were rendered and submitted in a projection layer.
    pub frames_rendered: u64,
    /// Display periods the runtime's predicted display times spanned (first to last).
    pub frames_predicted: u64,
    /// Predicted display periods without a frame of ours.
    pub frames_missed: u64,
    /// The waited frames (counted from 1) whose predicted time came 1.5 periods or more after
    /// the previous one's.
    pub missed_before_frame: Vec<u64>,
    pub display_period_ms: f64,
    /// Session states in the order the runtime reported them.
    pub transitions: Vec<String>,
    /// Sessions created (more than one after a LOSS_PENDING).
    pub sessions: u32,
    pub wgpu_errors: Vec<String>,
    /// Wall clock (ms since the Unix epoch) when the first frame with content was submitted.
    pub first_frame_unix_ms: Option<u64>,
    /// Our CPU time per rendered frame (this thread, wait excluded), milliseconds.
    pub frame_cpu_ms: Vec<f64>,
    /// Wall time per rendered frame from xrWaitFrame's return to xrEndFrame's, milliseconds.
    pub frame_wall_ms: Vec<f64>,
    /// Wall time per rendered frame in xrReleaseSwapchainImage + xrEndFrame, milliseconds
    /// (where the runtime waits for the GPU to finish the frame).
    pub frame_end_ms: Vec<f64>,
    /// What the app did: screens, All lists, guides opened, statuses, the Offline banner
    /// (the same report every shell gives; its fields sit at the top level of `--json`).
    #[serde(flatten)]
    pub app: AppReport,
    pub captured: Option<PathBuf>,
    /// The left eye's depth of the captured frame (16-bit grey PNG), with a depth layer.
    pub captured_depth: Option<PathBuf>,
    /// Why the session ended: "exit requested", "runtime asked", "Ctrl-C".
    pub ended_because: String,
}

/// Runs the app on the OpenXR runtime of this process until the session ends.
pub fn run_openxr(driver: Driver, options: RunOptions) -> Result<RunReport, XrError> {
    frame::run::<vulkan::Vulkan>(driver, options)
}
