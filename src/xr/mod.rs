//! The shells that run the guide app: the OpenXR runtime (`openxr`), the desktop window
//! (`window`) and offscreen rendering (`headless`). Each supplies only what is its own —
//! frames, swapchains or surfaces, head poses and raw input — and feeds the one
//! [`Driver`](crate::app::driver::Driver), which owns the app, the All list, pointing, dwell,
//! the card follower, the step timer and telemetry; whatever one shell shows, the others show
//! for the same input.

pub mod headless;
pub mod openxr;
pub mod window;

pub use crate::app::device::{Content, DeviceNews, Standalone, Surroundings, press_for};
