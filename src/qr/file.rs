//! Photos from files as grey frames, for `qr decode`, `bench qr` and the corpus tests.

use std::path::Path;

use super::{GrayFrame, MAX_FRAME_PIXELS, QrError};

/// Image files larger than this are refused before reading (no camera frame is this big).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImageFileError {
    #[error("cannot read the file")]
    Read(#[source] std::io::Error),
    #[error("the file is empty")]
    Empty,
    #[error("the file is {bytes} bytes, more than the {MAX_FILE_BYTES} accepted")]
    FileTooLarge { bytes: u64 },
    #[error("not an image this program reads (PNG, JPEG, WebP)")]
    UnknownFormat,
    #[error("cannot decode the image")]
    Decode(#[source] image::ImageError),
    #[error(transparent)]
    Frame(#[from] QrError),
}

/// An owned 8-bit grey image.
#[derive(Debug, Clone)]
pub struct GrayImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl GrayImage {
    pub fn frame(&self) -> Result<GrayFrame<'_>, QrError> {
        GrayFrame::new(&self.pixels, self.width, self.height, self.width)
    }
}

/// Reads a PNG, JPEG or WebP file as grey (colour images by luma).
pub fn load_gray(path: &Path) -> Result<GrayImage, ImageFileError> {
    let bytes = std::fs::metadata(path).map_err(ImageFileError::Read)?.len();
    if bytes > MAX_FILE_BYTES {
        return Err(ImageFileError::FileTooLarge { bytes });
    }
    let data = std::fs::read(path).map_err(ImageFileError::Read)?;
    decode_gray(&data)
}

/// Decodes PNG, JPEG or WebP bytes as grey.
pub fn decode_gray(data: &[u8]) -> Result<GrayImage, ImageFileError> {
    if data.is_empty() {
        return Err(ImageFileError::Empty);
    }
    let format = image::guess_format(data).map_err(|_| ImageFileError::UnknownFormat)?;
    if !matches!(
        format,
        image::ImageFormat::Png | image::ImageFormat::Jpeg | image::ImageFormat::WebP
    ) {
        return Err(ImageFileError::UnknownFormat);
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(data), format);
    reader.limits(decode_limits());
    let (width, height) = reader.into_dimensions().map_err(ImageFileError::Decode)?;
    let (width, height) = (width as usize, height as usize);
    // Checked before decoding, so a huge declared size costs nothing.
    if width.saturating_mul(height) > MAX_FRAME_PIXELS {
        return Err(QrError::FrameTooLarge { width, height }.into());
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(data), format);
    reader.limits(decode_limits());
    let image = reader.decode().map_err(ImageFileError::Decode)?;
    let gray = image.to_luma8();
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let image = GrayImage {
        width: w,
        height: h,
        pixels: gray.into_raw(),
    };
    image.frame()?;
    Ok(image)
}

/// Caps what a decoder may allocate, so a crafted file cannot exhaust memory.
fn decode_limits() -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(1024 * 1024 * 1024);
    limits
}
