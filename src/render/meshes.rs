//! glTF models on the GPU: uploaded once per asset, drawn with the PBR pipelines.

use std::collections::HashMap;

use glam::Mat4;
use wgpu::util::DeviceExt;

use super::pipelines::Layouts;
use super::{DEPTH_FORMAT, Stats};
use crate::model::{AlphaMode, Material, Model, Texture, TextureRef, Vertex, WrapMode, animation};
use crate::scene::HologramInstance;

pub(super) struct GpuPrimitive {
    pub vertex_buffer: wgpu::Buffer,
    pub index_buffer: wgpu::Buffer,
    pub index_count: u32,
    pub material: usize,
    /// Base vertices, kept for models with morph targets (re-blended when weights change).
    pub morph: Option<MorphData>,
}

pub(super) struct MorphData {
    pub base: Vec<Vertex>,
    pub positions: Vec<Vec<[f32; 3]>>,
    pub normals: Vec<Vec<[f32; 3]>>,
    pub scratch: Vec<Vertex>,
    pub last_weights: Vec<f32>,
}

pub(super) struct GpuMaterial {
    pub bind_group: wgpu::BindGroup,
    pub blend: bool,
    pub double_sided: bool,
}

pub(super) struct GpuModel {
    pub model: Model,
    /// Per mesh, its primitives.
    pub meshes: Vec<Vec<GpuPrimitive>>,
    pub materials: Vec<GpuMaterial>,
    /// Bytes of buffers and textures uploaded for this model.
    pub gpu_bytes: u64,
}

/// Solid 1×1 textures standing in for a material's missing maps.
pub(super) struct Fallbacks {
    white: wgpu::TextureView,
    flat_normal: wgpu::TextureView,
}

fn texture_1x1(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    rgba: [u8; 4],
    label: &str,
) -> wgpu::TextureView {
    device
        .create_texture_with_data(
            queue,
            &wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d {
                    width: 1,
                    height: 1,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba8Unorm,
                usage: wgpu::TextureUsages::TEXTURE_BINDING,
                view_formats: &[],
            },
            wgpu::util::TextureDataOrder::LayerMajor,
            &rgba,
        )
        .create_view(&wgpu::TextureViewDescriptor::default())
}

impl Fallbacks {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Self {
        Self {
            white: texture_1x1(device, queue, [255; 4], "white 1x1"),
            flat_normal: texture_1x1(device, queue, [128, 128, 255, 255], "flat normal 1x1"),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MaterialUniform {
    base_colour: [f32; 4],
    emissive_cutoff: [f32; 4],
    params: [f32; 4],
    uv_sets: [u32; 4],
    flags: [u32; 4],
    /// KHR_texture_transform rows for base colour, metallic-roughness, emissive, normal and
    /// occlusion.
    uv_transforms: [[f32; 4]; 10],
}

/// Mip chain of an RGBA8 texture, box-filtered on the CPU (upload happens once per asset).
fn mip_chain(texture: &Texture) -> Vec<(u32, u32, Vec<u8>)> {
    let mut levels = vec![(texture.width, texture.height, texture.rgba.clone())];
    let mut current =
        image::RgbaImage::from_raw(texture.width, texture.height, texture.rgba.clone());
    while let Some(image) = current {
        let (w, h) = (image.width(), image.height());
        if w == 1 && h == 1 {
            break;
        }
        let (nw, nh) = ((w / 2).max(1), (h / 2).max(1));
        let next = image::imageops::resize(&image, nw, nh, image::imageops::FilterType::Triangle);
        levels.push((nw, nh, next.as_raw().clone()));
        current = Some(next);
    }
    levels
}

fn upload_texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    texture: &Texture,
    srgb: bool,
    stats: &mut Stats,
) -> (wgpu::TextureView, u64) {
    let levels = mip_chain(texture);
    let format = if srgb {
        wgpu::TextureFormat::Rgba8UnormSrgb
    } else {
        wgpu::TextureFormat::Rgba8Unorm
    };
    let gpu = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("glTF texture"),
        size: wgpu::Extent3d {
            width: texture.width,
            height: texture.height,
            depth_or_array_layers: 1,
        },
        mip_level_count: levels.len() as u32,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    stats.gpu_allocations += 1;
    let mut bytes = 0;
    for (level, (w, h, data)) in levels.iter().enumerate() {
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &gpu,
                mip_level: level as u32,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            data,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(w * 4),
                rows_per_image: Some(*h),
            },
            wgpu::Extent3d {
                width: *w,
                height: *h,
                depth_or_array_layers: 1,
            },
        );
        bytes += data.len() as u64;
    }
    (
        gpu.create_view(&wgpu::TextureViewDescriptor::default()),
        bytes,
    )
}

fn address(mode: WrapMode) -> wgpu::AddressMode {
    match mode {
        WrapMode::Repeat => wgpu::AddressMode::Repeat,
        WrapMode::Mirror => wgpu::AddressMode::MirrorRepeat,
        WrapMode::Clamp => wgpu::AddressMode::ClampToEdge,
    }
}

pub(super) fn upload(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    layouts: &Layouts,
    fallbacks: &Fallbacks,
    model: Model,
    anisotropy_clamp: u16,
    stats: &mut Stats,
) -> GpuModel {
    let mut gpu_bytes = 0;
    // Textures used as colour (base colour, emissive) are sRGB; the others hold data.
    let mut srgb_use = vec![false; model.textures.len()];
    for m in &model.materials {
        for r in [m.base_colour_texture, m.emissive_texture]
            .into_iter()
            .flatten()
        {
            if let Some(flag) = srgb_use.get_mut(r.texture) {
                *flag = true;
            }
        }
    }
    let mut views: HashMap<(usize, bool), wgpu::TextureView> = HashMap::new();
    let mut view_for =
        |r: Option<TextureRef>, srgb: bool, stats: &mut Stats| -> Option<wgpu::TextureView> {
            let r = r?;
            let texture = model.textures.get(r.texture)?.as_ref()?;
            let _ = srgb_use.get(r.texture);
            Some(
                views
                    .entry((r.texture, srgb))
                    .or_insert_with(|| {
                        let (view, bytes) = upload_texture(device, queue, texture, srgb, stats);
                        gpu_bytes += bytes;
                        view
                    })
                    .clone(),
            )
        };
    let default_material = Material::default();
    let mut materials = Vec::new();
    // The last material is the glTF default, for primitives without one.
    for material in model
        .materials
        .iter()
        .chain(std::iter::once(&default_material))
    {
        let sampler_settings = material
            .base_colour_texture
            .and_then(|r| model.textures.get(r.texture)?.as_ref())
            .map(|t| t.sampler)
            .unwrap_or_default();
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("glTF sampler"),
            address_mode_u: address(sampler_settings.repeat_u),
            address_mode_v: address(sampler_settings.repeat_v),
            mag_filter: if sampler_settings.nearest_mag {
                wgpu::FilterMode::Nearest
            } else {
                wgpu::FilterMode::Linear
            },
            min_filter: wgpu::FilterMode::Linear,
            mipmap_filter: wgpu::MipmapFilterMode::Linear,
            anisotropy_clamp,
            ..Default::default()
        });
        let base = view_for(material.base_colour_texture, true, stats);
        let mr = view_for(material.metallic_roughness_texture, false, stats);
        let normal = view_for(material.normal_texture, false, stats);
        let occlusion = view_for(material.occlusion_texture, false, stats);
        let emissive = view_for(material.emissive_texture, true, stats);
        let set = |r: Option<TextureRef>| r.map_or(0, |r| r.tex_coord.min(1));
        let blend = material.alpha_mode == AlphaMode::Blend;
        let uniform = MaterialUniform {
            base_colour: material.base_colour,
            emissive_cutoff: [
                material.emissive[0],
                material.emissive[1],
                material.emissive[2],
                if material.alpha_mode == AlphaMode::Mask {
                    material.alpha_cutoff
                } else {
                    -1.0
                },
            ],
            params: [
                material.metallic,
                material.roughness,
                material.normal_scale,
                if material.occlusion_texture.is_some() {
                    material.occlusion_strength
                } else {
                    0.0
                },
            ],
            uv_sets: [
                set(material.base_colour_texture),
                set(material.metallic_roughness_texture),
                set(material.normal_texture),
                set(material.occlusion_texture),
            ],
            flags: [
                set(material.emissive_texture),
                u32::from(material.unlit),
                u32::from(blend),
                0,
            ],
            uv_transforms: {
                let rows = |r: Option<TextureRef>| {
                    let [a, b] = r.map_or(crate::model::UV_IDENTITY, |r| r.transform);
                    [[a[0], a[1], a[2], 0.0], [b[0], b[1], b[2], 0.0]]
                };
                let [b0, b1] = rows(material.base_colour_texture);
                let [m0, m1] = rows(material.metallic_roughness_texture);
                let [e0, e1] = rows(material.emissive_texture);
                let [n0, n1] = rows(material.normal_texture);
                let [o0, o1] = rows(material.occlusion_texture);
                [b0, b1, m0, m1, e0, e1, n0, n1, o0, o1]
            },
        };
        let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("material"),
            contents: bytemuck::bytes_of(&uniform),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        stats.gpu_allocations += 2;
        let white = &fallbacks.white;
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("material"),
            layout: &layouts.material,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: buffer.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(base.as_ref().unwrap_or(white)),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(mr.as_ref().unwrap_or(white)),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::TextureView(
                        normal.as_ref().unwrap_or(&fallbacks.flat_normal),
                    ),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: wgpu::BindingResource::TextureView(
                        occlusion.as_ref().unwrap_or(white),
                    ),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: wgpu::BindingResource::TextureView(
                        emissive.as_ref().unwrap_or(white),
                    ),
                },
                wgpu::BindGroupEntry {
                    binding: 6,
                    resource: wgpu::BindingResource::Sampler(&sampler),
                },
            ],
        });
        materials.push(GpuMaterial {
            bind_group,
            blend,
            double_sided: material.double_sided,
        });
    }
    let default_index = materials.len() - 1;
    let mut meshes = Vec::new();
    for mesh in &model.meshes {
        let mut primitives = Vec::new();
        for p in &mesh.primitives {
            if p.indices.is_empty() {
                continue;
            }
            let usage = if p.morph_positions.is_empty() {
                wgpu::BufferUsages::VERTEX
            } else {
                wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST
            };
            let vertex_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("glTF vertices"),
                contents: bytemuck::cast_slice(&p.vertices),
                usage,
            });
            let index_buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("glTF indices"),
                contents: bytemuck::cast_slice(&p.indices),
                usage: wgpu::BufferUsages::INDEX,
            });
            stats.gpu_allocations += 2;
            gpu_bytes +=
                (std::mem::size_of_val(p.vertices.as_slice()) + p.indices.len() * 4) as u64;
            let morph = (!p.morph_positions.is_empty()).then(|| MorphData {
                base: p.vertices.clone(),
                positions: p.morph_positions.clone(),
                normals: p.morph_normals.clone(),
                scratch: p.vertices.clone(),
                last_weights: Vec::new(),
            });
            primitives.push(GpuPrimitive {
                vertex_buffer,
                index_buffer,
                index_count: p.indices.len() as u32,
                material: p
                    .material
                    .filter(|&m| m < default_index)
                    .unwrap_or(default_index),
                morph,
            });
        }
        meshes.push(primitives);
    }
    GpuModel {
        model,
        meshes,
        materials,
        gpu_bytes,
    }
}

/// Blends morph targets into the vertex buffer when the weights changed since the last frame.
pub(super) fn apply_morph(queue: &wgpu::Queue, primitive: &mut GpuPrimitive, weights: &[f32]) {
    let Some(morph) = primitive.morph.as_mut() else {
        return;
    };
    if morph.last_weights == weights {
        return;
    }
    morph.last_weights.clear();
    morph.last_weights.extend_from_slice(weights);
    for (i, v) in morph.scratch.iter_mut().enumerate() {
        let base = &morph.base[i];
        let mut p = glam::Vec3::from(base.position);
        let mut n = glam::Vec3::from(base.normal);
        for (t, &w) in weights.iter().enumerate() {
            if let Some(dp) = morph.positions.get(t).and_then(|d| d.get(i)) {
                p += glam::Vec3::from(*dp) * w;
            }
            if let Some(dn) = morph.normals.get(t).and_then(|d| d.get(i)) {
                n += glam::Vec3::from(*dn) * w;
            }
        }
        v.position = p.to_array();
        v.normal = n.normalize_or_zero().to_array();
    }
    queue.write_buffer(
        &primitive.vertex_buffer,
        0,
        bytemuck::cast_slice(&morph.scratch),
    );
}

/// One mesh primitive to draw this frame.
pub(super) struct MeshDraw {
    pub asset: usize,
    pub mesh: usize,
    pub primitive: usize,
    pub world: Mat4,
    pub blend: bool,
    pub double_sided: bool,
    /// First of this draw's joint matrices in the frame's joint list, when skinned.
    pub joint_offset: Option<u32>,
}

/// Every primitive of a model posed at time `t` of its animation.
pub(super) fn collect_draws(
    asset: usize,
    gpu: &mut GpuModel,
    queue: &wgpu::Queue,
    hologram: &HologramInstance,
    scratch: &mut Vec<Mat4>,
    joints: &mut Vec<Mat4>,
    out: &mut Vec<MeshDraw>,
) {
    let animation = hologram
        .animation
        .as_deref()
        .and_then(|name| gpu.model.animation(name));
    let t = animation.map_or(0.0, |a| {
        animation::playback_time(a.duration, hologram.time_s)
    });
    let pose = animation::sample(&gpu.model, animation, t);
    animation::world_matrices(&gpu.model, &pose.locals, hologram.world, scratch);
    for (node_index, node) in gpu.model.nodes.iter().enumerate() {
        let Some(mesh_index) = node.mesh else {
            continue;
        };
        let Some(primitives) = gpu.meshes.get_mut(mesh_index) else {
            continue;
        };
        let joint_offset = node.skin.and_then(|s| gpu.model.skins.get(s)).map(|skin| {
            let offset = joints.len() as u32;
            for (joint, inverse_bind) in skin.joints.iter().zip(&skin.inverse_bind) {
                joints.push(scratch.get(*joint).copied().unwrap_or(Mat4::IDENTITY) * *inverse_bind);
            }
            offset
        });
        let weights = pose.weights[node_index]
            .as_deref()
            .unwrap_or(&gpu.model.meshes[mesh_index].default_weights);
        for (i, primitive) in primitives.iter_mut().enumerate() {
            apply_morph(queue, primitive, weights);
            let material = &gpu.materials[primitive.material];
            let world = scratch[node_index];
            out.push(MeshDraw {
                asset,
                mesh: mesh_index,
                primitive: i,
                world,
                blend: material.blend,
                // A mirroring transform flips the winding; draw both sides rather than the back.
                double_sided: material.double_sided || world.determinant() < 0.0,
                joint_offset,
            });
        }
    }
}

pub(super) fn pipeline(
    device: &wgpu::Device,
    layouts: &Layouts,
    shader: &wgpu::ShaderModule,
    colour_format: wgpu::TextureFormat,
    sample_count: u32,
    (double_sided, blend): (bool, bool),
    multiview_mask: Option<std::num::NonZeroU32>,
) -> wgpu::RenderPipeline {
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("pbr"),
        bind_group_layouts: &[
            Some(&layouts.camera),
            Some(&layouts.draw),
            Some(&layouts.material),
        ],
        immediate_size: 0,
    });
    let attributes = wgpu::vertex_attr_array![
        0 => Float32x3, 1 => Float32x3, 2 => Float32x4, 3 => Float32x2, 4 => Float32x2, 5 => Float32x4,
        6 => Uint32x4, 7 => Float32x4
    ];
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(match (double_sided, blend) {
            (false, false) => "pbr opaque",
            (true, false) => "pbr opaque double-sided",
            (false, true) => "pbr blend",
            (true, true) => "pbr blend double-sided",
        }),
        layout: Some(&layout),
        vertex: wgpu::VertexState {
            module: shader,
            entry_point: Some("vs_main"),
            compilation_options: Default::default(),
            buffers: &[Some(wgpu::VertexBufferLayout {
                array_stride: std::mem::size_of::<Vertex>() as u64,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &attributes,
            })],
        },
        primitive: wgpu::PrimitiveState {
            cull_mode: (!double_sided).then_some(wgpu::Face::Back),
            ..Default::default()
        },
        depth_stencil: Some(wgpu::DepthStencilState {
            format: DEPTH_FORMAT,
            depth_write_enabled: Some(!blend),
            depth_compare: Some(wgpu::CompareFunction::Less),
            stencil: Default::default(),
            bias: Default::default(),
        }),
        multisample: wgpu::MultisampleState {
            count: sample_count,
            ..Default::default()
        },
        fragment: Some(wgpu::FragmentState {
            module: shader,
            entry_point: Some("fs_main"),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format: colour_format,
                blend: blend.then_some(wgpu::BlendState::ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask,
        cache: None,
    })
}
