//! Bind group layouts, shared uniform helpers and the render pipelines (single-view and
//! multiview variants, built from the same WGSL).

use std::collections::HashMap;
use std::num::NonZeroU32;

use super::{DEPTH_FORMAT, SLOT, meshes};

pub(super) struct Layouts {
    pub camera: wgpu::BindGroupLayout,
    pub draw: wgpu::BindGroupLayout,
    pub material: wgpu::BindGroupLayout,
    pub panel: wgpu::BindGroupLayout,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct CameraUniform {
    pub view_proj: [[f32; 4]; 4],
    pub eye: [f32; 4],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct DrawUniform {
    pub model: [[f32; 4]; 4],
    pub normal: [[f32; 4]; 4],
    pub skin: [u32; 4],
}

impl Layouts {
    pub fn new(device: &wgpu::Device) -> Self {
        let camera_size = std::mem::size_of::<CameraUniform>() as u64;
        let draw_size = std::mem::size_of::<DrawUniform>() as u64;
        Self {
            // Both eyes' cameras: the shaders index them by view (always 0 without multiview).
            camera: uniform_layout(device, "camera", 2 * camera_size),
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
        }
    }
}

/// The WGSL source for single-view or multiview pipelines: multiview splices the view index in
/// where the source marks it (as comments, so the file itself is the single-view shader).
pub(super) fn shader_source(source: &str, multiview: bool) -> String {
    if multiview {
        source
            .replace(
                "/*VIEW_INDEX_PARAM*/",
                ", @builtin(view_index) view_index: u32",
            )
            .replace("/*VIEW_INDEX*/0u", "view_index")
    } else {
        source.to_owned()
    }
}

/// The pipelines for one way of drawing (single-view passes or one multiview pass).
pub(super) struct Pipelines {
    pub pbr: HashMap<(bool, bool), wgpu::RenderPipeline>,
    pub panel: wgpu::RenderPipeline,
}

impl Pipelines {
    pub fn new(
        device: &wgpu::Device,
        layouts: &Layouts,
        colour_format: wgpu::TextureFormat,
        sample_count: u32,
        multiview: bool,
    ) -> Self {
        let mask = if multiview {
            NonZeroU32::new(0b11)
        } else {
            None
        };
        let pbr_shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(if multiview {
                "pbr.wgsl (multiview)"
            } else {
                "pbr.wgsl"
            }),
            source: wgpu::ShaderSource::Wgsl(
                shader_source(include_str!("../../shaders/pbr.wgsl"), multiview).into(),
            ),
        });
        let mut pbr = HashMap::new();
        for double_sided in [false, true] {
            for blend in [false, true] {
                let pipeline = meshes::pipeline(
                    device,
                    layouts,
                    &pbr_shader,
                    colour_format,
                    sample_count,
                    (double_sided, blend),
                    mask,
                );
                pbr.insert((double_sided, blend), pipeline);
            }
        }
        let panel = panel_pipeline(device, layouts, colour_format, sample_count, mask);
        Self { pbr, panel }
    }
}

pub(super) fn uniform_layout(
    device: &wgpu::Device,
    label: &str,
    size: u64,
) -> wgpu::BindGroupLayout {
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
pub(super) fn draw_layout(device: &wgpu::Device, size: u64) -> wgpu::BindGroupLayout {
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

pub(super) fn joint_buffer(device: &wgpu::Device, matrices: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("joint matrices"),
        size: matrices * 64,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

pub(super) fn draw_bind_group(
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

pub(super) fn texture_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
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

pub(super) fn sampler_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
        count: None,
    }
}

pub(super) fn uniform_bind_group(
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

pub(super) fn uniform_buffer(device: &wgpu::Device, label: &str, slots: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: slots * SLOT,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

fn panel_pipeline(
    device: &wgpu::Device,
    layouts: &Layouts,
    colour_format: wgpu::TextureFormat,
    sample_count: u32,
    multiview_mask: Option<NonZeroU32>,
) -> wgpu::RenderPipeline {
    let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("panel.wgsl"),
        source: wgpu::ShaderSource::Wgsl(
            shader_source(
                include_str!("../../shaders/panel.wgsl"),
                multiview_mask.is_some(),
            )
            .into(),
        ),
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
        multiview_mask,
        cache: None,
    })
}
