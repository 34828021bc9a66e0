//! Where the step card sits: in front of the user, turned towards them, following lazily.
//!
//! Head-locked content is tiring and makes people feel sick; content fixed in the world gets
//! lost when the user turns away. The card is a compromise used by most headset UIs: it stays
//! put while it is comfortably in view, and glides back in front once the user has turned or
//! walked far enough away from it.

use glam::{Quat, Vec3};

use super::Pose;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FollowSettings {
    /// Distance from the eyes to the card's centre.
    pub distance: f32,
    /// How far below eye height the card's centre sits (reading is easier looking slightly down).
    pub below_eyes: f32,
    /// Sideways offset: the card sits a little to the left so the work area stays free.
    pub left: f32,
    /// The card starts following once it is this far (degrees) off the user's forward direction…
    pub follow_angle_deg: f32,
    /// …or once its distance leaves this range (metres).
    pub distance_range: (f32, f32),
    /// Exponential approach rate once following, 1/s.
    pub rate_per_s: f32,
}

impl Default for FollowSettings {
    fn default() -> Self {
        Self {
            distance: 1.3,
            below_eyes: 0.22,
            left: 0.22,
            follow_angle_deg: 30.0,
            distance_range: (0.8, 2.0),
            rate_per_s: 4.0,
        }
    }
}

/// The step card's pose between frames.
#[derive(Debug, Clone, PartialEq)]
pub struct CardFollower {
    settings: FollowSettings,
    pose: Option<Pose>,
    following: bool,
}

impl Default for CardFollower {
    fn default() -> Self {
        Self::new(FollowSettings::default())
    }
}

impl CardFollower {
    pub fn new(settings: FollowSettings) -> Self {
        Self {
            settings,
            pose: None,
            following: false,
        }
    }

    /// Where the card would sit if it were placed right now.
    pub fn target(&self, head: Pose) -> Pose {
        let s = &self.settings;
        let forward = horizontal_forward(head);
        let right = Vec3::new(-forward.z, 0.0, forward.x);
        let position =
            head.position + forward * s.distance - right * s.left - Vec3::Y * s.below_eyes;
        Pose {
            position,
            orientation: facing(position, head.position),
        }
    }

    /// Moves the card for a frame `dt_s` seconds after the previous one and returns its pose.
    /// The first call places it at once.
    pub fn update(&mut self, head: Pose, dt_s: f32) -> Pose {
        let target = self.target(head);
        let Some(current) = self.pose else {
            self.pose = Some(target);
            return target;
        };
        if !self.following && self.is_uncomfortable(head, current) {
            self.following = true;
        }
        let next = if self.following {
            let t = 1.0 - (-self.settings.rate_per_s * dt_s.max(0.0)).exp();
            let position = current.position.lerp(target.position, t);
            let pose = Pose {
                position,
                orientation: facing(position, head.position),
            };
            if pose.position.distance(target.position) < 0.01 {
                self.following = false;
            }
            pose
        } else {
            current
        };
        self.pose = Some(next);
        next
    }

    fn is_uncomfortable(&self, head: Pose, card: Pose) -> bool {
        let to_card = card.position - head.position;
        let distance = to_card.length();
        let (near, far) = self.settings.distance_range;
        if !(near..=far).contains(&distance) {
            return true;
        }
        let flat = Vec3::new(to_card.x, 0.0, to_card.z).normalize_or_zero();
        let angle = flat.angle_between(horizontal_forward(head)).to_degrees();
        angle > self.settings.follow_angle_deg
    }
}

/// The head's forward direction projected on the floor (a card does not tilt when one nods).
fn horizontal_forward(head: Pose) -> Vec3 {
    let f = head.forward();
    Vec3::new(f.x, 0.0, f.z)
        .try_normalize()
        .unwrap_or(Vec3::NEG_Z)
}

/// A rotation that turns a panel at `at` (face along its +Z) towards `eye`: turned about the
/// vertical, then tilted back so that its face is square to the line of sight (no roll).
fn facing(at: Vec3, eye: Vec3) -> Quat {
    let to_eye = eye - at;
    let flat = Vec3::new(to_eye.x, 0.0, to_eye.z);
    if flat.length_squared() < 1e-8 {
        return Quat::IDENTITY;
    }
    let yaw = flat.x.atan2(flat.z);
    let pitch = -to_eye.y.atan2(flat.length());
    Quat::from_rotation_y(yaw) * Quat::from_rotation_x(pitch)
}
