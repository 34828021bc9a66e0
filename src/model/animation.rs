//! glTF animations: sampling node TRS and morph weights at a time, and the node world matrices.
//!
//! Playback: an animation plays once, holds its final pose for [`HOLD_S`], and starts again.
//! Guides use animations to show a motion (a cap unscrewing, a valve closing) that ends in a
//! pose worth looking at; a pause there reads better than an instant jump back. Animations that
//! loop cleanly (a bobbing arrow) just rest for a moment at their start pose.

use glam::{Mat4, Quat, Vec3};

use super::{Model, Trs};

/// Seconds the final pose is held before the animation starts again.
pub const HOLD_S: f32 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    Step,
    Linear,
    CubicSpline,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Translation(Vec<Vec3>),
    Rotation(Vec<Quat>),
    Scale(Vec<Vec3>),
    /// `times.len() × targets` weights (×3 for cubic spline: in-tangent, value, out-tangent).
    Weights {
        targets: usize,
        values: Vec<f32>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub node: usize,
    pub interpolation: Interpolation,
    pub times: Vec<f32>,
    pub values: Values,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Animation {
    pub name: Option<String>,
    pub channels: Vec<Channel>,
    pub duration: f32,
}

/// The local time within an animation of `duration` seconds, `t` seconds after it started.
pub fn playback_time(duration: f32, t: f32) -> f32 {
    if duration <= 0.0 || !t.is_finite() || t <= 0.0 {
        return 0.0;
    }
    (t % (duration + HOLD_S)).min(duration)
}

/// Where `t` falls between keyframes: (index of the key before, fraction to the next).
fn locate(times: &[f32], t: f32) -> (usize, f32) {
    match times.iter().position(|&k| k > t) {
        None => (times.len().saturating_sub(1), 0.0),
        Some(0) => (0, 0.0),
        Some(next) => {
            let (a, b) = (times[next - 1], times[next]);
            let span = b - a;
            let f = if span > 0.0 { (t - a) / span } else { 0.0 };
            (next - 1, f.clamp(0.0, 1.0))
        }
    }
}

fn hermite<T>(p0: T, m0: T, p1: T, m1: T, f: f32, dt: f32) -> T
where
    T: std::ops::Mul<f32, Output = T> + std::ops::Add<Output = T>,
{
    let f2 = f * f;
    let f3 = f2 * f;
    p0 * (2.0 * f3 - 3.0 * f2 + 1.0)
        + m0 * ((f3 - 2.0 * f2 + f) * dt)
        + p1 * (-2.0 * f3 + 3.0 * f2)
        + m1 * ((f3 - f2) * dt)
}

fn sample_vec3(ch: &Channel, values: &[Vec3], t: f32) -> Option<Vec3> {
    let (i, f) = locate(&ch.times, t);
    match ch.interpolation {
        Interpolation::Step => values.get(i).copied(),
        Interpolation::Linear => {
            let a = *values.get(i)?;
            Some(values.get(i + 1).map_or(a, |&b| a.lerp(b, f)))
        }
        Interpolation::CubicSpline => {
            let p0 = *values.get(3 * i + 1)?;
            let Some(&p1) = values.get(3 * (i + 1) + 1) else {
                return Some(p0);
            };
            let dt = ch.times.get(i + 1).map_or(0.0, |&b| b - ch.times[i]);
            Some(hermite(
                p0,
                values[3 * i + 2],
                p1,
                values[3 * (i + 1)],
                f,
                dt,
            ))
        }
    }
}

fn sample_quat(ch: &Channel, values: &[Quat], t: f32) -> Option<Quat> {
    let (i, f) = locate(&ch.times, t);
    let q = match ch.interpolation {
        Interpolation::Step => *values.get(i)?,
        Interpolation::Linear => {
            let a = *values.get(i)?;
            values.get(i + 1).map_or(a, |&b| a.slerp(b, f))
        }
        Interpolation::CubicSpline => {
            let p0 = *values.get(3 * i + 1)?;
            let Some(&p1) = values.get(3 * (i + 1) + 1) else {
                return Some(super::geometry::normalize_quat(p0));
            };
            let dt = ch.times.get(i + 1).map_or(0.0, |&b| b - ch.times[i]);
            hermite(p0, values[3 * i + 2], p1, values[3 * (i + 1)], f, dt)
        }
    };
    Some(super::geometry::normalize_quat(q))
}

/// The nodes' local transforms and meshes' morph weights at local time `t` of `animation`.
pub struct Pose {
    pub locals: Vec<Trs>,
    /// Per node: morph weights overriding the mesh defaults.
    pub weights: Vec<Option<Vec<f32>>>,
}

pub fn sample(model: &Model, animation: Option<&Animation>, t: f32) -> Pose {
    let mut locals: Vec<Trs> = model.nodes.iter().map(|n| n.local).collect();
    let mut weights = vec![None; model.nodes.len()];
    let Some(animation) = animation else {
        return Pose { locals, weights };
    };
    for ch in &animation.channels {
        let Some(local) = locals.get_mut(ch.node) else {
            continue;
        };
        match &ch.values {
            Values::Translation(v) => {
                if let Some(x) = sample_vec3(ch, v, t) {
                    local.translation = x;
                }
            }
            Values::Scale(v) => {
                if let Some(x) = sample_vec3(ch, v, t) {
                    local.scale = x;
                }
            }
            Values::Rotation(v) => {
                if let Some(x) = sample_quat(ch, v, t) {
                    local.rotation = x;
                }
            }
            Values::Weights { targets, values } => {
                weights[ch.node] = sample_weights(ch, *targets, values, t);
            }
        }
    }
    Pose { locals, weights }
}

fn sample_weights(ch: &Channel, targets: usize, values: &[f32], t: f32) -> Option<Vec<f32>> {
    if targets == 0 {
        return None;
    }
    let (i, f) = locate(&ch.times, t);
    let key = |k: usize| values.get(k * targets..(k + 1) * targets);
    match ch.interpolation {
        Interpolation::Step => key(i).map(<[f32]>::to_vec),
        Interpolation::Linear => {
            let a = key(i)?;
            let b = key(i + 1).unwrap_or(a);
            Some(a.iter().zip(b).map(|(a, b)| a + (b - a) * f).collect())
        }
        // Cubic-spline weights: the keyframe values, linearly blended (tangents ignored).
        Interpolation::CubicSpline => {
            let a = key(3 * i + 1)?;
            let b = key(3 * (i + 1) + 1).unwrap_or(a);
            Some(a.iter().zip(b).map(|(a, b)| a + (b - a) * f).collect())
        }
    }
}

/// World matrices of every node reachable from the scene roots (identity for the others).
/// The tree is checked to be acyclic at load time.
pub fn world_matrices(model: &Model, locals: &[Trs], root: Mat4, out: &mut Vec<Mat4>) {
    out.clear();
    out.resize(model.nodes.len(), Mat4::IDENTITY);
    let mut stack: Vec<(usize, Mat4)> = model.roots.iter().map(|&r| (r, root)).collect();
    while let Some((node, parent)) = stack.pop() {
        let Some(local) = locals.get(node) else {
            continue;
        };
        let world = parent * local.to_matrix();
        out[node] = world;
        for &child in &model.nodes[node].children {
            stack.push((child, world));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playback_plays_once_holds_the_final_pose_then_starts_again() {
        assert_eq!(playback_time(2.0, 0.5), 0.5);
        assert_eq!(playback_time(2.0, 2.5), 2.0, "holds the final pose");
        assert!(
            (playback_time(2.0, 3.25) - 0.25).abs() < 1e-5,
            "starts again"
        );
        assert_eq!(playback_time(2.0, f32::NAN), 0.0);
    }

    #[test]
    fn linear_translation_is_interpolated_between_keys() {
        let ch = Channel {
            node: 0,
            interpolation: Interpolation::Linear,
            times: vec![0.0, 1.0],
            values: Values::Translation(vec![Vec3::ZERO, Vec3::X]),
        };
        let Values::Translation(v) = &ch.values else {
            unreachable!()
        };
        let x = sample_vec3(&ch, v, 0.25).expect("sample");
        assert!((x - Vec3::new(0.25, 0.0, 0.0)).length() < 1e-6);
        assert_eq!(
            sample_vec3(&ch, v, 5.0),
            Some(Vec3::X),
            "clamps past the end"
        );
    }
}
