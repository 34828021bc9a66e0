//! A wgpu device of our own (headless backend, tests, benchmarks) and reading images back.
//!
//! The OpenXR backend does not use this: it creates the device through the runtime and hands
//! the renderer its swapchain images.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::RenderError;

/// The colour format of offscreen targets (an sRGB format, as OpenXR swapchains are).
pub const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

/// A device with an uncaptured-error handler that records errors instead of panicking
/// (wgpu's default handler panics).
pub struct Gpu {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    uncaptured: Arc<Mutex<Vec<String>>>,
    uncaptured_count: Arc<AtomicUsize>,
}

impl Gpu {
    /// The first Vulkan adapter (lavapipe on machines without a GPU).
    pub fn headless() -> Result<Self, RenderError> {
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        descriptor.backends = wgpu::Backends::VULKAN;
        let instance = wgpu::Instance::new(descriptor);
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        }))
        .map_err(|e| RenderError::NoAdapter(e.to_string()))?;
        // Multiview lets the renderer draw both eyes in one pass; it is optional.
        let features = adapter.features() & wgpu::Features::MULTIVIEW;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("hologuide device"),
            required_features: features,
            required_limits: wgpu::Limits {
                max_multiview_view_count: adapter.limits().max_multiview_view_count.min(2),
                ..wgpu::Limits::default().using_resolution(adapter.limits())
            },
            ..Default::default()
        }))
        .map_err(|e| RenderError::NoDevice(e.to_string()))?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let uncaptured_count = Arc::new(AtomicUsize::new(0));
        let (list, count) = (uncaptured.clone(), uncaptured_count.clone());
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            tracing::error!("wgpu: {error}");
            count.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut list) = list.lock() {
                list.push(error.to_string());
            }
        }));
        Ok(Self {
            adapter,
            device,
            queue,
            uncaptured,
            uncaptured_count,
        })
    }

    /// "llvmpipe (LLVM 15.0.6, 256 bits) on Vulkan".
    pub fn describe(&self) -> String {
        let info = self.adapter.get_info();
        format!("{} on {:?} ({})", info.name, info.backend, info.driver_info)
    }

    /// wgpu errors no error scope caught, since the device was made.
    pub fn uncaptured_errors(&self) -> Vec<String> {
        if self.uncaptured_count.load(Ordering::SeqCst) == 0 {
            return Vec::new();
        }
        self.uncaptured
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }
}

/// An RGBA8 texture the renderer can draw into and that can be read back.
pub fn offscreen_target(
    device: &wgpu::Device,
    width: u32,
    height: u32,
    layers: u32,
    format: wgpu::TextureFormat,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some("offscreen eye"),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: layers,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    })
}

/// Copies one layer of a 4-byte-per-pixel texture into memory (tightly packed rows).
pub fn read_rgba(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    texture: &wgpu::Texture,
    layer: u32,
) -> Result<image::RgbaImage, RenderError> {
    let (width, height) = (texture.width(), texture.height());
    let row = width * 4;
    let padded =
        row.div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: u64::from(padded) * u64::from(height),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("readback"),
    });
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d {
                x: 0,
                y: 0,
                z: layer,
            },
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded),
                rows_per_image: Some(height),
            },
        },
        wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
    );
    queue.submit([encoder.finish()]);
    let slice = buffer.slice(..);
    let (sender, receiver) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |result| {
        let _ = sender.send(result);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| RenderError::Readback(e.to_string()))?;
    receiver
        .recv()
        .map_err(|e| RenderError::Readback(e.to_string()))?
        .map_err(|e| RenderError::Readback(e.to_string()))?;
    let mapped = slice
        .get_mapped_range()
        .map_err(|e| RenderError::Readback(e.to_string()))?;
    let mut pixels = Vec::with_capacity((row * height) as usize);
    for y in 0..height as usize {
        let start = y * padded as usize;
        pixels.extend_from_slice(&mapped[start..start + row as usize]);
    }
    drop(mapped);
    buffer.unmap();
    image::RgbaImage::from_raw(width, height, pixels)
        .ok_or_else(|| RenderError::Readback("image size mismatch".into()))
}
