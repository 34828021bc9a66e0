//! The renderer's one error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("no Vulkan adapter: {0} (install mesa-vulkan-drivers for lavapipe; see scripts/setup)")]
    NoAdapter(String),
    #[error("the Vulkan device could not be created: {0}")]
    NoDevice(String),
    #[error("reading the image back failed: {0}")]
    Readback(String),
    #[error("text: {0}")]
    Text(String),
    #[error("{count} eye cameras given for the views, expected 1 or 2 and one per view")]
    EyeCount { count: usize },
    #[error("a layered (multiview) target was given, but the device has no multiview")]
    NoMultiview,
    #[error(
        "the depth views given do not match the colour views (one per eye, or one layered), or the renderer multisamples ({sample_count}x) and cannot draw into a single-sample depth view"
    )]
    DepthMismatch { sample_count: u32 },
}
