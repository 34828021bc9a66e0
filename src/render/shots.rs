//! Screenshots of a guide through the whole pipeline: app state → scene → renderer → image.
//! Used by `hologuide demo --backend headless`, the golden tests and the README screenshot.

use std::num::NonZeroU32;
use std::sync::Arc;

use super::RenderError;
use super::headless::{Headless, scripted_head};
use crate::app::{App, GuideSource};
use crate::guide::GuidePackage;
use crate::scene::{CardFollower, Frame, SceneInput};

/// Seconds into each step when its picture is taken: animations are mid-way, not at rest.
pub const STEP_TIME_S: f32 = 0.8;

/// What is around the guide when a picture is taken.
#[derive(Debug, Clone, Default)]
pub struct Situation {
    pub online: bool,
    /// Some: the All list is open with these guide titles.
    pub all_list: Option<Vec<String>>,
    pub status: Option<String>,
}

/// A picture of one step (numbered from 1) of the guide in `package`.
pub fn step_shot(
    headless: &mut Headless,
    package: &GuidePackage,
    step: NonZeroU32,
    situation: &Situation,
) -> Result<image::RgbaImage, RenderError> {
    let app = App::open(
        Arc::new(package.guide.clone()),
        GuideSource::Demo,
        Some(step),
    );
    let view = app.view();
    let head = scripted_head();
    let input = SceneInput {
        view: &view,
        online: situation.online,
        all_list: situation.all_list.as_deref(),
        status: situation.status.as_deref(),
        head,
        anchors: &[],
        step_time_s: STEP_TIME_S,
    };
    let frame = Frame::build(&input, &mut CardFollower::default(), 0.0);
    let read = |path: &str| package.read_asset(path).map_err(|e| e.to_string());
    let mut eyes = headless.render(&frame, head, &read)?;
    eyes.truncate(1);
    eyes.pop()
        .ok_or_else(|| RenderError::Readback("no eye image".into()))
}
