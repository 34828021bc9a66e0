//! Where a frame goes: the eyes' cameras, their colour views and, optionally, depth views the
//! caller keeps (an OpenXR depth swapchain).

use glam::{Mat4, Vec3};

/// One eye: where it is and how it projects (OpenXR gives both per view, per frame).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EyeView {
    /// World → eye.
    pub view: Mat4,
    /// Eye → clip (wgpu depth range 0..1).
    pub projection: Mat4,
    pub position: Vec3,
}

impl EyeView {
    /// An eye at `pose` with a symmetric vertical field of view.
    pub fn from_pose(pose: crate::scene::Pose, fov_y_deg: f32, aspect: f32) -> Self {
        Self {
            view: pose.to_matrix().inverse(),
            projection: Mat4::perspective_rh(fov_y_deg.to_radians(), aspect, 0.05, 100.0),
            position: pose.position,
        }
    }
}

/// The colour views a frame is drawn into.
pub enum EyeViews<'a> {
    /// One 2D view per eye (or a single view for a mirror/screenshot); one pass per view.
    PerEye(&'a [&'a wgpu::TextureView]),
    /// One view of a 2-layer array texture, layer = eye; both eyes in one multiview pass.
    /// Needs [`Renderer::supports_multiview`].
    Layered(&'a wgpu::TextureView),
}

/// Where a frame goes: the eyes' cameras and views, all `width × height`.
pub struct Targets<'a> {
    pub eyes: &'a [EyeView],
    pub views: EyeViews<'a>,
    pub width: u32,
    pub height: u32,
    /// Linear RGBA the views are cleared to (transparent black on additive headsets).
    pub clear: [f64; 4],
}

/// Depth views the caller owns, shaped like the colour views of [`Targets::views`].
pub enum DepthViews<'a> {
    PerEye(&'a [&'a wgpu::TextureView]),
    Layered(&'a wgpu::TextureView),
}

impl DepthViews<'_> {
    pub(super) fn matches(&self, colour: &EyeViews<'_>) -> bool {
        match (self, colour) {
            (Self::PerEye(depth), EyeViews::PerEye(colour)) => depth.len() == colour.len(),
            (Self::Layered(_), EyeViews::Layered(_)) => true,
            _ => false,
        }
    }

    /// The view for eye `eye`'s pass (the layered view serves the single multiview pass).
    pub(super) fn eye(&self, eye: usize) -> Option<&wgpu::TextureView> {
        match self {
            Self::PerEye(views) => views.get(eye).copied(),
            Self::Layered(view) => Some(*view),
        }
    }
}
