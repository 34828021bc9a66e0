//! Where a frame goes: the eyes' cameras, their colour views and, optionally, depth views the
//! caller keeps (an OpenXR depth swapchain); and the renderer's own depth/MSAA targets.

use glam::{Mat4, Vec3};

use super::{DEPTH_FORMAT, Renderer};

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

/// One render pass: its colour view, the depth view if the caller gave one, its camera slot.
pub(super) struct Pass<'a> {
    pub(super) view: &'a wgpu::TextureView,
    pub(super) depth: Option<&'a wgpu::TextureView>,
    pub(super) clear: [f64; 4],
    pub(super) camera_offset: u64,
    pub(super) multiview: bool,
}

/// The renderer's own depth (and MSAA colour) buffers, remade when the target size changes.
pub(super) struct FrameTargets {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) layers: u32,
    pub(super) depth: wgpu::TextureView,
    pub(super) msaa: Option<wgpu::TextureView>,
}

impl Renderer {
    pub(super) fn ensure_targets(&mut self, width: u32, height: u32, layers: u32) {
        if self
            .targets
            .as_ref()
            .is_some_and(|t| t.width == width && t.height == height && t.layers == layers)
        {
            return;
        }
        let dimension = if layers > 1 {
            wgpu::TextureViewDimension::D2Array
        } else {
            wgpu::TextureViewDimension::D2
        };
        let make = |format, samples, label| {
            self.device
                .create_texture(&wgpu::TextureDescriptor {
                    label: Some(label),
                    size: wgpu::Extent3d {
                        width,
                        height,
                        depth_or_array_layers: layers,
                    },
                    mip_level_count: 1,
                    sample_count: samples,
                    dimension: wgpu::TextureDimension::D2,
                    format,
                    usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
                    view_formats: &[],
                })
                .create_view(&wgpu::TextureViewDescriptor {
                    dimension: Some(dimension),
                    ..Default::default()
                })
        };
        let depth = make(DEPTH_FORMAT, self.sample_count, "depth");
        let msaa = (self.sample_count > 1)
            .then(|| make(self.colour_format, self.sample_count, "msaa colour"));
        self.stats.gpu_allocations += 1 + u64::from(self.sample_count > 1);
        self.targets = Some(FrameTargets {
            width,
            height,
            layers,
            depth,
            msaa,
        });
    }
}
