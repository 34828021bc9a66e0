//! Screenshots of a guide through the whole pipeline: app state → scene → renderer → image.
//! Used by `hologuide demo --backend headless`, the golden tests and the README screenshot.

use std::num::NonZeroU32;
use std::sync::Arc;

use super::{Headless, scripted_head};
use crate::app::driver::picture;
use crate::guide::{AssetSource, GuidePackage};
use crate::render::RenderError;
use crate::scene::Frame;

pub use crate::app::driver::Situation;

/// Seconds into each step when its picture is taken: animations are mid-way, not at rest.
pub const STEP_TIME_S: f32 = 0.8;

/// A picture of one step (numbered from 1) of the guide in `package`.
pub fn step_shot(
    headless: &mut Headless,
    package: &GuidePackage,
    step: NonZeroU32,
    situation: &Situation,
) -> Result<image::RgbaImage, RenderError> {
    let head = scripted_head();
    let frame = picture(
        Arc::new(package.guide.clone()),
        step,
        situation,
        head,
        STEP_TIME_S,
    );
    let read = |path: &str| package.read(path);
    let mut eyes = headless.render(&frame, head, &read)?;
    eyes.truncate(1);
    eyes.pop()
        .ok_or_else(|| RenderError::Readback("no eye image".into()))
}

/// A picture of one glTF model from a fixed three-quarter viewpoint, scaled to about 0.5 m and
/// centred 1.2 m in front of the eyes, at `time_s` of `animation`.
pub fn model_shot(
    headless: &mut Headless,
    asset: &str,
    read: &crate::render::AssetReader<'_>,
    animation: Option<&str>,
    time_s: f32,
) -> Result<image::RgbaImage, RenderError> {
    use glam::{Mat4, Quat, Vec3};

    use crate::scene::{HologramInstance, Pose};

    let bounds = read(asset)
        .ok()
        .and_then(|bytes| {
            let dir = asset.rsplit_once('/').map_or("", |(dir, _)| dir);
            let resolve = |uri: &str| {
                if dir.is_empty() {
                    read(uri)
                } else {
                    read(&format!("{dir}/{uri}"))
                }
            };
            crate::model::load_model(
                asset,
                &bytes,
                &crate::model::LoadOptions {
                    max_texture_dimension: 8192,
                    resolve: &resolve,
                },
            )
            .ok()
        })
        .and_then(|model| model.bounds());
    let (centre, extent) = bounds.map_or((Vec3::ZERO, 1.0), |(lo, hi)| {
        ((lo + hi) / 2.0, (hi - lo).max_element().max(1e-6))
    });
    let scale = 0.5 / extent;
    let head = Pose::standing();
    let world = Mat4::from_translation(Vec3::new(0.0, 1.6, -1.2))
        * Mat4::from_quat(Quat::from_rotation_x(0.35) * Quat::from_rotation_y(-0.6))
        * Mat4::from_scale(Vec3::splat(scale))
        * Mat4::from_translation(-centre);
    let frame = Frame {
        panels: Vec::new(),
        holograms: vec![HologramInstance {
            asset: asset.to_owned(),
            world,
            animation: animation.map(str::to_owned),
            time_s,
        }],
        pictures: Vec::new(),
    };
    let mut eyes = headless.render(&frame, head, read)?;
    eyes.truncate(1);
    eyes.pop()
        .ok_or_else(|| RenderError::Readback("no eye image".into()))
}
