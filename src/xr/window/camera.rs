//! The desktop camera: a standing head that turns with the mouse and walks with WASD.
//!
//! Pure (glam only): the window feeds it cursor deltas, held keys and frame time.

use glam::{Quat, Vec3};

use crate::scene::Pose;

/// Radians of turn per pixel of mouse drag: a drag across a 1280-px window turns ≈ 290°.
const RADIANS_PER_PIXEL: f32 = 0.004;
/// Looking straight up or down flips yaw; stop short of it.
const MAX_PITCH: f32 = 85.0 * std::f32::consts::PI / 180.0;
/// Walking pace, metres per second.
const WALK_SPEED: f32 = 1.2;

/// Which walking keys are held; opposite keys cancel.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    pub forward: bool,
    pub back: bool,
    pub left: bool,
    pub right: bool,
}

/// Yaw about +Y, then pitch about the turned +X; no roll (a desktop user cannot roll).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlyCamera {
    position: Vec3,
    yaw: f32,
    pitch: f32,
}

impl FlyCamera {
    pub fn new(position: Vec3, yaw: f32, pitch: f32) -> Self {
        Self {
            position,
            yaw,
            pitch: pitch.clamp(-MAX_PITCH, MAX_PITCH),
        }
    }

    /// Where the window starts: the headless backend's standing operator looking 10° down, so
    /// a window's first frame is the same picture as the headless screenshot.
    pub fn standing_operator() -> Self {
        Self::new(Vec3::new(0.0, 1.6, 0.0), 0.0, -10f32.to_radians())
    }

    pub fn pose(&self) -> Pose {
        Pose {
            position: self.position,
            orientation: Quat::from_rotation_y(self.yaw) * Quat::from_rotation_x(self.pitch),
        }
    }

    /// Turns by a mouse drag: right turns right, down looks down.
    pub fn look(&mut self, dx_px: f64, dy_px: f64) {
        if !(dx_px.is_finite() && dy_px.is_finite()) {
            return;
        }
        self.yaw = (self.yaw - dx_px as f32 * RADIANS_PER_PIXEL).rem_euclid(std::f32::consts::TAU);
        self.pitch = (self.pitch - dy_px as f32 * RADIANS_PER_PIXEL).clamp(-MAX_PITCH, MAX_PITCH);
    }

    /// Walks on the floor plane for `dt_s` seconds (eye height stays; looking down does not
    /// walk into the floor).
    pub fn walk(&mut self, walk: Walk, dt_s: f32) {
        let axis = |plus: bool, minus: bool| f32::from(u8::from(plus)) - f32::from(u8::from(minus));
        let (ahead, side) = (axis(walk.forward, walk.back), axis(walk.right, walk.left));
        if (ahead == 0.0 && side == 0.0) || !dt_s.is_finite() || dt_s <= 0.0 {
            return;
        }
        let forward = Quat::from_rotation_y(self.yaw) * Vec3::NEG_Z;
        let right = Quat::from_rotation_y(self.yaw) * Vec3::X;
        let step = (forward * ahead + right * side).normalize_or_zero() * WALK_SPEED * dt_s;
        self.position += step;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xr::headless::scripted_head;

    #[test]
    fn window_starts_where_the_headless_screenshots_are_taken() {
        assert_eq!(FlyCamera::standing_operator().pose(), scripted_head());
    }

    #[test]
    fn dragging_right_turns_the_view_right_and_dragging_down_looks_down() {
        let mut camera = FlyCamera::new(Vec3::ZERO, 0.0, 0.0);
        camera.look(100.0, 0.0);
        let forward = camera.pose().forward();
        assert!(forward.x > 0.3, "{forward}");
        let mut camera = FlyCamera::new(Vec3::ZERO, 0.0, 0.0);
        camera.look(0.0, 100.0);
        assert!(camera.pose().forward().y < -0.3);
    }

    #[test]
    fn looking_is_limited_short_of_straight_up_and_down() {
        let mut camera = FlyCamera::new(Vec3::ZERO, 0.0, 0.0);
        camera.look(0.0, -1e6);
        let up = camera.pose().forward().y;
        assert!(up < 1.0 && up > 0.99, "{up}");
        camera.look(f64::NAN, 3.0);
        assert!(camera.pose().is_finite());
    }

    #[test]
    fn w_walks_where_the_camera_looks_on_the_floor_plane_at_walking_pace() {
        let mut camera = FlyCamera::new(Vec3::new(0.0, 1.6, 0.0), 0.0, -0.8);
        let w = Walk {
            forward: true,
            ..Walk::default()
        };
        camera.walk(w, 1.0);
        let p = camera.pose().position;
        assert!(
            (p - Vec3::new(0.0, 1.6, -WALK_SPEED)).length() < 1e-5,
            "{p}"
        );
        // A and D together cancel; a diagonal is no faster than straight ahead.
        let mut camera = FlyCamera::new(Vec3::ZERO, 0.0, 0.0);
        camera.walk(
            Walk {
                left: true,
                right: true,
                ..Walk::default()
            },
            1.0,
        );
        assert_eq!(camera.pose().position, Vec3::ZERO);
        camera.walk(
            Walk {
                forward: true,
                right: true,
                ..Walk::default()
            },
            1.0,
        );
        assert!((camera.pose().position.length() - WALK_SPEED).abs() < 1e-5);
    }
}
