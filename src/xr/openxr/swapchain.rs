//! The stereo swapchains: one 2-layer image per slot (layer = eye), each wrapped once as a
//! `wgpu::Texture` through the graphics binding, for colour and (with
//! `XR_KHR_composition_layer_depth`) depth; and the capture of the left eye for tests.

use openxr as xr;

use super::binding::{GraphicsBinding, ImageUse};
use super::{Capture, XrError};
use crate::render::gpu;

pub(super) struct Swapchain<B: GraphicsBinding> {
    pub(super) handle: xr::Swapchain<B::Api>,
    pub(super) textures: Vec<wgpu::Texture>,
    /// Per image: one view per eye (layer), and the 2-layer view for multiview.
    pub(super) eye_views: Vec<[wgpu::TextureView; 2]>,
    pub(super) layered_views: Vec<wgpu::TextureView>,
    pub(super) width: u32,
    pub(super) height: u32,
}

pub(super) fn create_swapchain<B: GraphicsBinding>(
    session: &xr::Session<B::Api>,
    graphics: &B,
    format: <B::Api as xr::Graphics>::Format,
    wgpu_format: wgpu::TextureFormat,
    (width, height): (u32, u32),
    usage: ImageUse,
) -> Result<Swapchain<B>, XrError> {
    let handle = session
        .create_swapchain(&xr::SwapchainCreateInfo {
            create_flags: xr::SwapchainCreateFlags::EMPTY,
            usage_flags: usage.swapchain_usage(),
            format,
            sample_count: 1,
            width,
            height,
            face_count: 1,
            array_size: 2,
            mip_count: 1,
        })
        .map_err(|e| XrError::call("xrCreateSwapchain", e))?;
    let images = handle
        .enumerate_images()
        .map_err(|e| XrError::call("xrEnumerateSwapchainImages", e))?;
    let mut textures = Vec::with_capacity(images.len());
    for image in images {
        // SAFETY: the image belongs to `handle`, created above with this format, size, two
        // layers and `usage`'s attachment + transfer-source usage; the textures are dropped
        // before the swapchain (field order of `Swapchain`, and `run_session`'s clean-up).
        textures
            .push(unsafe { graphics.wrap_image(image, wgpu_format, (width, height, 2), usage)? });
    }
    let eye_views = textures
        .iter()
        .map(|t| {
            [0, 1].map(|layer| {
                t.create_view(&wgpu::TextureViewDescriptor {
                    label: Some("XR eye"),
                    dimension: Some(wgpu::TextureViewDimension::D2),
                    base_array_layer: layer,
                    array_layer_count: Some(1),
                    ..Default::default()
                })
            })
        })
        .collect();
    let layered_views = textures
        .iter()
        .map(|t| {
            t.create_view(&wgpu::TextureViewDescriptor {
                label: Some("XR both eyes"),
                dimension: Some(wgpu::TextureViewDimension::D2Array),
                ..Default::default()
            })
        })
        .collect();
    Ok(Swapchain {
        handle,
        textures,
        eye_views,
        layered_views,
        width,
        height,
    })
}

/// Copies layer 0 (the left eye) of the swapchain image to a PNG, then puts the image back in
/// the colour-attachment layout the runtime expects at release (an empty load/store pass).
pub(super) fn capture_left_eye<B: GraphicsBinding>(
    graphics: &B,
    texture: &wgpu::Texture,
    format: wgpu::TextureFormat,
    per_eye: &[&wgpu::TextureView],
    capture: &Capture,
) -> Result<(), XrError> {
    let fail = |reason: String| XrError::Capture {
        frame: capture.frame,
        path: capture.out.clone(),
        reason,
    };
    let mut image = gpu::read_rgba(graphics.device(), graphics.queue(), texture, 0)
        .map_err(|e| fail(e.to_string()))?;
    if format == wgpu::TextureFormat::Bgra8UnormSrgb {
        for pixel in image.pixels_mut() {
            pixel.0.swap(0, 2);
        }
    }
    if let Some(parent) = capture.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
    }
    image.save(&capture.out).map_err(|e| fail(e.to_string()))?;
    let mut encoder = graphics
        .device()
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("back to colour attachment"),
        });
    for view in per_eye {
        encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("back to colour attachment"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Load,
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
    }
    graphics.queue().submit([encoder.finish()]);
    tracing::info!(
        "captured frame {} to {}",
        capture.frame,
        capture.out.display()
    );
    Ok(())
}

/// Copies layer 0 (the left eye) of the depth swapchain image to a 16-bit grey PNG beside the
/// colour capture (`…-depth.png`, 0 = near plane, 65535 = far plane or nothing drawn), then
/// puts the image back in the depth-attachment layout the runtime expects at release.
pub(super) fn capture_left_depth<B: GraphicsBinding>(
    graphics: &B,
    texture: &wgpu::Texture,
    per_eye: &[&wgpu::TextureView],
    capture: &Capture,
) -> Result<std::path::PathBuf, XrError> {
    let out = depth_capture_path(&capture.out);
    let fail = |reason: String| XrError::Capture {
        frame: capture.frame,
        path: out.clone(),
        reason,
    };
    // Depth32Float texels come back as 4 little-endian bytes per "RGBA" pixel.
    let raw = gpu::read_rgba(graphics.device(), graphics.queue(), texture, 0)
        .map_err(|e| fail(e.to_string()))?;
    let grey = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(
        raw.width(),
        raw.height(),
        |x, y| {
            let depth = f32::from_le_bytes(raw.get_pixel(x, y).0);
            image::Luma([(depth.clamp(0.0, 1.0) * 65535.0).round() as u16])
        },
    );
    grey.save(&out).map_err(|e| fail(e.to_string()))?;
    let mut encoder = graphics
        .device()
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("back to depth attachment"),
        });
    for view in per_eye {
        encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("back to depth attachment"),
            color_attachments: &[],
            depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                view,
                depth_ops: Some(wgpu::Operations {
                    load: wgpu::LoadOp::Load,
                    store: wgpu::StoreOp::Store,
                }),
                stencil_ops: None,
            }),
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
    }
    graphics.queue().submit([encoder.finish()]);
    tracing::info!(
        "captured the depth of frame {} to {}",
        capture.frame,
        out.display()
    );
    Ok(out)
}

/// `shot.png` → `shot-depth.png`, in the same folder.
pub fn depth_capture_path(colour: &std::path::Path) -> std::path::PathBuf {
    let stem = colour
        .file_stem()
        .map_or_else(|| "capture".into(), |s| s.to_string_lossy().into_owned());
    colour.with_file_name(format!("{stem}-depth.png"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_depth_capture_sits_beside_the_colour_capture() {
        assert_eq!(
            depth_capture_path(std::path::Path::new("out/frame.png")),
            std::path::Path::new("out/frame-depth.png")
        );
        assert_eq!(
            depth_capture_path(std::path::Path::new("shot")),
            std::path::Path::new("shot-depth.png")
        );
    }
}
