//! Photos a step asks for (N6): the camera frame the decoder thread takes next after the
//! operator pressed "Take photo", encoded as a JPEG off the frame loop. The app records its
//! digest; the device keeps the bytes in its encrypted cache and uploads them before the record
//! that names them.

use sha2::{Digest, Sha256};

use super::CameraFrame;

/// JPEG quality: enough to read a nameplate, about 100 KB for a 1280×720 grey frame.
const QUALITY: u8 = 85;

/// A photo taken, as the app and the device see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub jpeg: Vec<u8>,
    /// Lower-case hex of the JPEG's SHA-256: how the record names it.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("the camera frame does not match its size ({width}×{height}, stride {stride})")]
    BadFrame {
        width: usize,
        height: usize,
        stride: usize,
    },
    #[error("the photo could not be encoded: {0}")]
    Encode(#[from] image::ImageError),
    #[error("{0}")]
    Unreadable(String),
}

/// A photo from a picture file (PNG, JPEG or WebP, read as a model's textures are, within the
/// same limits), in grey as the camera's photos, at most `MAX_SIDE` pixels on a side.
pub fn from_picture(bytes: &[u8], what: &str) -> Result<Photo, PhotoError> {
    const MAX_SIDE: u32 = 1920;
    let mut scaled = Vec::new();
    let picture = crate::model::decode_texture(bytes, MAX_SIDE, what, &mut scaled)
        .map_err(PhotoError::Unreadable)?;
    let rgba = image::RgbaImage::from_raw(picture.width, picture.height, picture.rgba)
        .ok_or_else(|| PhotoError::Unreadable(format!("{what}: the picture is damaged")))?;
    let grey = image::DynamicImage::ImageRgba8(rgba).into_luma8();
    let (width, height) = (grey.width() as usize, grey.height() as usize);
    encode(&CameraFrame {
        pixels: grey.into_raw(),
        width,
        height,
        stride: width,
        captured_at: std::time::Duration::ZERO,
        intrinsics: super::Intrinsics::from_hfov(width, height, super::DEFAULT_HFOV_DEG),
        camera_from_head: crate::scene::Pose::IDENTITY,
        head: None,
    })
}

/// The frame as a grey JPEG.
pub fn encode(frame: &CameraFrame) -> Result<Photo, PhotoError> {
    let bad = || PhotoError::BadFrame {
        width: frame.width,
        height: frame.height,
        stride: frame.stride,
    };
    let (width, height) = (
        u32::try_from(frame.width).map_err(|_| bad())?,
        u32::try_from(frame.height).map_err(|_| bad())?,
    );
    if frame.width == 0 || frame.height == 0 || frame.stride < frame.width {
        return Err(bad());
    }
    let needed = (frame.height - 1) * frame.stride + frame.width;
    if frame.pixels.len() < needed {
        return Err(bad());
    }
    let mut rows = Vec::with_capacity(frame.width * frame.height);
    for y in 0..frame.height {
        let start = y * frame.stride;
        rows.extend_from_slice(&frame.pixels[start..start + frame.width]);
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, QUALITY).encode(
        &rows,
        width,
        height,
        image::ExtendedColorType::L8,
    )?;
    Ok(Photo {
        sha256: hex::encode(Sha256::digest(&jpeg)),
        jpeg,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::Intrinsics;
    use crate::scene::Pose;

    fn frame(width: usize, height: usize, stride: usize, len: usize) -> CameraFrame {
        CameraFrame {
            pixels: (0..len).map(|i| (i % 251) as u8).collect(),
            width,
            height,
            stride,
            captured_at: std::time::Duration::ZERO,
            intrinsics: Intrinsics::from_hfov(width, height, 60.0),
            camera_from_head: Pose::IDENTITY,
            head: None,
        }
    }

    #[test]
    fn a_frame_becomes_a_grey_jpeg_named_by_its_digest() {
        let photo = encode(&frame(64, 48, 80, 80 * 48)).expect("encodes");
        assert_eq!((photo.width, photo.height), (64, 48));
        assert!(photo.jpeg.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
        assert_eq!(photo.sha256, hex::encode(Sha256::digest(&photo.jpeg)));
        let decoded = image::load_from_memory(&photo.jpeg).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), (64, 48));
    }

    #[test]
    fn a_picture_file_becomes_a_grey_jpeg_and_garbage_says_what_it_is() {
        let picture =
            image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90]));
        let mut png = std::io::Cursor::new(Vec::new());
        picture.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let photo = from_picture(png.get_ref(), "seal.png").expect("a photo");
        assert_eq!((photo.width, photo.height), (40, 30));
        let error = from_picture(b"not a picture", "notes.txt").expect_err("refused");
        assert!(error.to_string().starts_with("notes.txt: "), "{error}");
    }

    #[test]
    fn a_frame_shorter_than_its_size_says_so() {
        let error = encode(&frame(64, 48, 64, 100)).expect_err("too short");
        assert!(error.to_string().contains("64×48"), "{error}");
    }
}
