//! Scripted head poses for headless runs (`--poses poses.txt`): where the head is at some
//! frames, and a straight walk and an even turn between them — a tester walking up to a
//! sticker, written down.
//!
//! ```text
//! # frame  x     y     z      yaw  pitch  [roll]   metres; degrees: yaw about +Y (left is +),
//! 1        0.0   1.6   0.0    0    -10             pitch about +X (up is +), roll about −Z
//! 90       0.0   1.5   -0.55  0    -25
//! 150      0.2   1.5   -0.55  20   -25
//! ```
//! Before the first line the head is where the first line says; after the last, where the last
//! says.

use glam::{EulerRot, Quat, Vec3};
use thiserror::Error;

use crate::scene::Pose;

/// More lines than a tester writes by hand; a longer file is refused rather than read.
pub const MAX_KEYS: usize = 100_000;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("head poses line {line}: {reason}")]
pub struct HeadPathError {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeadPath {
    /// Ordered by frame, frames distinct.
    keys: Vec<(u64, Pose)>,
}

impl HeadPath {
    pub fn parse(text: &str) -> Result<Self, HeadPathError> {
        let mut keys: Vec<(u64, Pose)> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let fail = |reason: &str| HeadPathError {
                line,
                reason: reason.to_owned(),
            };
            if keys.len() == MAX_KEYS {
                return Err(fail(&format!("more than {MAX_KEYS} poses")));
            }
            let words: Vec<&str> = content.split_whitespace().collect();
            if !(6..=7).contains(&words.len()) {
                return Err(fail("expected FRAME X Y Z YAW PITCH [ROLL]"));
            }
            let frame: u64 =
                words[0].parse().ok().filter(|f| *f >= 1).ok_or_else(|| {
                    fail(&format!("'{}' is not a frame number (1, 2, …)", words[0]))
                })?;
            let mut numbers = [0.0f32; 6];
            for (slot, word) in numbers.iter_mut().zip(&words[1..]) {
                *slot = word
                    .parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite() && v.abs() <= 10_000.0)
                    .ok_or_else(|| fail(&format!("'{word}' is not a number")))?;
            }
            if let Some((last, _)) = keys.last()
                && *last >= frame
            {
                return Err(fail(&format!(
                    "frame {frame} does not come after frame {last}"
                )));
            }
            let [x, y, z, yaw, pitch, roll] = numbers;
            keys.push((
                frame,
                Pose {
                    position: Vec3::new(x, y, z),
                    orientation: Quat::from_euler(
                        EulerRot::YXZ,
                        yaw.to_radians(),
                        pitch.to_radians(),
                        roll.to_radians(),
                    ),
                },
            ));
        }
        if keys.is_empty() {
            return Err(HeadPathError {
                line: 0,
                reason: "no poses".into(),
            });
        }
        Ok(Self { keys })
    }

    /// The head at `frame`: between two keys, the straight line and the shortest turn.
    pub fn at(&self, frame: u64) -> Pose {
        let after = self.keys.partition_point(|(f, _)| *f <= frame);
        match (
            after.checked_sub(1).map(|i| self.keys[i]),
            self.keys.get(after),
        ) {
            (Some((_, pose)), None) => pose,
            (None, Some((_, pose))) => *pose,
            (Some((f0, a)), Some((f1, b))) => {
                let s = (frame - f0) as f32 / (*f1 - f0) as f32;
                Pose {
                    position: a.position.lerp(b.position, s),
                    orientation: a.orientation.slerp(b.orientation, s),
                }
            }
            (None, None) => Pose::standing(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_walks_straight_and_turns_evenly_between_poses() {
        let path = HeadPath::parse("# walk up\n1 0 1.6 0 0 0\n11 0 1.6 -1 90 0 # turned left\n")
            .expect("a path");
        assert_eq!(path.at(1).position, Vec3::new(0.0, 1.6, 0.0));
        let half = path.at(6);
        assert!(half.position.distance(Vec3::new(0.0, 1.6, -0.5)) < 1e-6);
        let looking = half.forward();
        let expected = Vec3::new(-1.0, 0.0, -1.0).normalize();
        assert!(looking.distance(expected) < 1e-5, "{looking}");
        assert_eq!(path.at(50), path.at(11));
    }

    #[test]
    fn a_bad_poses_file_names_the_line() {
        let err = |text| HeadPath::parse(text).expect_err("invalid");
        assert_eq!(err("1 0 0 0 0").line, 1);
        assert!(err("\n0 0 0 0 0 0").reason.contains("frame number"));
        assert!(
            err("5 0 0 0 0 0\n5 0 0 0 0 0")
                .reason
                .contains("after frame 5")
        );
        assert!(err("1 0 nan 0 0 0").reason.contains("'nan'"));
        assert_eq!(err("# nothing").reason, "no poses");
    }
}
