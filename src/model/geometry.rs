//! Geometry fix-ups: triangle lists from strips/fans, and normals/tangents a file left out.

use glam::{Vec2, Vec3};

use super::Vertex;

pub(super) fn triangle_list(mode: gltf::mesh::Mode, indices: &[u32]) -> Vec<u32> {
    use gltf::mesh::Mode;
    match mode {
        Mode::TriangleStrip => (2..indices.len())
            .flat_map(|i| {
                if i % 2 == 0 {
                    [indices[i - 2], indices[i - 1], indices[i]]
                } else {
                    [indices[i - 1], indices[i - 2], indices[i]]
                }
            })
            .collect(),
        Mode::TriangleFan => (2..indices.len())
            .flat_map(|i| [indices[0], indices[i - 1], indices[i]])
            .collect(),
        _ => {
            let whole = indices.len() / 3 * 3;
            indices[..whole].to_vec()
        }
    }
}

/// Area-weighted vertex normals (the spec asks for flat normals; shared vertices are smoothed,
/// which for the usual unshared export is the same thing).
pub(super) fn generate_normals(vertices: &mut [Vertex], indices: &[u32]) {
    let mut normals = vec![Vec3::ZERO; vertices.len()];
    for tri in indices.chunks_exact(3) {
        let [a, b, c] = [tri[0] as usize, tri[1] as usize, tri[2] as usize];
        let (pa, pb, pc) = (
            Vec3::from(vertices[a].position),
            Vec3::from(vertices[b].position),
            Vec3::from(vertices[c].position),
        );
        let n = (pb - pa).cross(pc - pa);
        for i in [a, b, c] {
            normals[i] += n;
        }
    }
    for (v, n) in vertices.iter_mut().zip(normals) {
        v.normal = n.try_normalize().unwrap_or(Vec3::Y).to_array();
    }
}

/// Per-vertex tangents from UV derivatives (Lengyel's method), orthogonalised against the normal.
pub(super) fn generate_tangents(vertices: &mut [Vertex], indices: &[u32]) {
    let mut tan = vec![Vec3::ZERO; vertices.len()];
    let mut bitan = vec![Vec3::ZERO; vertices.len()];
    for tri in indices.chunks_exact(3) {
        let [a, b, c] = [tri[0] as usize, tri[1] as usize, tri[2] as usize];
        let p = |i: usize| Vec3::from(vertices[i].position);
        let uv = |i: usize| Vec2::from(vertices[i].uv0);
        let (e1, e2) = (p(b) - p(a), p(c) - p(a));
        let (d1, d2) = (uv(b) - uv(a), uv(c) - uv(a));
        let det = d1.x * d2.y - d2.x * d1.y;
        if det.abs() < 1e-12 {
            continue;
        }
        let r = 1.0 / det;
        let t = (e1 * d2.y - e2 * d1.y) * r;
        let bt = (e2 * d1.x - e1 * d2.x) * r;
        for i in [a, b, c] {
            tan[i] += t;
            bitan[i] += bt;
        }
    }
    for (i, v) in vertices.iter_mut().enumerate() {
        let n = Vec3::from(v.normal);
        let t = (tan[i] - n * n.dot(tan[i]))
            .try_normalize()
            .unwrap_or_else(|| n.any_orthonormal_vector());
        let w = if n.cross(t).dot(bitan[i]) < 0.0 {
            -1.0
        } else {
            1.0
        };
        v.tangent = [t.x, t.y, t.z, w];
    }
}

/// A unit quaternion, or identity where `q` is degenerate (zero length, NaN).
pub(super) fn normalize_quat(q: glam::Quat) -> glam::Quat {
    let len = q.length();
    if len.is_finite() && len > 1e-6 {
        q / len
    } else {
        glam::Quat::IDENTITY
    }
}
