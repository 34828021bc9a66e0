//! Texture images: decoded to RGBA8 and scaled down when larger than the device allows.

use super::Texture;

/// The 12-byte KTX2 identifier.
const KTX2_MAGIC: [u8; 12] = [
    0xAB, 0x4B, 0x54, 0x58, 0x20, 0x32, 0x30, 0xBB, 0x0D, 0x0A, 0x1A, 0x0A,
];

/// Decodes PNG, JPEG or WebP bytes. Larger than `max_dimension` on a side: scaled down, with a
/// warning pushed to `warnings`. Public (as `model::decode_texture`) for the fuzz target
/// (issue 22), which decodes images exactly as a model's textures are.
pub fn decode(
    bytes: &[u8],
    max_dimension: u32,
    what: &str,
    warnings: &mut Vec<String>,
) -> Result<Texture, String> {
    if bytes.starts_with(&KTX2_MAGIC) {
        // basis-universal 0.3.1's UASTC transcoder crashed (SIGSEGV) on the corpus' KTX2 files;
        // until a sound transcoder is in, such textures are left out with this message.
        return Err(format!(
            "{what}: KTX2 (Basis Universal) textures are not supported yet"
        ));
    }
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
    let decoded = reader.decode().map_err(|e| format!("{what}: {e}"))?;
    if decoded.width() == 0 || decoded.height() == 0 {
        return Err(format!("{what}: the image is empty"));
    }
    Ok(fit(decoded, max_dimension, what, warnings))
}

/// Scales an image down to `max_dimension` on its longer side (with a warning) and makes it RGBA8.
fn fit(
    mut decoded: image::DynamicImage,
    max_dimension: u32,
    what: &str,
    warnings: &mut Vec<String>,
) -> Texture {
    let (w, h) = (decoded.width(), decoded.height());
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
    Texture {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
        sampler: Default::default(),
    }
}
