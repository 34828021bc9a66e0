//! QR codes an XR runtime reads and tracks itself (issue 16): HoloLens 2's scene markers
//! (`XR_MSFT_scene_marker`; the platform reads QR codes there and apps get no camera frames) and
//! the cross-vendor `XR_EXT_spatial_marker_tracking`. The OpenXR shell reads them
//! (`xr::openxr::markers`) and turns each into the [`Sighting`] a camera's decoder would give,
//! carrying the sticker's pose already located in the world.
//!
//! Pure: no OpenXR here, so the translation is tested without a runtime.
//!
//! Conventions. The app's anchor frame (see [`super::pose`]): origin at the code's centre, +X
//! along its top edge to the right, +Y up towards the top edge, +Z out of its printed face.
//! `XR_MSFT_scene_marker` gives the marker's pose, plus `center`, the centre of the marker's
//! bounding box in the marker's own XY plane, and `size`: the centre offset is applied as given,
//! so it does not matter whether the runtime's origin is a corner or the centre.
//! `XR_EXT_spatial_marker_tracking` gives a bounded-2D component whose pose is the marker's
//! centre already (no offset) and whose +Z is the face's normal. Which way HoloLens' marker +Z
//! points is not documented (Microsoft's older QR API had +Y down the code and +Z into it), so
//! the rule is one for both: a marker whose +Z points away from the head that saw it is turned
//! half a turn about its X axis, which maps "Y down, Z in" onto "Y up, Z out" — a printed code
//! is only ever seen from its front.

use std::collections::HashMap;
use std::f32::consts::PI;
use std::time::Duration;

use glam::{Quat, Vec2, Vec3};

use super::{DEFAULT_HFOV_DEG, Intrinsics, Sighting};
use crate::qr::Point;
use crate::scene::Pose;

/// What kind of 2D code the runtime says it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbology {
    Qr,
    MicroQr,
    /// ArUco, AprilTag or anything a later runtime adds: no payload a guide link can be.
    Other,
}

/// One marker as the runtime reports it, in the app's reference space.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeMarker {
    /// The code's payload bytes as encoded (MSFT: raw data; EXT: the buffer's bytes).
    pub payload: Vec<u8>,
    /// The marker's pose as the runtime reports it (its own origin and axes).
    pub pose: Pose,
    /// The centre of the marker's bounding box in the marker's XY plane, metres (MSFT's
    /// `center`); zero where the pose is at the centre already (EXT's bounded 2D).
    pub centre: Vec2,
    /// Width and height in metres, where the runtime gives them.
    pub size: Option<Vec2>,
    /// When the runtime last saw it, on the runtime's clock.
    pub last_seen: Duration,
    pub symbology: Symbology,
}

/// The sticker's pose in the world, in the app's anchor frame, for a marker seen from `head`:
/// the centre offset applied, then the normal turned towards the head (see the module's
/// conventions). `None` for a marker no sticker can be: empty payload, a code that is no QR
/// code, a non-finite pose or offset, a size that is not finite and positive.
pub fn located(marker: &RuntimeMarker, head: Pose) -> Option<Pose> {
    if marker.payload.is_empty() || marker.symbology == Symbology::Other {
        return None;
    }
    if !marker.pose.is_finite() || !marker.centre.is_finite() {
        return None;
    }
    if let Some(size) = marker.size
        && !(size.is_finite() && size.x > 0.0 && size.y > 0.0)
    {
        return None;
    }
    let orientation = marker.pose.orientation.normalize();
    let centre = marker.pose.position + orientation * marker.centre.extend(0.0);
    let normal = orientation * Vec3::Z;
    let towards_head = head.position - centre;
    let orientation = if towards_head.is_finite() && normal.dot(towards_head) < 0.0 {
        (orientation * Quat::from_rotation_x(PI)).normalize()
    } else {
        orientation
    };
    let pose = Pose {
        position: centre,
        orientation,
    };
    pose.is_finite().then_some(pose)
}

/// The sighting a runtime's marker makes: its payload, and where it is in the world
/// ([`Sighting::located`]); `None` where [`located`] refuses it.
pub fn sighting(marker: &RuntimeMarker, head: Pose) -> Option<Sighting> {
    let pose = located(marker, head)?;
    Some(Sighting {
        payload: marker.payload.clone(),
        corners: [Point { x: 0.0, y: 0.0 }; 4],
        mirrored: false,
        captured_at: marker.last_seen,
        intrinsics: Intrinsics::from_hfov(1280, 720, DEFAULT_HFOV_DEG),
        camera_from_head: Pose::IDENTITY,
        head: Some(head),
        pose_per_metre: None,
        located: Some(pose),
    })
}

/// A located sticker that moved less than this since it was last passed on was not seen again
/// (EXT markers carry no last-seen time): it is the tracker's old answer.
const SAME_PLACE_M: f32 = 0.005;
const SAME_PLACE_DEG: f32 = 1.0;
/// Markers remembered; past this the memory starts over (each marker then counts as new once).
const REMEMBERED: usize = 256;

/// Which markers were seen anew since they were last passed to the app. A runtime keeps
/// reporting every marker it ever tracked, seen now or minutes ago; passing each on at every
/// poll would make an old sticker act again after another one did. A marker is fresh when its
/// last-seen time moved on (MSFT), or, without one (EXT), when it is new or the runtime moved
/// it; markers last seen before the tracker started (a sticker read yesterday) are never fresh.
#[derive(Debug)]
pub struct Freshness {
    since: Duration,
    passed: HashMap<u128, (Option<Duration>, Pose)>,
}

impl Freshness {
    /// Markers last seen before `since` (runtime clock) are old news.
    pub fn new(since: Duration) -> Self {
        Self {
            since,
            passed: HashMap::new(),
        }
    }

    /// Whether marker `id`, last seen at `last_seen` (where the runtime says) and located at
    /// `pose`, is news; if so it is remembered as passed on.
    pub fn is_fresh(&mut self, id: u128, last_seen: Option<Duration>, pose: Pose) -> bool {
        if last_seen.is_some_and(|t| t < self.since) {
            return false;
        }
        let fresh = match (self.passed.get(&id), last_seen) {
            (None, _) => true,
            (Some((Some(before), _)), Some(now)) => now > *before,
            (Some((_, before)), _) => {
                before.position.distance(pose.position) > SAME_PLACE_M
                    || before
                        .orientation
                        .angle_between(pose.orientation)
                        .to_degrees()
                        > SAME_PLACE_DEG
            }
        };
        if fresh {
            if self.passed.len() >= REMEMBERED && !self.passed.contains_key(&id) {
                self.passed.clear();
            }
            self.passed.insert(id, (last_seen, pose));
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::stickers::anchor_in_world;

    const LINK: &[u8] = b"hologuide://acme/g/5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d?anchor=front";

    /// A user standing at the origin, looking along -Z.
    fn head() -> Pose {
        Pose::standing()
    }

    /// A sticker on a wall 1 m ahead, facing the user, as the app's frame has it.
    fn facing_user() -> Pose {
        Pose {
            position: Vec3::new(0.0, 1.5, -1.0),
            orientation: Quat::IDENTITY,
        }
    }

    fn marker(pose: Pose) -> RuntimeMarker {
        RuntimeMarker {
            payload: LINK.to_vec(),
            pose,
            centre: Vec2::ZERO,
            size: Some(Vec2::splat(0.05)),
            last_seen: Duration::from_secs(10),
            symbology: Symbology::Qr,
        }
    }

    fn assert_close(got: Pose, want: Pose) {
        assert!(
            got.position.distance(want.position) < 1e-5,
            "{got:?} vs {want:?}"
        );
        let angle = got.orientation.angle_between(want.orientation).to_degrees();
        assert!(angle < 0.01, "{angle}° apart: {got:?} vs {want:?}");
    }

    #[test]
    fn a_marker_facing_the_head_is_located_where_the_runtime_put_it() {
        let located = located(&marker(facing_user()), head()).expect("a sticker");
        assert_close(located, facing_user());
    }

    #[test]
    fn the_centre_offset_is_applied_in_the_markers_own_plane() {
        // A corner-origin runtime on a sticker turned a quarter turn about its normal: its
        // centre, 25 mm along the marker's +X and 25 mm along its +Y, is in the world along
        // the marker's axes, not the world's.
        let quarter = Quat::from_rotation_z(PI / 2.0);
        let corner = Pose {
            position: Vec3::new(0.0, 1.5, -1.0),
            orientation: quarter,
        };
        let with_offset = RuntimeMarker {
            centre: Vec2::new(0.025, 0.025),
            ..marker(corner)
        };
        let located = located(&with_offset, head()).expect("a sticker");
        let want = Pose {
            position: Vec3::new(-0.025, 1.525, -1.0),
            orientation: quarter,
        };
        assert_close(located, want);
    }

    #[test]
    fn a_marker_whose_normal_points_away_from_the_head_is_turned_to_y_up_z_out() {
        // Microsoft's older convention on the same sticker: +X along the top edge, +Y down the
        // code, +Z into the wall.
        let y_down_z_in = Pose {
            orientation: Quat::from_rotation_x(PI),
            ..facing_user()
        };
        let located = located(&marker(y_down_z_in), head()).expect("a sticker");
        assert_close(located, facing_user());
        assert!(
            (located.orientation * Vec3::Z).dot(Vec3::Z) > 0.99,
            "+Z out"
        );
        assert!((located.orientation * Vec3::Y).dot(Vec3::Y) > 0.99, "+Y up");
        assert!(
            (located.orientation * Vec3::X).dot(Vec3::X) > 0.99,
            "+X along the top"
        );
    }

    #[test]
    fn a_flipped_marker_with_a_centre_offset_keeps_its_centre() {
        // Y down, Z in, origin at the top-left corner: the centre is +X and +Y (down) from it.
        let corner = Pose {
            position: Vec3::new(-0.025, 1.525, -1.0),
            orientation: Quat::from_rotation_x(PI),
        };
        let with_offset = RuntimeMarker {
            centre: Vec2::new(0.025, 0.025),
            ..marker(corner)
        };
        let located = located(&with_offset, head()).expect("a sticker");
        assert_close(located, facing_user());
    }

    #[test]
    fn a_located_sighting_is_placed_where_the_runtime_says_whatever_size_the_guide_gives() {
        let sighting = sighting(&marker(facing_user()), head()).expect("a sighting");
        assert_eq!(sighting.payload, LINK);
        assert_eq!(sighting.captured_at, Duration::from_secs(10));
        // The runtime measured the sticker: the guide's size (or a wrong one) changes nothing.
        for size_m in [0.05, 0.5, 0.0, f64::NAN] {
            let pose = anchor_in_world(&sighting, size_m, Pose::IDENTITY).expect("located");
            assert_close(pose, facing_user());
        }
    }

    #[test]
    fn markers_no_sticker_can_be_are_refused() {
        let good = marker(facing_user());
        let refused = [
            RuntimeMarker {
                payload: Vec::new(),
                ..good.clone()
            },
            RuntimeMarker {
                symbology: Symbology::Other,
                ..good.clone()
            },
            RuntimeMarker {
                pose: Pose {
                    position: Vec3::new(f32::NAN, 1.5, -1.0),
                    ..facing_user()
                },
                ..good.clone()
            },
            RuntimeMarker {
                pose: Pose {
                    orientation: Quat::from_xyzw(0.0, 0.0, 0.0, 0.0),
                    ..facing_user()
                },
                ..good.clone()
            },
            RuntimeMarker {
                centre: Vec2::new(f32::INFINITY, 0.0),
                ..good.clone()
            },
            RuntimeMarker {
                size: Some(Vec2::new(0.0, 0.05)),
                ..good.clone()
            },
            RuntimeMarker {
                size: Some(Vec2::new(0.05, -0.05)),
                ..good.clone()
            },
            RuntimeMarker {
                size: Some(Vec2::new(f32::NAN, 0.05)),
                ..good.clone()
            },
        ];
        for marker in refused {
            assert_eq!(sighting(&marker, head()), None, "{marker:?}");
        }
        let micro = RuntimeMarker {
            symbology: Symbology::MicroQr,
            size: None,
            ..good
        };
        assert!(sighting(&micro, head()).is_some());
    }

    #[test]
    fn a_marker_is_passed_on_again_only_when_the_runtime_saw_it_again() {
        let mut fresh = Freshness::new(Duration::from_secs(5));
        let at = facing_user();
        let seen = |s: u64| Some(Duration::from_secs(s));
        assert!(fresh.is_fresh(1, seen(10), at));
        assert!(!fresh.is_fresh(1, seen(10), at), "the same sighting again");
        assert!(fresh.is_fresh(2, seen(10), at), "another marker");
        assert!(fresh.is_fresh(1, seen(11), at), "seen again later");
        assert!(
            !fresh.is_fresh(3, seen(4), at),
            "last seen before the tracker started"
        );
    }

    #[test]
    fn without_a_last_seen_time_a_marker_is_news_when_new_or_moved() {
        let mut fresh = Freshness::new(Duration::ZERO);
        let at = facing_user();
        let nudged = Pose {
            position: at.position + Vec3::new(0.001, 0.0, 0.0),
            ..at
        };
        let moved = Pose {
            position: at.position + Vec3::new(0.02, 0.0, 0.0),
            ..at
        };
        assert!(fresh.is_fresh(7, None, at));
        assert!(
            !fresh.is_fresh(7, None, nudged),
            "a millimetre is the same place"
        );
        assert!(fresh.is_fresh(7, None, moved));
    }
}
