//! The renderer: draws a [`scene::Frame`](crate::scene::Frame) into the texture views it is
//! given, one per eye. It never owns a surface or swapchain, so the same code draws into an
//! OpenXR swapchain image, a window, or an offscreen texture for a golden test.
//!
//! Once warm, a frame allocates no GPU resources: per-draw data goes into one dynamic uniform
//! buffer (grown, and counted in [`Stats`], only when a frame needs more draws than ever before);
//! models are uploaded once per asset; panel faces are repainted only when their text changes.

pub mod gpu;
pub mod headless;
mod meshes;
mod panels;
pub mod shots;

use std::collections::HashMap;

use glam::{Mat4, Vec3};
use thiserror::Error;

use crate::model::{LoadOptions, ModelError, load_model};
use crate::scene::Frame;

pub const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// Panel faces are painted in sRGB so that text antialiasing blends perceptually.
pub const PANEL_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
/// Uniform slots are 256 bytes apart (the minimum dynamic-offset alignment everywhere).
const SLOT: u64 = 256;

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
    #[error("{count} eye views given, expected 1 or 2")]
    EyeCount { count: usize },
}

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

/// Where a frame goes: one colour view per eye, all `width × height`.
pub struct Targets<'a> {
    pub eyes: &'a [(EyeView, &'a wgpu::TextureView)],
    pub width: u32,
    pub height: u32,
    /// Linear RGBA the views are cleared to (transparent black on additive headsets).
    pub clear: [f64; 4],
}

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
    pub depth_and_msaa: u64,
    pub uniforms: u64,
}

/// Reads a guide asset by its path inside the package.
pub type AssetReader<'a> = dyn Fn(&str) -> Result<Vec<u8>, String> + 'a;

pub(crate) struct Layouts {
    pub camera: wgpu::BindGroupLayout,
    pub draw: wgpu::BindGroupLayout,
    pub material: wgpu::BindGroupLayout,
    pub panel: wgpu::BindGroupLayout,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CameraUniform {
    view_proj: [[f32; 4]; 4],
    eye: [f32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DrawUniform {
    model: [[f32; 4]; 4],
    normal: [[f32; 4]; 4],
    skin: [u32; 4],
}

enum Asset {
    Ready(Box<meshes::GpuModel>),
    /// Loading failed; the message was logged once and the hologram is left out.
    Failed(String),
}

struct FrameTargets {
    width: u32,
    height: u32,
    depth: wgpu::TextureView,
    msaa: Option<wgpu::TextureView>,
}

pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    colour_format: wgpu::TextureFormat,
    sample_count: u32,
    layouts: Layouts,
    camera_buffer: wgpu::Buffer,
    camera_bind_group: wgpu::BindGroup,
    draw_buffer: wgpu::Buffer,
    draw_bind_group: wgpu::BindGroup,
    draw_capacity: u64,
    joint_buffer: wgpu::Buffer,
    /// Joint matrices the joint buffer holds.
    joint_capacity: u64,
    pbr: HashMap<(bool, bool), wgpu::RenderPipeline>,
    panel_pipeline: wgpu::RenderPipeline,
    fallbacks: meshes::Fallbacks,
    assets: HashMap<String, Asset>,
    asset_order: Vec<String>,
    painter: panels::PanelPainter,
    targets: Option<FrameTargets>,
    stats: Stats,
    // Per-frame scratch, kept to avoid allocating every frame.
    draws: Vec<meshes::MeshDraw>,
    uniforms: Vec<u8>,
    matrices: Vec<Mat4>,
    joints: Vec<Mat4>,
    max_texture_dimension: u32,
}

fn uniform_layout(device: &wgpu::Device, label: &str, size: u64) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: wgpu::BufferSize::new(size),
            },
            count: None,
        }],
    })
}

/// Per-draw uniforms (dynamic offset) and the frame's joint matrices for skinned meshes.
fn draw_layout(device: &wgpu::Device, size: u64) -> wgpu::BindGroupLayout {
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("draw"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(size),
                },
                count: None,
            },
            wgpu::BindGroupLayoutEntry {
                binding: 1,
                visibility: wgpu::ShaderStages::VERTEX,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: true },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
        ],
    })
}

fn joint_buffer(device: &wgpu::Device, matrices: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("joint matrices"),
        size: matrices * 64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

fn draw_bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    draws: &wgpu::Buffer,
    joints: &wgpu::Buffer,
) -> wgpu::BindGroup {
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("draws"),
        layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: draws,
                    offset: 0,
                    size: wgpu::BufferSize::new(std::mem::size_of::<DrawUniform>() as u64),
                }),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: joints.as_entire_binding(),
            },
        ],
    })
}

fn texture_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: true },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        count: None,
    }
}

fn sampler_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
        count: None,
    }
}

fn uniform_bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    buffer: &wgpu::Buffer,
    size: u64,
    label: &str,
) -> wgpu::BindGroup {
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer,
                offset: 0,
                size: wgpu::BufferSize::new(size),
            }),
        }],
    })
}

fn uniform_buffer(device: &wgpu::Device, label: &str, slots: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: slots * SLOT,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

impl Renderer {
    /// `colour_format` is the format of the views `draw` will be given; `sample_count` 1 or 4.
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        colour_format: wgpu::TextureFormat,
        sample_count: u32,
    ) -> Self {
        let camera_size = std::mem::size_of::<CameraUniform>() as u64;
        let draw_size = std::mem::size_of::<DrawUniform>() as u64;
        let layouts = Layouts {
            camera: uniform_layout(device, "camera", camera_size),
            draw: draw_layout(device, draw_size),
            material: device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("material"),
                entries: &[
                    wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::FRAGMENT,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    },
                    texture_entry(1),
                    texture_entry(2),
                    texture_entry(3),
                    texture_entry(4),
                    texture_entry(5),
                    sampler_entry(6),
                ],
            }),
            panel: device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("panel face"),
                entries: &[texture_entry(0), sampler_entry(1)],
            }),
        };
        let camera_buffer = uniform_buffer(device, "cameras", 2);
        let camera_bind_group = uniform_bind_group(
            device,
            &layouts.camera,
            &camera_buffer,
            camera_size,
            "cameras",
        );
        let draw_capacity = 64;
        let draw_buffer = uniform_buffer(device, "draws", draw_capacity);
        let joint_capacity = 256;
        let joint_buffer = joint_buffer(device, joint_capacity);
        let draw_bind_group = draw_bind_group(device, &layouts.draw, &draw_buffer, &joint_buffer);
        let pbr_shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("pbr.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/pbr.wgsl").into()),
        });
        let mut pbr = HashMap::new();
        for double_sided in [false, true] {
            for blend in [false, true] {
                pbr.insert(
                    (double_sided, blend),
                    meshes::pipeline(
                        device,
                        &layouts,
                        &pbr_shader,
                        colour_format,
                        sample_count,
                        double_sided,
                        blend,
                    ),
                );
            }
        }
        let panel_pipeline = panel_pipeline(device, &layouts, colour_format, sample_count);
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
            pbr,
            panel_pipeline,
            fallbacks: meshes::Fallbacks::new(device, queue),
            assets: HashMap::new(),
            asset_order: Vec::new(),
            painter: panels::PanelPainter::new(device, queue, &layouts.panel, &panel_sampler),
            targets: None,
            stats: Stats::default(),
            draws: Vec::new(),
            uniforms: Vec::new(),
            matrices: Vec::new(),
            joints: Vec::new(),
            max_texture_dimension: device.limits().max_texture_dimension_2d,
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
            pixels * 4 * u64::from(self.sample_count) * if t.msaa.is_some() { 2 } else { 1 }
        });
        Memory {
            models: self.stats.model_bytes,
            panel_faces: self.painter.face_bytes(),
            depth_and_msaa: targets,
            uniforms: (2 + self.draw_capacity) * SLOT,
        }
    }

    /// Loads and uploads an asset unless it is cached. A broken asset is remembered as broken
    /// (and reported once), so the rest of the guide keeps rendering.
    pub fn prepare_asset(&mut self, path: &str, read: &AssetReader<'_>) -> Result<(), String> {
        if let Some(asset) = self.assets.get(path) {
            return match asset {
                Asset::Ready(_) => Ok(()),
                Asset::Failed(message) => Err(message.clone()),
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
            .map_err(|e| ModelError::Parse {
                asset: path.into(),
                reason: e,
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
                    &mut self.stats,
                );
                self.stats.model_bytes += gpu.gpu_bytes;
                Asset::Ready(Box::new(gpu))
            }
            Err(e) => {
                tracing::error!("hologram not shown: {e}");
                Asset::Failed(e.to_string())
            }
        };
        let result = match &asset {
            Asset::Ready(_) => Ok(()),
            Asset::Failed(message) => Err(message.clone()),
        };
        self.assets.insert(path.to_owned(), asset);
        self.asset_order.push(path.to_owned());
        result
    }

    fn ensure_targets(&mut self, width: u32, height: u32) {
        if self
            .targets
            .as_ref()
            .is_some_and(|t| t.width == width && t.height == height)
        {
            return;
        }
        let make = |format, samples, label| {
            self.device
                .create_texture(&wgpu::TextureDescriptor {
                    label: Some(label),
                    size: wgpu::Extent3d {
                        width,
                        height,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: samples,
                    dimension: wgpu::TextureDimension::D2,
                    format,
                    usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
                    view_formats: &[],
                })
                .create_view(&wgpu::TextureViewDescriptor::default())
        };
        let depth = make(DEPTH_FORMAT, self.sample_count, "depth");
        let msaa = (self.sample_count > 1)
            .then(|| make(self.colour_format, self.sample_count, "msaa colour"));
        self.stats.gpu_allocations += 1 + u64::from(self.sample_count > 1);
        self.targets = Some(FrameTargets {
            width,
            height,
            depth,
            msaa,
        });
    }

    /// Records the frame's commands into `encoder` (the caller submits). Holograms whose asset
    /// `read` cannot provide, or that fail to load, are left out with one logged error.
    pub fn draw(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        frame: &Frame,
        targets: &Targets<'_>,
        read: &AssetReader<'_>,
    ) -> Result<(), RenderError> {
        if targets.eyes.is_empty() || targets.eyes.len() > 2 {
            return Err(RenderError::EyeCount {
                count: targets.eyes.len(),
            });
        }
        self.ensure_targets(targets.width, targets.height);

        // Cameras.
        for (i, (eye, _)) in targets.eyes.iter().enumerate() {
            let camera = CameraUniform {
                view_proj: (eye.projection * eye.view).to_cols_array_2d(),
                eye: eye.position.extend(1.0).to_array(),
            };
            self.queue.write_buffer(
                &self.camera_buffer,
                i as u64 * SLOT,
                bytemuck::bytes_of(&camera),
            );
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
        // Opaque first, then blended (alpha blending needs what is behind already drawn).
        self.draws.sort_by_key(|d| d.blend);

        // Per-draw uniforms: meshes, then panels.
        let panel_count = frame.panels.len();
        let needed = (self.draws.len() + panel_count) as u64;
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
        if !self.uniforms.is_empty() {
            self.queue
                .write_buffer(&self.draw_buffer, 0, &self.uniforms);
        }

        // Panel faces (painted only when their content changed).
        for (i, panel) in frame.panels.iter().enumerate() {
            self.painter.face(encoder, panel, i, &mut self.stats)?;
        }

        let Some(frame_targets) = self.targets.as_ref() else {
            return Ok(());
        };
        for (eye_index, (_, view)) in targets.eyes.iter().enumerate() {
            let [r, g, b, a] = targets.clear;
            let (attachment, resolve) = match &frame_targets.msaa {
                Some(msaa) => (msaa, Some(*view)),
                None => (*view, None),
            };
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some(if eye_index == 0 {
                    "left eye"
                } else {
                    "right eye"
                }),
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
                depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                    view: &frame_targets.depth,
                    depth_ops: Some(wgpu::Operations {
                        load: wgpu::LoadOp::Clear(1.0),
                        store: wgpu::StoreOp::Discard,
                    }),
                    stencil_ops: None,
                }),
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_bind_group(
                0,
                &self.camera_bind_group,
                &[(eye_index as u64 * SLOT) as u32],
            );
            // Sorted above: opaque draws first, then blended ones.
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
                let Some(pipeline) = self.pbr.get(&(d.double_sided, d.blend)) else {
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
            pass.set_pipeline(&self.panel_pipeline);
            for (i, panel) in frame.panels.iter().enumerate() {
                let Some(face) = self.painter.bind_group(panel.kind) else {
                    continue;
                };
                let slot = self.draws.len() + i;
                pass.set_bind_group(1, &self.draw_bind_group, &[(slot as u64 * SLOT) as u32]);
                pass.set_bind_group(2, face, &[]);
                pass.draw(0..6, 0..1);
            }
            for (slot, d) in self.draws.iter().enumerate().skip(split) {
                draw_mesh(&mut pass, slot, d);
            }
        }
        self.stats.draws += (self.draws.len() + panel_count) as u64 * targets.eyes.len() as u64;
        self.painter.trim();
        Ok(())
    }
}

fn panel_pipeline(
    device: &wgpu::Device,
    layouts: &Layouts,
    colour_format: wgpu::TextureFormat,
    sample_count: u32,
) -> wgpu::RenderPipeline {
    let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("panel.wgsl"),
        source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/panel.wgsl").into()),
    });
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("panel"),
        bind_group_layouts: &[
            Some(&layouts.camera),
            Some(&layouts.draw),
            Some(&layouts.panel),
        ],
        immediate_size: 0,
    });
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("panel"),
        layout: Some(&layout),
        vertex: wgpu::VertexState {
            module: &shader,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: Some(wgpu::DepthStencilState {
            format: DEPTH_FORMAT,
            depth_write_enabled: Some(true),
            depth_compare: Some(wgpu::CompareFunction::Less),
            stencil: Default::default(),
            bias: Default::default(),
        }),
        multisample: wgpu::MultisampleState {
            count: sample_count,
            ..Default::default()
        },
        fragment: Some(wgpu::FragmentState {
            module: &shader,
            entry_point: Some("fs_main"),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format: colour_format,
                blend: Some(wgpu::BlendState::ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    })
}
