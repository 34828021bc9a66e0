//! QR codes in camera frames (X2): a grayscale frame in, every code found out.
//!
//! Finder patterns are found and grouped by `quircs`' identification, vendored in `identify`
//! (its licence kept there) so that its costly grid refinement runs only for a grid whose first
//! read failed; everything else is ours, each piece measured with `hologuide bench qr`: the
//! frame read where it lies (no copy at scale 1) and first at half size when large, local
//! thresholds from an integral image besides quircs' global Otsu, several scales, both
//! polarities, a white border so codes touching the frame edge keep a quiet zone, found codes
//! erased and the frame searched again, our own grouping of finder patterns quircs left over,
//! re-reads of a grid that did not decode (from the grey image, on an affine grid through the
//! finders, a homography through the alignment pattern, a grid bent through every alignment
//! pattern; each also mirrored), a whole-frame read for tight crops, our own error correction and
//! segment decoding (`symbol`, `reed_solomon`, `segments`), so FNC1, Hanzi, structured append and
//! per-segment charsets come out right and small symbols keep their misdecode protection, and
//! corners measured from the finder patterns' edges on the full-resolution frame (`corners`),
//! precise enough for an anchor pose.
//!
//! Pure: no I/O besides [`file`] (reading photos for the CLI, benchmark and tests) and
//! [`corpus`] (the benchmark corpus manifest).

mod binarize;
pub(crate) mod corners;
pub mod corpus;
mod detector;
pub mod file;
mod found;
pub(crate) mod grid;
mod group;
mod identify;
mod reed_solomon;
mod segments;
mod symbol;
mod warp;

#[cfg(test)]
mod sweep_tests;
#[cfg(test)]
mod synth;
#[cfg(test)]
mod tests;

pub use detector::Decoder;
pub use segments::Payload;

/// Raw codewords of a `version` (1..=40) symbol at `ecc`, in placement order, to its payload:
/// de-interleaving, Reed-Solomon correction and segment decoding, as a camera read does after
/// sampling the modules. `None` when they do not decode. Public for the fuzz target (issue 22),
/// which reaches these parsers here without having to draw a valid symbol.
pub fn decode_codewords(version: u8, ecc: EccLevel, raw: &[u8]) -> Option<Payload> {
    let version = usize::from(version);
    if !(1..=40).contains(&version) {
        return None;
    }
    let data = symbol::correct(version, ecc, raw).ok()?;
    segments::parse(&data, version).ok()
}

/// A `version` symbol's corrected data codewords to its payload (segment decoding only).
/// Public for the fuzz target (issue 22): codewords that pass Reed-Solomon correction are out of
/// reach of mutated bytes, so the segment parser is fuzzed on its own as well.
pub fn parse_segments(version: u8, data: &[u8]) -> Option<Payload> {
    let version = usize::from(version);
    if !(1..=40).contains(&version) {
        return None;
    }
    segments::parse(data, version).ok()
}

/// Frames above this many pixels are refused: a frame this large is a mistake, not a camera.
pub const MAX_FRAME_PIXELS: usize = 100_000_000;

/// Why a frame cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QrError {
    #[error("frame is empty ({width}x{height})")]
    EmptyFrame { width: usize, height: usize },
    #[error("frame stride {stride} is smaller than its width {width}")]
    StrideTooSmall { width: usize, stride: usize },
    #[error(
        "frame buffer holds {len} bytes but {width}x{height} with stride {stride} needs {needed}"
    )]
    BufferTooShort {
        len: usize,
        needed: usize,
        width: usize,
        height: usize,
        stride: usize,
    },
    #[error("frame {width}x{height} is larger than {MAX_FRAME_PIXELS} pixels")]
    FrameTooLarge { width: usize, height: usize },
}

/// A borrowed 8-bit grey frame: row `y` starts at `y * stride`. The Y plane of an NV12 camera
/// frame is one as it is.
#[derive(Debug, Clone, Copy)]
pub struct GrayFrame<'a> {
    pixels: &'a [u8],
    width: usize,
    height: usize,
    stride: usize,
    /// Grey proportional to light (a synthetic render) rather than gamma-encoded as cameras and
    /// image files store it; the corners' edges are measured on light.
    linear_light: bool,
}

impl<'a> GrayFrame<'a> {
    /// The same frame, its grey proportional to light (no camera's gamma in it).
    pub fn with_linear_light(mut self) -> Self {
        self.linear_light = true;
        self
    }

    pub fn linear_light(&self) -> bool {
        self.linear_light
    }

    /// Checks that `pixels` holds `height` rows of `width` bytes, `stride` bytes apart (the last
    /// row may be short of the padding).
    pub fn new(
        pixels: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
    ) -> Result<Self, QrError> {
        if width == 0 || height == 0 {
            return Err(QrError::EmptyFrame { width, height });
        }
        if stride < width {
            return Err(QrError::StrideTooSmall { width, stride });
        }
        if width
            .checked_mul(height)
            .is_none_or(|n| n > MAX_FRAME_PIXELS)
        {
            return Err(QrError::FrameTooLarge { width, height });
        }
        let needed = stride
            .checked_mul(height - 1)
            .and_then(|n| n.checked_add(width))
            .ok_or(QrError::FrameTooLarge { width, height })?;
        if pixels.len() < needed {
            return Err(QrError::BufferTooShort {
                len: pixels.len(),
                needed,
                width,
                height,
                stride,
            });
        }
        Ok(Self {
            pixels,
            width,
            height,
            stride,
            linear_light: false,
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    fn row(&self, y: usize) -> &'a [u8] {
        &self.pixels[y * self.stride..y * self.stride + self.width]
    }
}

/// Error correction level of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum EccLevel {
    L,
    M,
    Q,
    H,
}

/// A point in frame pixels (x right, y down; pixel centres at .5).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// One decoded code.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Detection {
    /// The payload as encoded: the concatenated segment bytes (Kanji segments as Shift_JIS).
    pub payload: Vec<u8>,
    /// The payload as text: each segment in the charset its ECI names; bytes without an ECI in
    /// the charset guessed from them (UTF-8, Shift_JIS or ISO-8859-1, by ZXing's rules).
    pub text: String,
    /// 1..=40.
    pub version: u8,
    pub ecc: EccLevel,
    /// The symbol's top-left, top-right, bottom-right and bottom-left corners (outer edge of the
    /// modules, in the symbol's own orientation), in frame pixels.
    pub corners: [Point; 4],
    /// The code was read as its mirror image (printed or seen through glass reversed).
    pub mirrored: bool,
    /// The code is light modules on a dark ground.
    pub inverted: bool,
}

/// Decodes every code in `frame` with a fresh [`Decoder`]; keep a `Decoder` to reuse its buffers.
pub fn decode(frame: &GrayFrame<'_>) -> Vec<Detection> {
    Decoder::new().decode(frame)
}
