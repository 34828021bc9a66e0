//! What a sighting of an anchor sticker means for the holograms (X3): the anchor's pose in the
//! world from the corners the decoder found, and the card's hint while an anchor is not seen.

use super::View;
use crate::camera::Sighting;
use crate::camera::pose::StickerPose;
use crate::guide::Guide;
use crate::scene::Pose;

use super::anchors::{AnchorTracker, MAX_RMS_PX};

/// Where the sticker of a sighting is in the world, for a code `size_m` across: its pose in the
/// camera (the decoder thread's pose for a metre-wide code, scaled), the camera on the head at
/// capture time (the frame's own head pose when the source knows it, else `head_now`). `None`
/// for a reflection or corners no square explains. A sticker the XR runtime located
/// ([`Sighting::located`]) is where the runtime says, whatever `size_m`: the runtime measured it.
pub fn anchor_in_world(sighting: &Sighting, size_m: f64, head_now: Pose) -> Option<Pose> {
    if let Some(pose) = sighting.located {
        return pose.is_finite().then_some(pose);
    }
    let per_metre = sighting.pose_per_metre.filter(|_| !sighting.mirrored)?;
    if per_metre.rms_px > MAX_RMS_PX || !(size_m.is_finite() && size_m > 0.0) {
        return None;
    }
    let found = StickerPose {
        in_camera: Pose {
            position: per_metre.in_camera.position * size_m as f32,
            ..per_metre.in_camera
        },
        ..per_metre
    };
    let head = sighting.head.unwrap_or(head_now);
    let pose = head.then(sighting.camera_from_head).then(found.in_camera);
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
