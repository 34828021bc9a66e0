//! A folder of photos as a camera (`--camera files:DIR`): its PNG, JPEG and WebP images in
//! name order, looped, at a fixed rate, with given intrinsics (else [`DEFAULT_HFOV_DEG`] across
//! each image). For replaying real photos of stickers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{CameraError, CameraFrame, CameraSource, DEFAULT_HFOV_DEG, Intrinsics};
use crate::qr::file::load_gray;
use crate::scene::Pose;

pub struct ImageFiles {
    paths: Vec<PathBuf>,
    intrinsics: Option<Intrinsics>,
    period: Duration,
    frames: u32,
}

impl ImageFiles {
    /// The images in `dir`, shown one per `period`.
    pub fn open(
        dir: &Path,
        intrinsics: Option<Intrinsics>,
        period: Duration,
    ) -> Result<Self, CameraError> {
        let entries = std::fs::read_dir(dir).map_err(|source| CameraError::ReadDir {
            dir: dir.display().to_string(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        if paths.is_empty() {
            return Err(CameraError::NoImages {
                dir: dir.display().to_string(),
            });
        }
        paths.sort();
        Ok(Self {
            paths,
            intrinsics,
            period,
            frames: 0,
        })
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["png", "jpg", "jpeg", "webp"]
            .iter()
            .any(|known| e.eq_ignore_ascii_case(known))
    })
}

impl CameraSource for ImageFiles {
    fn next_frame(&mut self) -> Result<CameraFrame, CameraError> {
        let path = &self.paths[self.frames as usize % self.paths.len()];
        let image = load_gray(path).map_err(|source| CameraError::Image {
            path: path.display().to_string(),
            source,
        })?;
        let captured_at = self.period * self.frames;
        self.frames = self.frames.wrapping_add(1);
        Ok(CameraFrame {
            intrinsics: self.intrinsics.unwrap_or_else(|| {
                Intrinsics::from_hfov(image.width, image.height, DEFAULT_HFOV_DEG)
            }),
            stride: image.width,
            width: image.width,
            height: image.height,
            pixels: image.pixels,
            captured_at,
            camera_from_head: Pose::IDENTITY,
            head: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, width: u32, height: u32, value: u8) {
        image::GrayImage::from_pixel(width, height, image::Luma([value]))
            .save(path)
            .expect("a temp file");
    }

    #[test]
    fn a_folder_of_photos_is_replayed_in_name_order_and_looped() {
        let dir = tempfile::tempdir().expect("a temp dir");
        write_png(&dir.path().join("b.png"), 4, 2, 200);
        write_png(&dir.path().join("a.png"), 8, 6, 10);
        std::fs::write(dir.path().join("notes.txt"), "not an image").expect("a temp file");
        let mut camera =
            ImageFiles::open(dir.path(), None, Duration::from_millis(100)).expect("two photos");
        assert_eq!(camera.len(), 2);
        let sizes: Vec<(usize, usize, u8, Duration)> = (0..3)
            .map(|_| {
                let f = camera.next_frame().expect("a frame");
                (f.width, f.height, f.pixels[0], f.captured_at)
            })
            .collect();
        assert_eq!(
            sizes,
            [
                (8, 6, 10, Duration::ZERO),
                (4, 2, 200, Duration::from_millis(100)),
                (8, 6, 10, Duration::from_millis(200)),
            ]
        );
    }

    #[test]
    fn intrinsics_default_to_the_headset_cameras_field_of_view() {
        let dir = tempfile::tempdir().expect("a temp dir");
        write_png(&dir.path().join("a.png"), 1280, 720, 0);
        let frame = ImageFiles::open(dir.path(), None, Duration::from_millis(33))
            .and_then(|mut c| c.next_frame())
            .expect("a frame");
        // 640 / tan(32.345°) ≈ 1011 px.
        assert!(
            (frame.intrinsics.fx - 1011.0).abs() < 1.0,
            "{:?}",
            frame.intrinsics
        );
        assert_eq!((frame.intrinsics.cx, frame.intrinsics.cy), (640.0, 360.0));
        assert!(frame.gray().is_ok());
    }

    #[test]
    fn a_folder_without_images_is_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let e = ImageFiles::open(dir.path(), None, Duration::from_millis(33))
            .err()
            .expect("no images");
        assert!(e.to_string().contains("holds no PNG"), "{e}");
    }
}
