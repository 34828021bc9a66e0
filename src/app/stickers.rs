//! What a sighting of an anchor sticker means for the holograms (X3): the anchor's pose in the
//! world from the corners the decoder found, and the card's hint while an anchor is not seen.

use super::View;
use crate::camera::Sighting;
use crate::camera::pose::sticker_pose;
use crate::guide::Guide;
use crate::scene::Pose;

use super::anchors::{AnchorTracker, MAX_RMS_PX};

/// Where the sticker of a sighting is in the world, for a code `size_m` across: its pose in the
/// camera, the camera on the head at capture time (the frame's own head pose when the source
/// knows it, else `head_now`). `None` for a reflection or corners no square explains.
pub fn anchor_in_world(sighting: &Sighting, size_m: f64, head_now: Pose) -> Option<Pose> {
    if sighting.mirrored {
        return None;
    }
    let found = sticker_pose(&sighting.corners, &sighting.intrinsics, size_m)?;
    if found.rms_px > MAX_RMS_PX {
        return None;
    }
    let head = sighting.head.unwrap_or(head_now);
    let camera = head.to_matrix() * sighting.camera_from_head.to_matrix();
    let world = camera * found.in_camera.to_matrix();
    let (_, orientation, position) = world.to_scale_rotation_translation();
    let pose = Pose {
        position,
        orientation: orientation.normalize(),
    };
    pose.is_finite().then_some(pose)
}

/// "Look at the sticker: <label>" while a hologram of the step shown waits for its anchor.
pub fn hint(guide: &Guide, view: &View<'_>, tracker: &AnchorTracker) -> Option<String> {
    let View::Step(step) = view else {
        return None;
    };
    let waiting = step
        .holograms
        .iter()
        .filter_map(|h| h.anchor.as_deref())
        .find(|id| !tracker.is_known(id))?;
    let anchor = guide.anchor(waiting)?;
    let label = if anchor.label.is_empty() {
        anchor.id.as_str()
    } else {
        anchor.label.as_str()
    };
    Some(format!("Look at the sticker: {label}"))
}
