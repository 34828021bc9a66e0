//! Which card button is under the mouse: a ray from the eye through the cursor, hit against the
//! panels of the last frame drawn by the shared [`hit_button`](crate::app::pointer::hit_button).
//! Pure (glam and scene only).

use glam::{Mat4, Vec2, Vec3};

use crate::app::pointer::Ray;
use crate::scene::{ButtonAction, Frame};

/// The ray through pixel `cursor` (from the window's top-left, +y down) of a `size`-pixel view
/// drawn with `view_projection` (world → clip, wgpu depth 0..1). None for a degenerate camera.
pub fn cursor_ray(view_projection: Mat4, cursor: Vec2, size: Vec2) -> Option<Ray> {
    if size.x <= 0.0 || size.y <= 0.0 || !cursor.is_finite() {
        return None;
    }
    let ndc = Vec2::new(2.0 * cursor.x / size.x - 1.0, 1.0 - 2.0 * cursor.y / size.y);
    let inverse = view_projection.inverse();
    let near = inverse.project_point3(ndc.extend(0.0));
    let far = inverse.project_point3(ndc.extend(1.0));
    let direction = (far - near).try_normalize()?;
    near.is_finite().then_some(Ray {
        origin: near,
        direction,
    })
}

/// Where the centre of the first button doing `action` appears, in pixels from the top-left;
/// None when it is not in the frame or behind the eye. Tests click there.
pub fn button_centre_px(
    frame: &Frame,
    view_projection: Mat4,
    size: Vec2,
    action: ButtonAction,
) -> Option<Vec2> {
    frame.panels.iter().find_map(|panel| {
        let button = panel.buttons.iter().find(|b| b.action == action)?;
        let centre = button.position + button.size / 2.0;
        let local = Vec3::new(
            centre.x - panel.size.x / 2.0,
            panel.size.y / 2.0 - centre.y,
            0.0,
        );
        let clip = view_projection * panel.world * local.extend(1.0);
        if clip.w <= 0.0 {
            return None;
        }
        let ndc = clip.truncate() / clip.w;
        Some(Vec2::new(
            (ndc.x + 1.0) / 2.0 * size.x,
            (1.0 - ndc.y) / 2.0 * size.y,
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::sync::Arc;

    use super::*;
    use crate::app::driver::{Situation, picture};
    use crate::app::pointer::hit_button;
    use crate::xr::window::camera::FlyCamera;

    const SIZE: Vec2 = Vec2::new(800.0, 500.0);

    fn demo_frame(step: u32) -> (Frame, Mat4) {
        let package = crate::demo::load().expect("demo guide");
        let head = FlyCamera::standing_operator().pose();
        let online = Situation {
            online: true,
            ..Situation::default()
        };
        let step = NonZeroU32::new(step).expect("a step number");
        let frame = picture(Arc::new(package.guide), step, &online, head, 0.0);
        let projection = Mat4::perspective_rh(52f32.to_radians(), SIZE.x / SIZE.y, 0.05, 100.0);
        (frame, projection * head.to_matrix().inverse())
    }

    #[test]
    fn clicking_the_centre_of_next_hits_next_and_of_back_hits_back() {
        let (frame, vp) = demo_frame(2);
        for action in [ButtonAction::Next, ButtonAction::Back] {
            let at = button_centre_px(&frame, vp, SIZE, action).expect("button in view");
            assert!(
                at.x > 0.0 && at.x < SIZE.x && at.y > 0.0 && at.y < SIZE.y,
                "{at}"
            );
            let ray = cursor_ray(vp, at, SIZE).expect("ray");
            assert_eq!(hit_button(&frame, ray).map(|(a, _)| a), Some(action));
        }
    }

    #[test]
    fn clicking_back_on_the_first_step_presses_nothing() {
        let (frame, vp) = demo_frame(1);
        let at = button_centre_px(&frame, vp, SIZE, ButtonAction::Back).expect("drawn, disabled");
        let ray = cursor_ray(vp, at, SIZE).expect("ray");
        assert_eq!(hit_button(&frame, ray), None);
    }

    #[test]
    fn clicking_the_card_body_or_empty_space_presses_nothing() {
        let (frame, vp) = demo_frame(2);
        let next = button_centre_px(&frame, vp, SIZE, ButtonAction::Next).expect("next");
        // 60 px above Next is card body text; the top-right corner is empty space.
        for at in [next - Vec2::new(0.0, 60.0), Vec2::new(SIZE.x - 2.0, 2.0)] {
            let ray = cursor_ray(vp, at, SIZE).expect("ray");
            assert_eq!(hit_button(&frame, ray), None, "at {at}");
        }
    }

    #[test]
    fn a_degenerate_view_or_cursor_gives_no_ray() {
        let (_, vp) = demo_frame(1);
        assert!(cursor_ray(vp, Vec2::new(f32::NAN, 1.0), SIZE).is_none());
        assert!(cursor_ray(vp, Vec2::ONE, Vec2::ZERO).is_none());
        assert!(cursor_ray(Mat4::ZERO, Vec2::ONE, SIZE).is_none());
    }
}
