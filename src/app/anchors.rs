//! Where a guide's anchors are, from the stickers the camera sees (X3): each sighting's pose,
//! carried into the world, is one noisy sample; samples that disagree with the anchor's pose
//! are rejected, the rest averaged over the last half second of detections.
//!
//! A sticker that really moved (a tester picked it up, the first samples were a mirrored-pose
//! mistake) is followed again after a few rejected samples in a row that agree with each other.

use std::collections::{HashMap, VecDeque};

use glam::{Quat, Vec3};

use crate::scene::{KnownAnchor, Pose};

/// Samples averaged: half a second of a 30 Hz camera.
const SAMPLES_KEPT: usize = 15;
/// A sample further than this from the anchor's pose is an outlier…
const OUTLIER_M: f32 = 0.02;
const OUTLIER_DEG: f32 = 8.0;
/// …unless this many in a row agree: then the sticker moved, and the anchor starts over there.
const MOVED_AFTER: usize = 5;
/// Corners explained worse than this by any square are not used (a smudged or bent sticker).
pub const MAX_RMS_PX: f64 = 2.0;

#[derive(Debug, Default)]
struct Track {
    samples: VecDeque<Pose>,
    estimate: Option<Pose>,
    /// Rejected samples in a row, the newest last.
    outliers: Vec<Pose>,
}

impl Track {
    fn add(&mut self, sample: Pose) {
        match self.estimate {
            Some(estimate) if !agrees(estimate, sample) => {
                if self
                    .outliers
                    .last()
                    .is_some_and(|last| !agrees(*last, sample))
                {
                    self.outliers.clear();
                }
                self.outliers.push(sample);
                if self.outliers.len() >= MOVED_AFTER {
                    self.samples = std::mem::take(&mut self.outliers).into();
                    self.estimate = Some(mean(&self.samples));
                }
            }
            _ => {
                self.outliers.clear();
                if self.samples.len() == SAMPLES_KEPT {
                    self.samples.pop_front();
                }
                self.samples.push_back(sample);
                self.estimate = Some(mean(&self.samples));
            }
        }
    }
}

fn agrees(a: Pose, b: Pose) -> bool {
    a.position.distance(b.position) <= OUTLIER_M
        && a.orientation.angle_between(b.orientation).to_degrees() <= OUTLIER_DEG
}

/// The mean position, and the normalised sum of the rotations on one hemisphere (close to the
/// true mean for rotations this close together).
fn mean(samples: &VecDeque<Pose>) -> Pose {
    let n = samples.len().max(1) as f32;
    let position = samples.iter().map(|p| p.position).sum::<Vec3>() / n;
    let first = samples.front().map_or(Quat::IDENTITY, |p| p.orientation);
    let sum = samples
        .iter()
        .fold(Quat::from_xyzw(0.0, 0.0, 0.0, 0.0), |sum, p| {
            let q = if p.orientation.dot(first) < 0.0 {
                -p.orientation
            } else {
                p.orientation
            };
            sum + q
        });
    Pose {
        position,
        orientation: if sum.length_squared() > 1e-12 {
            sum.normalize()
        } else {
            first
        },
    }
}

/// The anchors of the guide on screen, as seen so far.
#[derive(Debug, Default)]
pub struct AnchorTracker {
    tracks: HashMap<String, Track>,
    known: Vec<KnownAnchor>,
}

impl AnchorTracker {
    /// One sighting's pose of anchor `id` in the world.
    pub fn add(&mut self, id: &str, sample: Pose) {
        if !sample.is_finite() {
            return;
        }
        let track = self.tracks.entry(id.to_owned()).or_default();
        track.add(sample);
        let Some(pose) = track.estimate else {
            return;
        };
        match self.known.iter_mut().find(|a| a.id == id) {
            Some(known) => known.pose = pose,
            None => self.known.push(KnownAnchor {
                id: id.to_owned(),
                pose,
            }),
        }
    }

    /// Every anchor seen, where it is now.
    pub fn known(&self) -> &[KnownAnchor] {
        &self.known
    }

    pub fn is_known(&self, id: &str) -> bool {
        self.known.iter().any(|a| a.id == id)
    }

    /// Another guide: its anchors are other stickers.
    pub fn clear(&mut self) {
        self.tracks.clear();
        self.known.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f32, yaw_deg: f32) -> Pose {
        Pose {
            position: Vec3::new(x, 1.2, -1.0),
            orientation: Quat::from_rotation_y(yaw_deg.to_radians()),
        }
    }

    #[test]
    fn noisy_samples_are_averaged_and_an_outlier_is_rejected() {
        let mut tracker = AnchorTracker::default();
        for (i, dx) in [0.002, -0.002, 0.001, -0.001].iter().enumerate() {
            tracker.add("front", at(*dx, if i % 2 == 0 { 1.0 } else { -1.0 }));
        }
        // One mirrored-pose mistake 30° off: not used.
        tracker.add("front", at(0.0, 30.0));
        let pose = tracker.known()[0].pose;
        assert!(pose.position.distance(at(0.0, 0.0).position) < 1e-4);
        assert!(pose.orientation.angle_between(Quat::IDENTITY).to_degrees() < 0.01);
    }

    #[test]
    fn a_sticker_that_moved_is_followed_after_a_few_agreeing_sightings() {
        let mut tracker = AnchorTracker::default();
        for _ in 0..10 {
            tracker.add("front", at(0.0, 0.0));
        }
        for _ in 0..MOVED_AFTER - 1 {
            tracker.add("front", at(0.5, 0.0));
        }
        assert!(tracker.known()[0].pose.position.x.abs() < 1e-6, "not yet");
        tracker.add("front", at(0.5, 0.0));
        assert!((tracker.known()[0].pose.position.x - 0.5).abs() < 1e-6);
    }

    #[test]
    fn a_pose_with_a_number_not_finite_is_never_an_anchor() {
        let mut tracker = AnchorTracker::default();
        tracker.add("front", at(f32::NAN, 0.0));
        assert!(!tracker.is_known("front"));
        tracker.clear();
        assert!(tracker.known().is_empty());
    }
}
