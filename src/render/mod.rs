//! The renderer: draws a [`scene::Frame`](crate::scene::Frame) into the texture views it is
//! given, one per eye. It never owns a surface or swapchain, so the same code draws into an
//! OpenXR swapchain image, a window, or an offscreen texture for a golden test.
//!
//! Once warm, a frame allocates no GPU resources: per-draw data goes into one dynamic uniform
//! buffer (grown, and counted in [`Stats`], only when a frame needs more draws than ever before);
//! models are uploaded once per asset; panel faces are repainted only when their text changes.

mod error;
pub mod gpu;
pub use error::RenderError;
mod meshes;
pub(crate) mod panels;
mod pictures;
mod pipelines;
mod targets;

use std::collections::HashMap;

use glam::{Mat4, Vec2, Vec3};

use crate::guide::AssetError;
use crate::model::{LoadOptions, ModelError, load_model};
use crate::scene::Frame;
use pipelines::{
    CameraUniform, DrawUniform, draw_bind_group, joint_buffer, uniform_bind_group, uniform_buffer,
};
pub use targets::{DepthViews, EyeView, EyeViews, Targets};
use targets::{FrameTargets, Pass};

pub const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// Panel faces are painted in sRGB so that text antialiasing blends perceptually.
pub const PANEL_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
/// Uniform slots are 256 bytes apart (the minimum dynamic-offset alignment everywhere).
const SLOT: u64 = 256;
/// Where the multiview pass's pair of cameras starts in the camera buffer.
const MULTIVIEW_CAMERAS: u64 = 2 * SLOT;

/// Counters for the benchmark and for tests of "no allocation once warm".
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub gpu_allocations: u64,
    pub panel_repaints: u64,
    pub draws: u64,
    /// Bytes of vertex, index and texture data uploaded for models.
    pub model_bytes: u64,
}

/// GPU memory in bytes, by use.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    pub models: u64,
    pub panel_faces: u64,
    /// Step pictures shown on the card's side panel.
    pub pictures: u64,
    pub depth_and_msaa: u64,
    pub uniforms: u64,
}

/// Reads a guide asset by its path inside the package.
pub type AssetReader<'a> = dyn Fn(&str) -> Result<Vec<u8>, AssetError> + 'a;

enum Asset {
    Ready(Box<meshes::GpuModel>),
    /// Loading failed; the message was logged once and the hologram is left out.
    Failed(ModelError),
}

pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    colour_format: wgpu::TextureFormat,
    sample_count: u32,
    layouts: pipelines::Layouts,
    camera_buffer: wgpu::Buffer,
    camera_bind_group: wgpu::BindGroup,
    draw_buffer: wgpu::Buffer,
    draw_bind_group: wgpu::BindGroup,
    draw_capacity: u64,
    joint_buffer: wgpu::Buffer,
    /// Joint matrices the joint buffer holds.
    joint_capacity: u64,
    single_view: pipelines::Pipelines,
    multiview: Option<pipelines::Pipelines>,
    fallbacks: meshes::Fallbacks,
    assets: HashMap<String, Asset>,
    asset_order: Vec<String>,
    painter: panels::PanelPainter,
    pictures: pictures::Pictures,
    targets: Option<FrameTargets>,
    stats: Stats,
    // Per-frame scratch, kept to avoid allocating every frame.
    draws: Vec<meshes::MeshDraw>,
    /// Each picture of the frame: drawn (its fitted size) or broken.
    picture_sizes: Vec<Option<Vec2>>,
    uniforms: Vec<u8>,
    matrices: Vec<Mat4>,
    joints: Vec<Mat4>,
    max_texture_dimension: u32,
    /// Anisotropic filtering of hologram textures; see `adapt_to`.
    anisotropy_clamp: u16,
}

impl Renderer {
    /// `colour_format` is the format of the views `draw` will be given; `sample_count` 1 or 4.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        colour_format: wgpu::TextureFormat,
        sample_count: u32,
    ) -> Self {
        let layouts = pipelines::Layouts::new(device);
        let camera_buffer = uniform_buffer(device, "cameras", 3);
        let camera_bind_group = uniform_bind_group(
            device,
            &layouts.camera,
            &camera_buffer,
            2 * std::mem::size_of::<CameraUniform>() as u64,
            "cameras",
        );
        let draw_capacity = 64;
        let draw_buffer = uniform_buffer(device, "draws", draw_capacity);
        let joint_capacity = 256;
        let joint_buffer = joint_buffer(device, joint_capacity);
        let draw_bind_group = draw_bind_group(device, &layouts.draw, &draw_buffer, &joint_buffer);
        let single_view =
            pipelines::Pipelines::new(device, &layouts, colour_format, sample_count, false);
        // Multiview (both eyes in one pass into a 2-layer texture) where the device offers it.
        let multiview = device
            .features()
            .contains(wgpu::Features::MULTIVIEW)
            .then(|| {
                pipelines::Pipelines::new(device, &layouts, colour_format, sample_count, true)
            });
        let panel_sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("panel face"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        Self {
            device: device.clone(),
            queue: queue.clone(),
            colour_format,
            sample_count,
            camera_buffer,
            camera_bind_group,
            draw_buffer,
            draw_bind_group,
            draw_capacity,
            joint_buffer,
            joint_capacity,
            single_view,
            multiview,
            fallbacks: meshes::Fallbacks::new(device, queue),
            assets: HashMap::new(),
            asset_order: Vec::new(),
            painter: panels::PanelPainter::new(device, queue, &layouts.panel, &panel_sampler),
            pictures: pictures::Pictures::new(panel_sampler.clone()),
            picture_sizes: Vec::new(),
            targets: None,
            stats: Stats::default(),
            draws: Vec::new(),
            uniforms: Vec::new(),
            matrices: Vec::new(),
            joints: Vec::new(),
            max_texture_dimension: device.limits().max_texture_dimension_2d,
            anisotropy_clamp: 4,
            layouts,
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// GPU memory the renderer holds, by use (approximate: what it asked for, not the driver's
    /// padding).
    pub fn memory(&self) -> Memory {
        let targets = self.targets.as_ref().map_or(0, |t| {
            let pixels = u64::from(t.width) * u64::from(t.height);
            let per_layer =
                pixels * 4 * u64::from(self.sample_count) * if t.msaa.is_some() { 2 } else { 1 };
            per_layer * u64::from(t.layers)
        });
        Memory {
            models: self.stats.model_bytes,
            panel_faces: self.painter.face_bytes(),
            pictures: self.pictures.bytes(),
            depth_and_msaa: targets,
            uniforms: (2 + self.draw_capacity) * SLOT,
        }
    }

    /// Lets go of every loaded asset: another guide is shown now, and its files may have the
    /// same paths as the last one's with other content.
    pub fn forget_assets(&mut self) {
        self.assets.clear();
        self.asset_order.clear();
        self.pictures.forget();
    }

    /// Loads and uploads an asset unless it is cached. A broken asset is remembered as broken
    /// (and reported once), so the rest of the guide keeps rendering.
    pub fn prepare_asset(&mut self, path: &str, read: &AssetReader<'_>) -> Result<(), ModelError> {
        if let Some(asset) = self.assets.get(path) {
            return match asset {
                Asset::Ready(_) => Ok(()),
                Asset::Failed(error) => Err(error.clone()),
            };
        }
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir).to_owned();
        let resolve = |uri: &str| {
            let joined = if dir.is_empty() {
                uri.to_owned()
            } else {
                format!("{dir}/{uri}")
            };
            read(&joined)
        };
        let loaded = read(path)
            .map_err(|e| ModelError::Read {
                asset: path.into(),
                reason: e.to_string(),
            })
            .and_then(|bytes| {
                load_model(
                    path,
                    &bytes,
                    &LoadOptions {
                        max_texture_dimension: self.max_texture_dimension,
                        resolve: &resolve,
                    },
                )
            });
        let asset = match loaded {
            Ok(model) => {
                for warning in &model.warnings {
                    tracing::warn!("{warning}");
                }
                let gpu = meshes::upload(
                    &self.device,
                    &self.queue,
                    &self.layouts,
                    &self.fallbacks,
                    model,
                    self.anisotropy_clamp,
                    &mut self.stats,
                );
                self.stats.model_bytes += gpu.gpu_bytes;
                Asset::Ready(Box::new(gpu))
            }
            Err(e) => {
                tracing::error!("hologram not shown: {e}");
                Asset::Failed(e)
            }
        };
        let result = match &asset {
            Asset::Ready(_) => Ok(()),
            Asset::Failed(error) => Err(error.clone()),
        };
        self.assets.insert(path.to_owned(), asset);
        self.asset_order.push(path.to_owned());
        result
    }

    /// Records the frame's commands into `encoder` (the caller submits). Holograms whose asset
    /// `read` cannot provide, or that fail to load, are left out with one logged error.
    /// Depth stays in the renderer's own buffer and is thrown away after the frame.
    pub fn draw(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        frame: &Frame,
        targets: &Targets<'_>,
        read: &AssetReader<'_>,
    ) -> Result<(), RenderError> {
        self.draw_with_depth(encoder, frame, targets, None, read)
    }

    /// As [`Self::draw`], but the depth of each eye is written into (and kept in) the caller's
    /// `depth` views: an OpenXR depth swapchain that the compositor reprojects with. The views
    /// must be [`DEPTH_FORMAT`], single-sample, the size of the colour views, and shaped like
    /// them (one per eye, or one 2-layer view for multiview).
    pub fn draw_with_depth(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        frame: &Frame,
        targets: &Targets<'_>,
        depth: Option<&DepthViews<'_>>,
        read: &AssetReader<'_>,
    ) -> Result<(), RenderError> {
        let layered = matches!(targets.views, EyeViews::Layered(_));
        let view_count = match targets.views {
            EyeViews::PerEye(views) => views.len(),
            EyeViews::Layered(_) => 2,
        };
        if targets.eyes.is_empty() || targets.eyes.len() > 2 || targets.eyes.len() != view_count {
            return Err(RenderError::EyeCount {
                count: targets.eyes.len(),
            });
        }
        if layered && self.multiview.is_none() {
            return Err(RenderError::NoMultiview);
        }
        if let Some(depth) = depth
            && (self.sample_count > 1 || !depth.matches(&targets.views))
        {
            return Err(RenderError::DepthMismatch {
                sample_count: self.sample_count,
            });
        }
        self.ensure_targets(targets.width, targets.height, if layered { 2 } else { 1 });

        // Cameras: per-eye passes read slot 0 or 1; the multiview pass reads both from slot 2.
        for (i, eye) in targets.eyes.iter().enumerate() {
            let camera = CameraUniform {
                view_proj: (eye.projection * eye.view).to_cols_array_2d(),
                eye: eye.position.extend(1.0).to_array(),
            };
            let offset = if layered {
                MULTIVIEW_CAMERAS + i as u64 * std::mem::size_of::<CameraUniform>() as u64
            } else {
                i as u64 * SLOT
            };
            self.queue
                .write_buffer(&self.camera_buffer, offset, bytemuck::bytes_of(&camera));
        }

        // Meshes, posed.
        self.draws.clear();
        self.joints.clear();
        for hologram in &frame.holograms {
            if self.prepare_asset(&hologram.asset, read).is_err() || !hologram.world.is_finite() {
                continue;
            }
            let Some(index) = self.asset_order.iter().position(|a| *a == hologram.asset) else {
                continue;
            };
            if let Some(Asset::Ready(gpu)) = self.assets.get_mut(&hologram.asset) {
                meshes::collect_draws(
                    index,
                    gpu,
                    &self.queue,
                    hologram,
                    &mut self.matrices,
                    &mut self.joints,
                    &mut self.draws,
                );
            }
        }
        // Opaque first, then blended ones far to near from between the eyes (alpha blending needs
        // what is behind already drawn).
        let viewer =
            targets.eyes.iter().map(|e| e.position).sum::<Vec3>() / targets.eyes.len() as f32;
        let distance = |d: &meshes::MeshDraw| d.world.w_axis.truncate().distance_squared(viewer);
        self.draws.sort_unstable_by(|a, b| {
            a.blend
                .cmp(&b.blend)
                .then_with(|| distance(b).total_cmp(&distance(a)))
        });

        // Pictures, loaded once each and fitted into their boxes.
        self.pictures.prepare_frame(
            &self.device,
            &self.queue,
            &self.layouts.panel,
            &frame.pictures,
            read,
            &mut self.stats,
            &mut self.picture_sizes,
        );

        // Per-draw uniforms: meshes, then panels, then pictures.
        let panel_count = frame.panels.len();
        let needed = (self.draws.len() + panel_count + frame.pictures.len()) as u64;
        let joints_needed = self.joints.len() as u64;
        if needed > self.draw_capacity || joints_needed > self.joint_capacity {
            if needed > self.draw_capacity {
                self.draw_capacity = needed.next_power_of_two();
                self.draw_buffer = uniform_buffer(&self.device, "draws", self.draw_capacity);
                self.stats.gpu_allocations += 1;
            }
            if joints_needed > self.joint_capacity {
                self.joint_capacity = joints_needed.next_power_of_two();
                self.joint_buffer = joint_buffer(&self.device, self.joint_capacity);
                self.stats.gpu_allocations += 1;
            }
            self.draw_bind_group = draw_bind_group(
                &self.device,
                &self.layouts.draw,
                &self.draw_buffer,
                &self.joint_buffer,
            );
            self.stats.gpu_allocations += 1;
        }
        if !self.joints.is_empty() {
            let matrices: Vec<[[f32; 4]; 4]> =
                self.joints.iter().map(|m| m.to_cols_array_2d()).collect();
            self.queue
                .write_buffer(&self.joint_buffer, 0, bytemuck::cast_slice(&matrices));
        }
        self.uniforms.clear();
        let push = |uniforms: &mut Vec<u8>, model: Mat4, joint_offset: Option<u32>| {
            let normal = Mat4::from_mat3(glam::Mat3::from_mat4(model).inverse().transpose());
            let normal = if normal.is_finite() {
                normal
            } else {
                Mat4::IDENTITY
            };
            let u = DrawUniform {
                model: model.to_cols_array_2d(),
                normal: normal.to_cols_array_2d(),
                skin: match joint_offset {
                    Some(offset) => [offset, 1, 0, 0],
                    None => [0; 4],
                },
            };
            uniforms.extend_from_slice(bytemuck::bytes_of(&u));
            uniforms.resize(uniforms.len().next_multiple_of(SLOT as usize), 0);
        };
        for d in &self.draws {
            let world = if d.joint_offset.is_some() {
                Mat4::IDENTITY
            } else {
                d.world
            };
            push(&mut self.uniforms, world, d.joint_offset);
        }
        for panel in &frame.panels {
            let quad = panel.world * Mat4::from_scale(panel.size.extend(1.0));
            push(&mut self.uniforms, quad, None);
        }
        for (picture, size) in frame.pictures.iter().zip(&self.picture_sizes) {
            let size = size.unwrap_or(Vec2::ZERO);
            push(
                &mut self.uniforms,
                picture.world * Mat4::from_scale(size.extend(1.0)),
                None,
            );
        }
        if !self.uniforms.is_empty() {
            self.queue
                .write_buffer(&self.draw_buffer, 0, &self.uniforms);
        }

        // Panel faces (painted only when their content changed).
        for (i, panel) in frame.panels.iter().enumerate() {
            self.painter.face(encoder, panel, i, &mut self.stats)?;
        }

        match targets.views {
            EyeViews::PerEye(views) => {
                for (eye, view) in views.iter().enumerate() {
                    let pass = Pass {
                        view,
                        depth: depth.and_then(|d| d.eye(eye)),
                        clear: targets.clear,
                        camera_offset: eye as u64 * SLOT,
                        multiview: false,
                    };
                    self.record_pass(encoder, frame, &pass);
                }
            }
            EyeViews::Layered(view) => {
                let pass = Pass {
                    view,
                    depth: depth.and_then(|d| d.eye(0)),
                    clear: targets.clear,
                    camera_offset: MULTIVIEW_CAMERAS,
                    multiview: true,
                };
                self.record_pass(encoder, frame, &pass);
            }
        }
        self.stats.draws += (self.draws.len() + panel_count) as u64 * view_count as u64;
        self.painter.trim();
        Ok(())
    }

    /// One render pass: every eye of a per-eye view, or both eyes of a layered view.
    fn record_pass(&self, encoder: &mut wgpu::CommandEncoder, frame: &Frame, pass: &Pass<'_>) {
        let &Pass {
            view,
            depth,
            clear,
            camera_offset,
            multiview,
        } = pass;
        let pipelines = match (multiview, &self.multiview) {
            (true, Some(p)) => p,
            _ => &self.single_view,
        };
        let Some(frame_targets) = self.targets.as_ref() else {
            return;
        };
        let [r, g, b, a] = clear;
        let (attachment, resolve) = match &frame_targets.msaa {
            Some(msaa) => (msaa, Some(view)),
            None => (view, None),
        };
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some(if multiview { "both eyes" } else { "eye" }),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: attachment,
                depth_slice: None,
                resolve_target: resolve,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color { r, g, b, a }),
                    store: if resolve.is_some() {
                        wgpu::StoreOp::Discard
                    } else {
                        wgpu::StoreOp::Store
                    },
                },
            })],
            // A caller's depth view is kept for the compositor; our own is thrown away.
            depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                view: depth.unwrap_or(&frame_targets.depth),
                depth_ops: Some(wgpu::Operations {
                    load: wgpu::LoadOp::Clear(1.0),
                    store: if depth.is_some() {
                        wgpu::StoreOp::Store
                    } else {
                        wgpu::StoreOp::Discard
                    },
                }),
                stencil_ops: None,
            }),
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: if multiview {
                std::num::NonZeroU32::new(0b11)
            } else {
                None
            },
        });
        pass.set_bind_group(0, &self.camera_bind_group, &[camera_offset as u32]);
        // Sorted in `draw`: opaque draws first, then blended ones.
        let split = self.draws.partition_point(|d| !d.blend);
        let draw_mesh = |pass: &mut wgpu::RenderPass<'_>, slot: usize, d: &meshes::MeshDraw| {
            let Some(Asset::Ready(gpu)) = self
                .asset_order
                .get(d.asset)
                .and_then(|a| self.assets.get(a))
            else {
                return;
            };
            let primitive = &gpu.meshes[d.mesh][d.primitive];
            let Some(pipeline) = pipelines.pbr.get(&(d.double_sided, d.blend)) else {
                return;
            };
            pass.set_pipeline(pipeline);
            pass.set_bind_group(1, &self.draw_bind_group, &[(slot as u64 * SLOT) as u32]);
            pass.set_bind_group(2, &gpu.materials[primitive.material].bind_group, &[]);
            pass.set_vertex_buffer(0, primitive.vertex_buffer.slice(..));
            pass.set_index_buffer(primitive.index_buffer.slice(..), wgpu::IndexFormat::Uint32);
            pass.draw_indexed(0..primitive.index_count, 0, 0..1);
        };
        for (slot, d) in self.draws[..split].iter().enumerate() {
            draw_mesh(&mut pass, slot, d);
        }
        pass.set_pipeline(&pipelines.panel);
        for (i, panel) in frame.panels.iter().enumerate() {
            let Some(face) = self.painter.bind_group(panel.kind) else {
                continue;
            };
            let slot = self.draws.len() + i;
            pass.set_bind_group(1, &self.draw_bind_group, &[(slot as u64 * SLOT) as u32]);
            pass.set_bind_group(2, face, &[]);
            pass.draw(0..6, 0..1);
        }
        for (i, picture) in frame.pictures.iter().enumerate() {
            let Some(texture) = self.pictures.bind_group(&picture.asset) else {
                continue;
            };
            let slot = self.draws.len() + frame.panels.len() + i;
            pass.set_bind_group(1, &self.draw_bind_group, &[(slot as u64 * SLOT) as u32]);
            pass.set_bind_group(2, texture, &[]);
            pass.draw(0..6, 0..1);
        }
        for (slot, d) in self.draws.iter().enumerate().skip(split) {
            draw_mesh(&mut pass, slot, d);
        }
    }

    /// Whether `draw` accepts [`EyeViews::Layered`] (the device has multiview).
    /// Tunes texture filtering to the adapter; call before the first `prepare_asset`.
    ///
    /// Software rasterisers get plain trilinear filtering: anisotropic sampling costs them CPU
    /// time per pixel, and Mesa 25's lavapipe (the Monado tree's driver) returns zero for every
    /// anisotropic sample, which drew all textured holograms black on the OpenXR path.
    pub fn adapt_to(&mut self, adapter: &wgpu::AdapterInfo) {
        self.anisotropy_clamp = if adapter.device_type == wgpu::DeviceType::Cpu {
            1
        } else {
            4
        };
    }

    pub fn supports_multiview(&self) -> bool {
        self.multiview.is_some()
    }
}
