//! A sticker's pose from the four corners the decoder found (X3): where the code is relative to
//! the camera, in metres.
//!
//! Method: the homography from the code's plane to the image, solved from the four corners in
//! closed form (the decoder's own four-point homography), decomposed into a rotation and a
//! translation, then refined by Levenberg–Marquardt on the reprojection error of the corners. The closed form alone is
//! exact only for exact corners; with corners off by a tenth of a pixel, minimising the error in
//! pixels is the maximum-likelihood answer, and it keeps the rotation a rotation. A square seen
//! nearly face-on has two poses that explain it almost equally well (its normal mirrored about
//! the line of sight); both are refined and the one with the smaller error is kept — the anchor
//! tracker's outlier rejection handles the rare frame where noise picks the wrong one.
//!
//! Frames: the camera looks along −Z with +X right and +Y up (OpenXR's view convention); the
//! sticker's frame has its origin at the code's centre, +X along its top edge to the right, +Y
//! up towards the top edge, +Z out of its printed face — the guide's anchor frame.

use glam::{DMat3, DQuat, DVec2, DVec3};

use super::Intrinsics;
use crate::qr::Point;
use crate::qr::grid::homography;
use crate::scene::Pose;

/// A sticker's pose and how well it explains the corners.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StickerPose {
    /// The sticker's frame in the camera's frame.
    pub in_camera: Pose,
    /// Root-mean-square distance between the corners seen and the corners of the pose, pixels.
    pub rms_px: f64,
    /// The code's mean side length in the image, pixels.
    pub side_px: f64,
}

/// The pose of a square code of side `size_m` whose corners (top-left, top-right, bottom-right,
/// bottom-left, in pixels) were seen through `intrinsics`; `None` for corners no real square in
/// front of the camera can make (collinear, crossed, behind the camera).
pub fn sticker_pose(
    corners: &[Point; 4],
    intrinsics: &Intrinsics,
    size_m: f64,
) -> Option<StickerPose> {
    if !(size_m.is_finite() && size_m > 0.0) {
        return None;
    }
    let fx = f64::from(intrinsics.fx);
    let fy = f64::from(intrinsics.fy);
    let (cx, cy) = (f64::from(intrinsics.cx), f64::from(intrinsics.cy));
    if !(fx > 0.0 && fy > 0.0) {
        return None;
    }
    let pixels: [DVec2; 4] = corners.map(|c| DVec2::new(f64::from(c.x), f64::from(c.y)));
    if pixels.iter().any(|p| !p.is_finite()) {
        return None;
    }
    let problem = Problem {
        // Normalised image coordinates, OpenCV's convention (y down, z forward).
        seen: pixels.map(|p| DVec2::new((p.x - cx) / fx, (p.y - cy) / fy)),
        focal: DVec2::new(fx, fy),
        model: square(size_m),
    };
    let (rotation, translation) = problem.closed_form()?;
    let first = problem.refine(rotation, translation);
    let second = problem.refine(mirrored_about_sight(rotation, translation), translation);
    let best = [first, second]
        .into_iter()
        .flatten()
        .min_by(|a, b| a.2.total_cmp(&b.2))?;
    let (rotation, translation, rms_px) = best;
    let side_px = (0..4)
        .map(|i| pixels[i].distance(pixels[(i + 1) % 4]))
        .sum::<f64>()
        / 4.0;
    // OpenCV's camera frame to OpenXR's: half a turn about X.
    let flip = DQuat::from_rotation_x(std::f64::consts::PI);
    let orientation = (flip * rotation).normalize();
    let position = flip * translation;
    Some(StickerPose {
        in_camera: Pose {
            position: position.as_vec3(),
            orientation: orientation.as_quat(),
        },
        rms_px,
        side_px,
    })
}

/// The corners of a code of side `size` in its own frame (y up), in the decoder's order.
fn square(size: f64) -> [DVec3; 4] {
    let s = size / 2.0;
    [
        DVec3::new(-s, s, 0.0),
        DVec3::new(s, s, 0.0),
        DVec3::new(s, -s, 0.0),
        DVec3::new(-s, -s, 0.0),
    ]
}

struct Problem {
    seen: [DVec2; 4],
    focal: DVec2,
    model: [DVec3; 4],
}

impl Problem {
    /// The closed-form pose: the plane-to-image homography `H ∝ [r1 r2 t]`.
    fn closed_form(&self) -> Option<(DQuat, DVec3)> {
        let plane = self.model.map(|p| (p.x, p.y));
        let image = self.seen.map(|q| (q.x, q.y));
        // Columns: the images of the plane's x axis, y axis and origin.
        let c = homography(&plane, &image)?;
        let (mut h1, mut h2, mut h3) = (
            DVec3::new(c[0], c[3], c[6]),
            DVec3::new(c[1], c[4], c[7]),
            DVec3::new(c[2], c[5], 1.0),
        );
        let scale = 2.0 / (h1.length() + h2.length());
        if !scale.is_finite() {
            return None;
        }
        // The code is in front of the camera: positive depth.
        let sign = if h3.z < 0.0 { -scale } else { scale };
        h1 *= sign;
        h2 *= sign;
        h3 *= sign;
        let r1 = h1.try_normalize()?;
        let r2 = (h2 - r1 * r1.dot(h2)).try_normalize()?;
        let r3 = r1.cross(r2);
        let rotation = DQuat::from_mat3(&DMat3::from_cols(r1, r2, r3)).normalize();
        Some((rotation, h3))
    }

    fn residuals(&self, rotation: DQuat, translation: DVec3) -> Option<[f64; 8]> {
        let mut out = [0.0; 8];
        for (i, (corner, seen)) in self.model.iter().zip(&self.seen).enumerate() {
            let p = rotation * *corner + translation;
            if p.z <= 1e-6 {
                return None;
            }
            out[2 * i] = (p.x / p.z - seen.x) * self.focal.x;
            out[2 * i + 1] = (p.y / p.z - seen.y) * self.focal.y;
        }
        Some(out)
    }

    fn cost(&self, rotation: DQuat, translation: DVec3) -> Option<f64> {
        self.residuals(rotation, translation)
            .map(|r| r.iter().map(|x| x * x).sum())
    }

    /// Levenberg–Marquardt over a rotation vector and the translation; the pose, and the RMS
    /// corner error in pixels.
    fn refine(&self, rotation: DQuat, translation: DVec3) -> Option<(DQuat, DVec3, f64)> {
        let (mut rotation, mut translation) = (rotation, translation);
        let mut cost = self.cost(rotation, translation)?;
        let mut damping = 1e-3;
        let apply = |rotation: DQuat, translation: DVec3, step: &[f64; 6]| {
            let turn = DVec3::new(step[0], step[1], step[2]);
            (
                (DQuat::from_scaled_axis(turn) * rotation).normalize(),
                translation + DVec3::new(step[3], step[4], step[5]),
            )
        };
        for _ in 0..30 {
            let base = self.residuals(rotation, translation)?;
            // Forward differences: 8 residuals, 6 unknowns; cheap enough at four corners.
            let mut jacobian = [[0.0; 6]; 8];
            for k in 0..6 {
                let mut step = [0.0; 6];
                let h = if k < 3 {
                    1e-7
                } else {
                    1e-7 * translation.length().max(1e-3)
                };
                step[k] = h;
                let (r, t) = apply(rotation, translation, &step);
                let moved = self.residuals(r, t)?;
                for row in 0..8 {
                    jacobian[row][k] = (moved[row] - base[row]) / h;
                }
            }
            let mut normal = [[0.0; 6]; 6];
            let mut gradient = [0.0; 6];
            for row in 0..8 {
                for a in 0..6 {
                    gradient[a] -= jacobian[row][a] * base[row];
                    for b in 0..6 {
                        normal[a][b] += jacobian[row][a] * jacobian[row][b];
                    }
                }
            }
            let mut improved = false;
            for _ in 0..8 {
                let mut damped = normal;
                for (i, row) in damped.iter_mut().enumerate() {
                    row[i] += damping * normal[i][i].max(1e-9);
                }
                let Some(step) = solve::<6>(damped, gradient) else {
                    damping *= 10.0;
                    continue;
                };
                let (r, t) = apply(rotation, translation, &step);
                match self.cost(r, t) {
                    Some(c) if c < cost => {
                        let gain = cost - c;
                        (rotation, translation, cost) = (r, t, c);
                        damping = (damping / 10.0).max(1e-9);
                        improved = gain > 1e-12 * cost.max(1e-12);
                        break;
                    }
                    _ => damping *= 10.0,
                }
            }
            if !improved {
                break;
            }
        }
        Some((rotation, translation, (cost / 4.0).sqrt()))
    }
}

/// The other pose a nearly face-on square allows: its normal mirrored about the line of sight.
fn mirrored_about_sight(rotation: DQuat, translation: DVec3) -> DQuat {
    let normal = rotation * DVec3::Z;
    let Some(sight) = translation.try_normalize() else {
        return rotation;
    };
    let mirrored = 2.0 * normal.dot(sight) * sight - normal;
    DQuat::from_rotation_arc(normal, mirrored.normalize()) * rotation
}

/// Gaussian elimination with partial pivoting (the damped normal equations, 6×6); `None` for a
/// singular system.
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    let scale = a
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= 1e-12 * scale {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..N {
            let factor = a[row][col] / pivot_row[col];
            for (value, above) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *value -= factor * above;
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = [0.0; N];
    for row in (0..N).rev() {
        let tail: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use glam::{Quat, Vec3};

    use super::*;

    fn camera() -> Intrinsics {
        Intrinsics::from_hfov(1280, 720, super::super::DEFAULT_HFOV_DEG)
    }

    /// The corners a sticker at `pose` (camera frame, OpenXR convention) projects to.
    fn project(pose: Pose, size_m: f32, k: &Intrinsics) -> [Point; 4] {
        let s = size_m / 2.0;
        [(-s, s), (s, s), (s, -s), (-s, -s)].map(|(x, y)| {
            let p = pose.position + pose.orientation * Vec3::new(x, y, 0.0);
            Point {
                x: k.cx + k.fx * p.x / -p.z,
                y: k.cy - k.fy * p.y / -p.z,
            }
        })
    }

    fn facing_camera(distance: f32, yaw_deg: f32) -> Pose {
        Pose {
            position: Vec3::new(0.05, -0.03, -distance),
            orientation: Quat::from_rotation_y(yaw_deg.to_radians()),
        }
    }

    #[test]
    fn exact_corners_give_the_exact_pose() {
        let k = camera();
        for (distance, yaw) in [(0.3, 0.0), (0.5, 20.0), (1.0, 45.0), (1.5, -30.0)] {
            let truth = facing_camera(distance, yaw);
            let found = sticker_pose(&project(truth, 0.05, &k), &k, 0.05).expect("a pose");
            let error_mm = found.in_camera.position.distance(truth.position) * 1000.0;
            let angle_deg = found
                .in_camera
                .orientation
                .angle_between(truth.orientation)
                .to_degrees();
            assert!(error_mm < 0.1, "{distance} m, {yaw}°: {error_mm} mm off");
            assert!(angle_deg < 0.05, "{distance} m, {yaw}°: {angle_deg}° off");
            assert!(found.rms_px < 0.01);
        }
    }

    #[test]
    fn corners_that_no_square_makes_give_no_pose() {
        let k = camera();
        let line = [0.0, 10.0, 20.0, 30.0].map(|x| Point { x, y: 5.0 });
        assert_eq!(sticker_pose(&line, &k, 0.05), None);
        let nan = [Point {
            x: f32::NAN,
            y: 0.0,
        }; 4];
        assert_eq!(sticker_pose(&nan, &k, 0.05), None);
        let fine = project(facing_camera(0.5, 0.0), 0.05, &k);
        assert_eq!(sticker_pose(&fine, &k, 0.0), None);
        assert_eq!(sticker_pose(&fine, &k, f64::NAN), None);
    }
}
