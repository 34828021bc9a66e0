//! Backends that show the app: the desktop window (winit) here; OpenXR beside it.

pub mod window;
