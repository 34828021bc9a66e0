//! Pictures of a step (its `media`, PNG, JPEG or WebP): decoded once per path, uploaded as a
//! texture, and drawn as a quad with the panels' own pipeline over the panel that frames them,
//! fitted into their box with the aspect kept. A picture that cannot be read or decoded is
//! remembered as broken and reported once; the rest of the frame draws.

use std::collections::HashMap;

use glam::Vec2;

use super::{AssetReader, PANEL_FORMAT, Stats};
use crate::scene::PictureInstance;

/// Longest side a picture is uploaded with: a card's picture is about 0.3 m wide at 1.3 m,
/// some 750 pixels on a HoloLens 2 display, so more would only cost memory.
pub const MAX_PICTURE_DIMENSION: u32 = 1024;

enum Loaded {
    Ready {
        bind_group: wgpu::BindGroup,
        width: u32,
        height: u32,
    },
    Broken,
}

pub(super) struct Pictures {
    loaded: HashMap<String, Loaded>,
    sampler: wgpu::Sampler,
    bytes: u64,
}

impl Pictures {
    pub fn new(sampler: wgpu::Sampler) -> Self {
        Self {
            loaded: HashMap::new(),
            sampler,
            bytes: 0,
        }
    }

    /// Another guide is shown: its files may reuse the last one's paths.
    pub fn forget(&mut self) {
        self.loaded.clear();
        self.bytes = 0;
    }

    /// Texture bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The picture at `path`, loaded and uploaded the first time it is asked for: its bind
    /// group and its size in pixels, or `None` when it is broken.
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        layout: &wgpu::BindGroupLayout,
        path: &str,
        read: &AssetReader<'_>,
        stats: &mut Stats,
    ) -> Option<(&wgpu::BindGroup, u32, u32)> {
        if !self.loaded.contains_key(path) {
            let loaded = match load(path, read) {
                Ok(texture) => {
                    self.bytes += texture.rgba.len() as u64;
                    self.upload(device, queue, layout, &texture, stats)
                }
                Err(reason) => {
                    tracing::error!("picture not shown: {reason}");
                    Loaded::Broken
                }
            };
            self.loaded.insert(path.to_owned(), loaded);
        }
        match self.loaded.get(path) {
            Some(Loaded::Ready {
                bind_group,
                width,
                height,
            }) => Some((bind_group, *width, *height)),
            _ => None,
        }
    }

    /// Prepares every picture of a frame; `sizes` gets, for each, its size fitted into its
    /// box, or `None` when it is broken (kept by the caller between frames: no allocation once
    /// warm).
    #[allow(clippy::too_many_arguments)]
    pub fn prepare_frame(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        layout: &wgpu::BindGroupLayout,
        pictures: &[PictureInstance],
        read: &AssetReader<'_>,
        stats: &mut Stats,
        sizes: &mut Vec<Option<Vec2>>,
    ) {
        sizes.clear();
        for picture in pictures {
            let size = self
                .prepare(device, queue, layout, &picture.asset, read, stats)
                .map(|(_, width, height)| fitted(picture.size, width, height));
            sizes.push(size);
        }
    }

    /// The bind group of a picture already prepared and not broken.
    pub fn bind_group(&self, path: &str) -> Option<&wgpu::BindGroup> {
        match self.loaded.get(path) {
            Some(Loaded::Ready { bind_group, .. }) => Some(bind_group),
            _ => None,
        }
    }

    fn upload(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        layout: &wgpu::BindGroupLayout,
        texture: &crate::model::Texture,
        stats: &mut Stats,
    ) -> Loaded {
        let size = wgpu::Extent3d {
            width: texture.width,
            height: texture.height,
            depth_or_array_layers: 1,
        };
        let gpu = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("picture"),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: PANEL_FORMAT,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &gpu,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            &texture.rgba,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * texture.width),
                rows_per_image: Some(texture.height),
            },
            size,
        );
        let view = gpu.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group =
            super::panels::face_bind_group(device, layout, &view, &self.sampler, "picture");
        stats.gpu_allocations += 2;
        Loaded::Ready {
            bind_group,
            width: texture.width,
            height: texture.height,
        }
    }
}

/// Reads and decodes a picture as a model's textures are decoded (same formats, same limits
/// against decompression bombs), scaled down to [`MAX_PICTURE_DIMENSION`].
fn load(path: &str, read: &AssetReader<'_>) -> Result<crate::model::Texture, String> {
    let bytes = read(path).map_err(|e| format!("{path}: {e}"))?;
    let mut scaled = Vec::new();
    let texture = crate::model::decode_texture(&bytes, MAX_PICTURE_DIMENSION, path, &mut scaled)?;
    for note in scaled {
        tracing::debug!("{note}");
    }
    Ok(texture)
}

/// The size of a `width` × `height` picture fitted into `bounds`, its aspect kept.
pub fn fitted(bounds: Vec2, width: u32, height: u32) -> Vec2 {
    let aspect = width.max(1) as f32 / height.max(1) as f32;
    if aspect > bounds.x / bounds.y {
        Vec2::new(bounds.x, bounds.x / aspect)
    } else {
        Vec2::new(bounds.y * aspect, bounds.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_is_fitted_into_its_box_with_its_aspect_kept() {
        let bounds = Vec2::new(0.30, 0.24);
        assert_eq!(fitted(bounds, 400, 200), Vec2::new(0.30, 0.15), "wide");
        assert_eq!(fitted(bounds, 100, 200), Vec2::new(0.12, 0.24), "tall");
        let square = fitted(bounds, 500, 500);
        assert!((square - Vec2::new(0.24, 0.24)).abs().max_element() < 1e-6);
        assert!(
            fitted(bounds, 0, 0).is_finite(),
            "an empty picture is refused earlier"
        );
    }
}
