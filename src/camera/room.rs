//! A room for the virtual camera (X2, testers): QR stickers where they hang and grey boxes
//! standing for machines, read from a JSON file (`--room room.json`).
//!
//! ```json
//! {
//!   "stickers": [
//!     { "payload": "hologuide://hologuide-demo/g/…?anchor=nameplate", "size_mm": 50,
//!       "position": [0.0, 1.25, -0.9], "rotation_deg": [0, 0, 0] }
//!   ],
//!   "boxes": [
//!     { "position": [0.16, 1.11, -0.99], "size": [0.5, 0.35, 0.2], "shade": 0.45 }
//!   ]
//! }
//! ```
//! Metres, in the app's world frame (+Y up, the floor at y = 0). `rotation_deg` is [x, y, z]:
//! degrees of pitch about +X, yaw about +Y and roll about +Z, the yaw applied first. A sticker's frame is the guide's anchor
//! frame: its centre, +Y towards the code's top edge, +Z out of its face; with no rotation it
//! faces +Z, towards a user at the origin looking along −Z. `size_mm` is the side of the code's
//! modules, without the white margin printed around them (four modules wide).

use std::path::Path;

use glam::{EulerRot, Quat, Vec3};
use serde::Deserialize;
use thiserror::Error;

use crate::scene::Pose;

/// More than any room a tester writes; a file past these is a mistake, refused.
pub const MAX_STICKERS: usize = 64;
pub const MAX_BOXES: usize = 256;
pub const MAX_ROOM_FILE_BYTES: u64 = 1 << 20;
/// White margin around the modules, in modules (the QR standard's quiet zone).
pub const QUIET_MODULES: usize = 4;

#[derive(Debug, Error)]
pub enum RoomError {
    #[error("cannot read the room file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the room file {path} is {bytes} bytes; rooms are at most {MAX_ROOM_FILE_BYTES}")]
    TooBig { path: String, bytes: u64 },
    #[error("the room file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the room has {0} stickers; at most {MAX_STICKERS}")]
    TooManyStickers(usize),
    #[error("the room has {0} boxes; at most {MAX_BOXES}")]
    TooManyBoxes(usize),
    #[error("sticker {index}: {source}")]
    Sticker {
        index: usize,
        #[source]
        source: StickerError,
    },
    #[error("box {index}: {reason}")]
    Box { index: usize, reason: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomFile {
    #[serde(default)]
    stickers: Vec<StickerFile>,
    #[serde(default)]
    boxes: Vec<BoxFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StickerFile {
    payload: String,
    size_mm: f32,
    position: [f32; 3],
    #[serde(default)]
    rotation_deg: [f32; 3],
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BoxFile {
    position: [f32; 3],
    size: [f32; 3],
    #[serde(default)]
    rotation_deg: [f32; 3],
    #[serde(default = "default_shade")]
    shade: f32,
}

fn default_shade() -> f32 {
    0.45
}

#[derive(Debug, Error)]
pub enum StickerError {
    #[error("size {0} mm is not between 1 and 2000")]
    Size(f32),
    #[error("its pose has a number that is not finite")]
    Pose,
    #[error("its payload cannot be a QR code: {0}")]
    Payload(qrcode::types::QrError),
}

/// A printed QR sticker hanging in the room.
#[derive(Debug, Clone)]
pub struct Sticker {
    pub payload: String,
    /// Side of the modules, metres.
    pub size_m: f32,
    pub pose: Pose,
    /// Modules per side, without the quiet zone.
    pub modules: usize,
    /// Row-major, top row first, dark = true.
    pub dark: Vec<bool>,
}

impl Sticker {
    /// A sticker with `payload` encoded at the QR encoder's smallest version, error correction M.
    pub fn new(payload: &str, size_m: f32, pose: Pose) -> Result<Self, StickerError> {
        if !(size_m.is_finite() && (0.001..=2.0).contains(&size_m)) {
            return Err(StickerError::Size(size_m * 1000.0));
        }
        if !pose.is_finite() {
            return Err(StickerError::Pose);
        }
        let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::M)
            .map_err(StickerError::Payload)?;
        Ok(Self {
            payload: payload.to_owned(),
            size_m,
            pose,
            modules: code.width(),
            dark: code
                .to_colors()
                .iter()
                .map(|c| *c == qrcode::Color::Dark)
                .collect(),
        })
    }

    /// The module at (column, row) of the code, counting the quiet zone as light.
    pub fn is_dark(&self, column: isize, row: isize) -> bool {
        let n = self.modules as isize;
        (0..n).contains(&column) && (0..n).contains(&row) && self.dark[(row * n + column) as usize]
    }

    /// Half the printed label's side (modules and quiet zone), metres.
    pub fn label_half_m(&self) -> f32 {
        self.size_m / 2.0 * (self.modules + 2 * QUIET_MODULES) as f32 / self.modules as f32
    }
}

/// A grey box standing for a machine.
#[derive(Debug, Clone, Copy)]
pub struct GreyBox {
    pub pose: Pose,
    pub half_size: Vec3,
    /// Reflectance, 0–1.
    pub shade: f32,
}

#[derive(Debug, Clone, Default)]
pub struct Room {
    pub stickers: Vec<Sticker>,
    pub boxes: Vec<GreyBox>,
}

impl Room {
    pub fn load(path: &Path) -> Result<Self, RoomError> {
        let read = |source| RoomError::Read {
            path: path.display().to_string(),
            source,
        };
        let bytes = std::fs::metadata(path).map_err(read)?.len();
        if bytes > MAX_ROOM_FILE_BYTES {
            return Err(RoomError::TooBig {
                path: path.display().to_string(),
                bytes,
            });
        }
        Self::parse(&std::fs::read_to_string(path).map_err(read)?)
    }

    pub fn parse(text: &str) -> Result<Self, RoomError> {
        let file: RoomFile = serde_json::from_str(text)?;
        if file.stickers.len() > MAX_STICKERS {
            return Err(RoomError::TooManyStickers(file.stickers.len()));
        }
        if file.boxes.len() > MAX_BOXES {
            return Err(RoomError::TooManyBoxes(file.boxes.len()));
        }
        let stickers = file
            .stickers
            .iter()
            .enumerate()
            .map(|(index, s)| {
                Sticker::new(
                    &s.payload,
                    s.size_mm / 1000.0,
                    pose_of(s.position, s.rotation_deg),
                )
                .map_err(|source| RoomError::Sticker {
                    index: index + 1,
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        let boxes = file
            .boxes
            .iter()
            .enumerate()
            .map(|(index, b)| {
                let fail = |reason: &str| RoomError::Box {
                    index: index + 1,
                    reason: reason.to_owned(),
                };
                let size = Vec3::from(b.size);
                if !(size.is_finite() && size.min_element() > 0.0 && size.max_element() <= 100.0) {
                    return Err(fail("its size must be between 0 and 100 m on each side"));
                }
                if !(0.0..=1.0).contains(&b.shade) {
                    return Err(fail("its shade must be between 0 and 1"));
                }
                let pose = pose_of(b.position, b.rotation_deg);
                if !pose.is_finite() {
                    return Err(fail("its pose has a number that is not finite"));
                }
                Ok(GreyBox {
                    pose,
                    half_size: size / 2.0,
                    shade: b.shade,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { stickers, boxes })
    }
}

/// Yaw about +Y, then pitch about +X, then roll about +Z.
fn pose_of(position: [f32; 3], rotation_deg: [f32; 3]) -> Pose {
    let [pitch, yaw, roll] = rotation_deg.map(f32::to_radians);
    Pose {
        position: Vec3::from(position),
        orientation: Quat::from_euler(EulerRot::YXZ, yaw, pitch, roll),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_file_places_stickers_and_boxes() {
        let room = Room::parse(
            r#"{ "stickers": [ { "payload": "hologuide://acme/g/5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d",
                   "size_mm": 50, "position": [0, 1.2, -1], "rotation_deg": [0, 90, 0] } ],
                 "boxes": [ { "position": [0, 0.5, -1.2], "size": [1, 1, 0.4] } ] }"#,
        )
        .expect("a valid room");
        let sticker = &room.stickers[0];
        assert!((sticker.size_m - 0.05).abs() < 1e-6);
        // Yawed a quarter turn: its face (+Z) looks along +X.
        let face = sticker.pose.orientation * Vec3::Z;
        assert!(face.distance(Vec3::X) < 1e-5, "{face}");
        assert_eq!(sticker.dark.len(), sticker.modules * sticker.modules);
        // Finder pattern: the top-left module is dark, the quiet zone light.
        assert!(sticker.is_dark(0, 0) && !sticker.is_dark(-1, 0));
        assert_eq!(room.boxes[0].half_size, Vec3::new(0.5, 0.5, 0.2));
        assert!((room.boxes[0].shade - 0.45).abs() < 1e-6);
    }

    #[test]
    fn a_bad_room_file_says_what_is_wrong() {
        let err = |text: &str| Room::parse(text).expect_err("invalid").to_string();
        assert!(err("{").contains("not valid"));
        assert!(
            err(r#"{"stickers": [{"payload": "x", "size_mm": 0, "position": [0,0,0]}]}"#)
                .contains("sticker 1: size 0 mm")
        );
        let long = "x".repeat(3000);
        assert!(
            err(&format!(
                r#"{{"stickers": [{{"payload": "{long}", "size_mm": 50, "position": [0,0,0]}}]}}"#
            ))
            .contains("cannot be a QR code")
        );
        assert!(err(r#"{"boxes": [{"position": [0,0,0], "size": [1,-1,1]}]}"#).contains("box 1"));
        assert!(err(r#"{"walls": []}"#).contains("unknown field"));
    }
}
