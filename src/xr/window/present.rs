//! The window's GPU side: a Vulkan device that can present to the window's surface, the
//! offscreen frame the renderer draws into, and the blit that puts it on screen.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use winit::window::Window;

use super::WindowError;
use crate::render::gpu::FORMAT;

pub struct Presenter {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    adapter_name: String,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    /// The format the blit writes (the surface's, as sRGB where it has an sRGB view).
    target_format: wgpu::TextureFormat,
    offscreen: Offscreen,
    blit_layout: wgpu::BindGroupLayout,
    blit: wgpu::RenderPipeline,
    errors: Arc<Mutex<Vec<String>>>,
    error_count: Arc<AtomicUsize>,
}

pub struct Offscreen {
    pub texture: wgpu::Texture,
    pub view: wgpu::TextureView,
    bind_group: wgpu::BindGroup,
}

impl Presenter {
    pub fn new(window: Arc<Window>, width: u32, height: u32) -> Result<Self, WindowError> {
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        descriptor.backends = wgpu::Backends::VULKAN;
        let instance = wgpu::Instance::new(descriptor);
        let surface = instance
            .create_surface(window)
            .map_err(|e| WindowError::Surface(e.to_string()))?;
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: Some(&surface),
            apply_limit_buckets: false,
        }))
        .map_err(|e| WindowError::Surface(format!("no Vulkan adapter can present to it: {e}")))?;
        let features = adapter.features() & wgpu::Features::MULTIVIEW;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("hologuide window device"),
            required_features: features,
            required_limits: wgpu::Limits {
                max_multiview_view_count: adapter.limits().max_multiview_view_count.min(2),
                ..wgpu::Limits::default().using_resolution(adapter.limits())
            },
            ..Default::default()
        }))
        .map_err(|e| WindowError::Surface(format!("the Vulkan device: {e}")))?;
        // wgpu's default handler panics; record errors and report them when the window closes.
        let errors = Arc::new(Mutex::new(Vec::new()));
        let error_count = Arc::new(AtomicUsize::new(0));
        let (list, count) = (errors.clone(), error_count.clone());
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            tracing::error!("wgpu: {error}");
            count.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut list) = list.lock() {
                list.push(error.to_string());
            }
        }));

        let capabilities = surface.get_capabilities(&adapter);
        let format = capabilities
            .formats
            .iter()
            .copied()
            .find(|f| f.is_srgb())
            .or_else(|| capabilities.formats.first().copied())
            .ok_or_else(|| WindowError::Surface("the surface offers no format".into()))?;
        // Written as sRGB either way, so the picture matches the headless backend's PNGs.
        let target_format = format.add_srgb_suffix();
        let alpha_mode = if capabilities
            .alpha_modes
            .contains(&wgpu::CompositeAlphaMode::Opaque)
        {
            wgpu::CompositeAlphaMode::Opaque
        } else {
            capabilities
                .alpha_modes
                .first()
                .copied()
                .unwrap_or(wgpu::CompositeAlphaMode::Auto)
        };
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            width: width.max(1),
            height: height.max(1),
            present_mode: wgpu::PresentMode::Fifo,
            desired_maximum_frame_latency: 2,
            alpha_mode,
            view_formats: if target_format == format {
                Vec::new()
            } else {
                vec![target_format]
            },
            ..surface
                .get_default_config(&adapter, width.max(1), height.max(1))
                .ok_or_else(|| WindowError::Surface("the adapter cannot present to it".into()))?
        };
        surface.configure(&device, &config);

        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("blit.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../../shaders/blit.wgsl").into()),
        });
        let blit_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("blit"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Texture {
                    sample_type: wgpu::TextureSampleType::Float { filterable: false },
                    view_dimension: wgpu::TextureViewDimension::D2,
                    multisampled: false,
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("blit"),
            bind_group_layouts: &[Some(&blit_layout)],
            immediate_size: 0,
        });
        let blit = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("blit"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            primitive: Default::default(),
            depth_stencil: None,
            multisample: Default::default(),
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: target_format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        let offscreen = Offscreen::new(&device, &blit_layout, config.width, config.height);
        Ok(Self {
            adapter_name: {
                let info = adapter.get_info();
                format!("{} on {:?} ({})", info.name, info.backend, info.driver_info)
            },
            device,
            queue,
            surface,
            config,
            target_format,
            offscreen,
            blit_layout,
            blit,
            errors,
            error_count,
        })
    }

    pub fn describe(&self) -> &str {
        &self.adapter_name
    }

    pub fn size(&self) -> (u32, u32) {
        (self.config.width, self.config.height)
    }

    pub fn offscreen(&self) -> &Offscreen {
        &self.offscreen
    }

    /// A new window size: the surface and the offscreen frame follow (a minimised window has
    /// size 0 and keeps the old ones).
    pub fn resize(&mut self, width: u32, height: u32) {
        if width == 0 || height == 0 || (width, height) == self.size() {
            return;
        }
        self.config.width = width;
        self.config.height = height;
        self.surface.configure(&self.device, &self.config);
        self.offscreen = Offscreen::new(&self.device, &self.blit_layout, width, height);
    }

    /// Blits the offscreen frame (drawn by commands already in `encoder`) to the surface and
    /// presents it. Returns false when the surface had no image this time (skipped frame).
    pub fn present(&mut self, mut encoder: wgpu::CommandEncoder) -> Result<bool, WindowError> {
        let surface_texture = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                self.queue.submit([encoder.finish()]);
                return Ok(false);
            }
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                self.surface.configure(&self.device, &self.config);
                self.queue.submit([encoder.finish()]);
                return Ok(false);
            }
            wgpu::CurrentSurfaceTexture::Validation => {
                return Err(WindowError::Gpu(self.errors()));
            }
        };
        let view = surface_texture
            .texture
            .create_view(&wgpu::TextureViewDescriptor {
                format: Some(self.target_format),
                ..Default::default()
            });
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("blit to window"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_pipeline(&self.blit);
            pass.set_bind_group(0, &self.offscreen.bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
        self.queue.submit([encoder.finish()]);
        self.queue.present(surface_texture);
        Ok(true)
    }

    /// wgpu errors that no error scope caught, since the device was made.
    pub fn errors(&self) -> Vec<String> {
        if self.error_count.load(Ordering::SeqCst) == 0 {
            return Vec::new();
        }
        self.errors.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Offscreen {
    fn new(device: &wgpu::Device, layout: &wgpu::BindGroupLayout, width: u32, height: u32) -> Self {
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("window frame"),
            size: wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: FORMAT,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                | wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("blit"),
            layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::TextureView(&view),
            }],
        });
        Self {
            texture,
            view,
            bind_group,
        }
    }
}
