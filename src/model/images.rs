//! Texture images: decoded to RGBA8 and scaled down when larger than the device allows.

use super::Texture;

/// Decodes PNG, JPEG or WebP bytes. Larger than `max_dimension` on a side: scaled down, with a
/// warning pushed to `warnings`.
pub(super) fn decode(
    bytes: &[u8],
    max_dimension: u32,
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<Texture, String> {
    let format = image::guess_format(bytes).map_err(|e| format!("{what}: {e}"))?;
    if !matches!(
        format,
        image::ImageFormat::Png | image::ImageFormat::Jpeg | image::ImageFormat::WebP
    ) {
        return Err(format!(
            "{what}: {format:?} images are not supported (PNG, JPEG, WebP are)"
        ));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    // Refuse decompression bombs before allocating: 16k × 16k is the most any device offers.
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16384);
    limits.max_image_height = Some(16384);
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let mut decoded = reader.decode().map_err(|e| format!("{what}: {e}"))?;
    let (w, h) = (decoded.width(), decoded.height());
    if w == 0 || h == 0 {
        return Err(format!("{what}: the image is empty"));
    }
    if w.max(h) > max_dimension {
        let scale = max_dimension as f32 / w.max(h) as f32;
        let (nw, nh) = (
            ((w as f32 * scale) as u32).max(1),
            ((h as f32 * scale) as u32).max(1),
        );
        warnings.push(format!(
            "{what}: {w}×{h} is larger than the device's {max_dimension} limit; scaled down to {nw}×{nh}"
        ));
        decoded = decoded.resize_exact(nw, nh, image::imageops::FilterType::Triangle);
    }
    let rgba = decoded.into_rgba8();
    Ok(Texture {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
        sampler: Default::default(),
    })
}
