//! The headless shell: offscreen eyes, a scripted head pose, a fixed clock; frames come back
//! as images (PNG screenshots, golden tests, benchmarks) or run the app's frame loop
//! ([`run`], `hologuide run --backend headless`).

mod frames;
pub mod shots;

use glam::{Quat, Vec3};

use crate::render::gpu::{self, Gpu};
use crate::render::{AssetReader, EyeView, EyeViews, RenderError, Renderer, Targets};
use crate::scene::{Frame, Pose};

pub use crate::render::gpu::FORMAT;
pub use frames::{HeadlessCamera, HeadlessError, HeadlessOptions, run};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadlessConfig {
    pub width: u32,
    pub height: u32,
    /// Two eyes `ipd` apart, or one centred eye (a mirror view).
    pub stereo: bool,
    pub ipd: f32,
    pub fov_y_deg: f32,
    pub sample_count: u32,
    /// Stereo into one 2-layer texture with a single multiview pass, when the device has it.
    pub multiview: bool,
    /// Linear RGBA behind everything.
    pub clear: [f64; 4],
}

impl HeadlessConfig {
    /// A desktop-sized mirror view, used for screenshots.
    pub fn screenshot(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            stereo: false,
            ipd: 0.063,
            fov_y_deg: 52.0,
            sample_count: 4,
            multiview: false,
            clear: [0.045, 0.05, 0.06, 1.0],
        }
    }

    /// Both eyes of a headset-sized frame (2 × 1440 × 1600, the benchmark's size).
    pub fn stereo_headset() -> Self {
        Self {
            width: 1440,
            height: 1600,
            stereo: true,
            ipd: 0.063,
            fov_y_deg: 90.0,
            sample_count: 1,
            multiview: true,
            clear: [0.0, 0.0, 0.0, 1.0],
        }
    }
}

/// A standing operator looking slightly down at the work in front of them.
pub fn scripted_head() -> Pose {
    Pose {
        position: Vec3::new(0.0, 1.6, 0.0),
        orientation: Quat::from_rotation_x(-10f32.to_radians()),
    }
}

pub struct Headless {
    pub gpu: Gpu,
    pub renderer: Renderer,
    config: HeadlessConfig,
    /// One texture per eye, or one 2-layer texture for multiview (then `layered` is true).
    eyes: Vec<(wgpu::Texture, wgpu::TextureView)>,
    layered: bool,
}

impl Headless {
    pub fn new(config: HeadlessConfig) -> Result<Self, RenderError> {
        let gpu = Gpu::headless()?;
        let mut renderer = Renderer::new(&gpu.device, &gpu.queue, FORMAT, config.sample_count);
        renderer.adapt_to(&gpu.adapter.get_info());
        let layered = config.stereo && config.multiview && renderer.supports_multiview();
        let eyes = if layered {
            let texture =
                gpu::offscreen_target(&gpu.device, config.width, config.height, 2, FORMAT);
            let view = texture.create_view(&wgpu::TextureViewDescriptor {
                dimension: Some(wgpu::TextureViewDimension::D2Array),
                ..Default::default()
            });
            vec![(texture, view)]
        } else {
            (0..if config.stereo { 2 } else { 1 })
                .map(|_| {
                    let texture =
                        gpu::offscreen_target(&gpu.device, config.width, config.height, 1, FORMAT);
                    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
                    (texture, view)
                })
                .collect()
        };
        Ok(Self {
            gpu,
            renderer,
            config,
            eyes,
            layered,
        })
    }

    /// Whether both eyes are drawn in one multiview pass.
    pub fn is_multiview(&self) -> bool {
        self.layered
    }

    pub fn eye_views(&self, head: Pose) -> Vec<EyeView> {
        let aspect = self.config.width as f32 / self.config.height as f32;
        let offsets: &[f32] = if self.config.stereo {
            &[-0.5, 0.5]
        } else {
            &[0.0]
        };
        offsets
            .iter()
            .map(|side| {
                let eye = Pose {
                    position: head.position + head.orientation * Vec3::X * (side * self.config.ipd),
                    orientation: head.orientation,
                };
                EyeView::from_pose(eye, self.config.fov_y_deg, aspect)
            })
            .collect()
    }

    /// Records and submits one frame; returns when the commands are queued (not finished).
    pub fn submit(
        &mut self,
        frame: &Frame,
        head: Pose,
        read: &AssetReader<'_>,
    ) -> Result<(), RenderError> {
        let cameras = self.eye_views(head);
        let per_eye: Vec<&wgpu::TextureView> = self.eyes.iter().map(|(_, v)| v).collect();
        let views = if self.layered {
            EyeViews::Layered(per_eye[0])
        } else {
            EyeViews::PerEye(&per_eye)
        };
        let mut encoder = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("frame"),
            });
        self.renderer.draw(
            &mut encoder,
            frame,
            &Targets {
                eyes: &cameras,
                views,
                width: self.config.width,
                height: self.config.height,
                clear: self.config.clear,
            },
            read,
        )?;
        self.gpu.queue.submit([encoder.finish()]);
        Ok(())
    }

    /// Draws a frame and reads every eye back.
    pub fn render(
        &mut self,
        frame: &Frame,
        head: Pose,
        read: &AssetReader<'_>,
    ) -> Result<Vec<image::RgbaImage>, RenderError> {
        self.submit(frame, head, read)?;
        if self.layered {
            let texture = &self.eyes[0].0;
            (0..2)
                .map(|layer| gpu::read_rgba(&self.gpu.device, &self.gpu.queue, texture, layer))
                .collect()
        } else {
            self.eyes
                .iter()
                .map(|(texture, _)| gpu::read_rgba(&self.gpu.device, &self.gpu.queue, texture, 0))
                .collect()
        }
    }

    /// Blocks until the GPU has finished everything submitted.
    pub fn wait(&self) -> Result<(), RenderError> {
        self.gpu
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| RenderError::Readback(e.to_string()))
    }
}
