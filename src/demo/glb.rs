//! A minimal glTF 2.0 binary (.glb) writer for the generated demo holograms.
//!
//! Our own code rather than a crate: the assets must be reproducible byte for byte and carry no
//! third-party licence, and the subset they need (indexed triangle meshes, PBR factors, node
//! transforms, linear animations) is small. Units are metres and +Y is up, as glTF prescribes.

use std::collections::{BTreeMap, BTreeSet};

use glam::{Mat3, Mat4, Quat, Vec2, Vec3, Vec3Swizzles};
use serde_json::{Value, json};

/// Written to `asset.generator` so that a file can be traced back to this code.
pub const GENERATOR: &str = "hologuide demo generator";

const ARRAY_BUFFER: u32 = 34962;
const ELEMENT_ARRAY_BUFFER: u32 = 34963;
const FLOAT: u32 = 5126;
const UNSIGNED_SHORT: u32 = 5123;
const UNSIGNED_INT: u32 = 5125;
/// Neighbouring lathe segments whose normals are closer than about 37° share smoothed vertices;
/// sharper corners (caps, shoulders, chamfers) get a hard edge.
const SMOOTH_COS: f32 = 0.8;

/// Sine and cosine of an angle given in turns.
///
/// The platform `sin`/`cos` come from its libm and may differ in the last bit between systems;
/// this uses only IEEE basic arithmetic so generated files are identical wherever they are built.
pub fn sin_cos_turns(turns: f64) -> (f64, f64) {
    let quarters = (turns - turns.floor()) * 4.0;
    let quadrant = quarters.floor();
    let x = (quarters - quadrant) * std::f64::consts::FRAC_PI_2;
    let x2 = x * x;
    // Horner form of the Taylor series on [0, π/2); the omitted terms are below 1e-17.
    let (mut sin, mut cos) = (1.0, 1.0);
    for k in (1..=11_u32).rev() {
        sin = 1.0 - x2 / f64::from(2 * k * (2 * k + 1)) * sin;
        cos = 1.0 - x2 / f64::from((2 * k - 1) * 2 * k) * cos;
    }
    sin *= x;
    match quadrant as u8 {
        0 => (sin, cos),
        1 => (cos, -sin),
        2 => (-sin, -cos),
        _ => (-cos, sin),
    }
}

/// A rotation of `turns` full turns about a unit `axis` (right-handed), built without libm.
pub fn rotation(axis: Vec3, turns: f64) -> Quat {
    let (s, c) = sin_cos_turns(turns * 0.5);
    let v = axis * s as f32;
    Quat::from_xyzw(v.x, v.y, v.z, c as f32)
}

/// An indexed triangle list with per-vertex normals, counter-clockwise seen from outside.
///
/// Primitives are built about the origin with +Y as their axis; move them with
/// [`MeshBuilder::placed`] or [`MeshBuilder::transformed`] and merge them with
/// [`MeshBuilder::append`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeshBuilder {
    positions: Vec<Vec3>,
    normals: Vec<Vec3>,
    indices: Vec<u32>,
}

/// A circle of lathe vertices: its first index, the index step (0 for a flat cap's single
/// centre vertex) and whether it lies on the axis, which makes its band a fan.
#[derive(Debug, Clone, Copy)]
struct Ring(u32, u32, bool);

impl MeshBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    pub fn vertex_count(&self) -> usize {
        self.positions.len()
    }

    pub fn triangle_count(&self) -> usize {
        self.indices.len() / 3
    }

    /// The axis-aligned bounds of the vertices; infinite when there are none.
    pub fn bounds(&self) -> (Vec3, Vec3) {
        let points = self.positions.iter();
        let min = points.clone().fold(Vec3::INFINITY, |a, &p| a.min(p));
        (min, points.fold(Vec3::NEG_INFINITY, |a, &p| a.max(p)))
    }

    /// Adds a vertex and returns its index.
    pub fn vertex(&mut self, position: Vec3, normal: Vec3) -> u32 {
        let index = self.next_index();
        self.positions.push(position);
        self.normals.push(normal);
        index
    }

    /// Adds a triangle, counter-clockwise seen from the side its normals face.
    ///
    /// # Panics
    /// If an index does not name a vertex of this mesh.
    pub fn triangle(&mut self, a: u32, b: u32, c: u32) {
        let count = self.next_index();
        assert!(a.max(b).max(c) < count, "index past {count} vertices");
        self.indices.extend([a, b, c]);
    }

    pub fn append(&mut self, other: MeshBuilder) {
        let offset = self.next_index();
        self.positions.extend(other.positions);
        self.normals.extend(other.normals);
        self.indices
            .extend(other.indices.iter().map(|i| i + offset));
    }

    pub fn transformed(mut self, matrix: Mat4) -> Self {
        let normal_matrix = Mat3::from_mat4(matrix).inverse().transpose();
        for p in &mut self.positions {
            *p = matrix.transform_point3(*p);
        }
        for n in &mut self.normals {
            *n = (normal_matrix * *n).normalize_or_zero();
        }
        // A mirroring transform turns counter-clockwise triangles clockwise.
        if matrix.determinant() < 0.0 {
            for triangle in self.indices.chunks_exact_mut(3) {
                triangle.swap(1, 2);
            }
        }
        self
    }

    pub fn placed(self, translation: Vec3, rotation: Quat) -> Self {
        self.transformed(Mat4::from_rotation_translation(rotation, translation))
    }

    pub fn translated(self, translation: Vec3) -> Self {
        self.transformed(Mat4::from_translation(translation))
    }

    /// An axis-aligned box with hard edges.
    pub fn cuboid(min: Vec3, max: Vec3) -> Self {
        let (a, b) = (min.xz(), max.xz());
        let outline = [(b.x, a.y), (a.x, a.y), (a.x, b.y), (b.x, b.y)];
        Self::prism(&outline, max.y - min.y).translated(Vec3::Y * min.y)
    }

    /// A capped cylinder standing on the origin, axis +Y.
    pub fn cylinder(radius: f32, height: f32, segments: u32) -> Self {
        let profile = [(0.0, 0.0), (radius, 0.0), (radius, height), (0.0, height)];
        Self::lathe(&profile, segments)
    }

    /// A cone standing on the origin with its apex at `height` on +Y.
    pub fn cone(radius: f32, height: f32, segments: u32) -> Self {
        Self::lathe(&[(0.0, 0.0), (radius, 0.0), (0.0, height)], segments)
    }

    /// Revolves a profile of (radius, height) points about +Y.
    ///
    /// The profile runs counter-clockwise in the (radius, height) plane, i.e. with the outside
    /// of the surface on its right: bottom centre outwards, up the side, back in to the top
    /// centre. Points on the axis close the surface; repeating the first point closes a ring.
    pub fn lathe<P: Copy + Into<Vec2>>(profile: &[P], segments: u32) -> Self {
        assert!(segments >= 3, "a lathe needs at least 3 segments");
        let mut points: Vec<Vec2> = profile.iter().map(|&p| p.into()).collect();
        points.dedup();
        let normal = |w: &[Vec2]| -(w[1] - w[0]).perp().normalize();
        let normals: Vec<Vec2> = points.windows(2).map(normal).collect();
        let smooth = |i: usize| normals[i].dot(normals[i + 1]) >= SMOOTH_COS;
        let mut mesh = Self::new();
        let mut previous_end = None;
        for (i, &normal) in normals.iter().enumerate() {
            let start = match previous_end {
                Some(ring) if smooth(i - 1) => ring,
                _ => mesh.ring(points[i], normal, segments),
            };
            let end_normal = if i + 1 < normals.len() && smooth(i) {
                (normal + normals[i + 1]).normalize()
            } else {
                normal
            };
            let end = mesh.ring(points[i + 1], end_normal, segments);
            mesh.connect(start, end, segments);
            previous_end = Some(end);
        }
        mesh
    }

    /// A ring (O-ring, handle) lying in the XZ plane around the origin.
    pub fn torus(major: f32, minor: f32, major_segments: u32, minor_segments: u32) -> Self {
        let mut mesh = Self::new();
        let rings: Vec<Ring> = (0..minor_segments)
            .map(|i| {
                let (s, c) = sin_cos_turns(f64::from(i) / f64::from(minor_segments));
                let normal = Vec2::new(c as f32, s as f32);
                mesh.ring(Vec2::X * major + normal * minor, normal, major_segments)
            })
            .collect();
        for (i, &ring) in rings.iter().enumerate() {
            mesh.connect(ring, rings[(i + 1) % rings.len()], major_segments);
        }
        mesh
    }

    /// Extrudes a closed outline of (x, z) points from y = 0 to `height`, flat walls and caps.
    ///
    /// The outline runs anticlockwise seen from above, the way positive turns about +Y and a
    /// lathe's segments go, and must be star-shaped about its vertex average, which the caps are
    /// fanned from. Ribbed or pleated outlines give fins, knurls and pleats with crisp edges.
    pub fn prism<P: Copy + Into<Vec2>>(outline: &[P], height: f32) -> Self {
        let outline: Vec<Vec2> = outline.iter().map(|&p| p.into()).collect();
        let mut mesh = Self::new();
        let at = |p: Vec2, y: f32| Vec3::new(p.x, y, p.y);
        for (i, &p) in outline.iter().enumerate() {
            let q = outline[(i + 1) % outline.len()];
            let normal = at((q - p).perp().normalize(), 0.0);
            let [p0, q0, q1, p1] = [at(p, 0.0), at(q, 0.0), at(q, height), at(p, height)]
                .map(|v| mesh.vertex(v, normal));
            mesh.triangle(p0, q0, q1);
            mesh.triangle(p0, q1, p1);
        }
        let centre = outline.iter().copied().sum::<Vec2>() / outline.len() as f32;
        let n = outline.len() as u32;
        for (y, normal) in [(0.0, Vec3::NEG_Y), (height, Vec3::Y)] {
            let hub = mesh.vertex(at(centre, y), normal);
            for &p in &outline {
                mesh.vertex(at(p, y), normal);
            }
            for i in 0..n {
                let (a, b) = (hub + 1 + i, hub + 1 + (i + 1) % n);
                let (a, b) = if y == 0.0 { (b, a) } else { (a, b) };
                mesh.triangle(hub, a, b);
            }
        }
        mesh
    }

    fn next_index(&self) -> u32 {
        u32::try_from(self.positions.len()).expect("fewer than 2³² vertices")
    }

    fn ring(&mut self, point: Vec2, normal: Vec2, segments: u32) -> Ring {
        let first = self.next_index();
        let apex = point.x <= 0.0;
        if apex && normal.x == 0.0 {
            self.vertex(Vec3::new(0.0, point.y, 0.0), Vec3::new(0.0, normal.y, 0.0));
            return Ring(first, 0, apex);
        }
        // An apex vertex serves one fan triangle, so its normal points between that triangle's
        // two outer edges.
        let offset = if apex { 0.5 } else { 0.0 };
        for j in 0..segments {
            let (s, c) = sin_cos_turns((f64::from(j) + offset) / f64::from(segments));
            let (s, c) = (s as f32, c as f32);
            let position = if apex {
                Vec3::new(0.0, point.y, 0.0)
            } else {
                Vec3::new(point.x * c, point.y, -point.x * s)
            };
            self.vertex(position, Vec3::new(normal.x * c, normal.y, -normal.x * s));
        }
        Ring(first, 1, apex)
    }

    fn connect(&mut self, a: Ring, b: Ring, segments: u32) {
        for j in 0..segments {
            let k = (j + 1) % segments;
            let [a0, a1, b0, b1] = [(a, j), (a, k), (b, j), (b, k)].map(|(r, i)| r.0 + r.1 * i);
            match (a.2, b.2) {
                (true, true) => {}
                (true, false) => self.triangle(a0, b1, b0),
                (false, true) => self.triangle(a0, a1, b0),
                (false, false) => {
                    self.triangle(a0, a1, b1);
                    self.triangle(a0, b1, b0);
                }
            }
        }
    }
}

/// A PBR metallic-roughness material; colours are linear, not sRGB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Material {
    pub name: String,
    pub base_color: [f32; 4],
    pub metallic: f32,
    pub roughness: f32,
    pub emissive: Option<[f32; 3]>,
    /// Blend by `base_color[3]`; otherwise opaque.
    pub blend: bool,
    pub double_sided: bool,
}

impl Material {
    /// An opaque dielectric of the given roughness.
    pub fn new(name: &str, [r, g, b]: [f32; 3], roughness: f32) -> Self {
        let (name, base_color) = (name.to_owned(), [r, g, b, 1.0]);
        Self {
            name,
            base_color,
            roughness,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MaterialId(usize);
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MeshId(usize);
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(usize);

/// A scene-graph node; its transform is relative to its parent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    pub name: String,
    pub mesh: Option<MeshId>,
    pub translation: Vec3,
    pub rotation: Quat,
    pub children: Vec<NodeId>,
}

impl Node {
    pub fn new(name: &str) -> Self {
        // glam's defaults are the identity transform.
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }
}

/// Keyframes of one animated node property as (seconds, value), interpolated linearly.
#[derive(Debug, Clone, PartialEq)]
pub enum Keyframes {
    Translation(Vec<(f32, Vec3)>),
    /// Consecutive rotations should differ by less than half a turn: players take the short way.
    Rotation(Vec<(f32, Quat)>),
}

/// Builds a single-scene glTF document and writes it as GLB.
///
/// The JSON is kept as `serde_json::Value`s in ordered maps, so the output never depends on hash
/// order. Nodes that are nobody's child become the scene's roots.
#[derive(Debug, Default)]
pub struct GlbDocument {
    bin: Vec<u8>,
    /// The document's top-level arrays by glTF name; only non-empty ones exist, as glTF requires.
    arrays: BTreeMap<&'static str, Vec<Value>>,
    parented: BTreeSet<usize>,
}

impl GlbDocument {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_material(&mut self, material: Material) -> MaterialId {
        let mut value = json!({
            "name": material.name,
            "pbrMetallicRoughness": {
                "baseColorFactor": numbers(&material.base_color),
                "metallicFactor": number(material.metallic),
                "roughnessFactor": number(material.roughness),
            },
        });
        if let Some(emissive) = material.emissive {
            value["emissiveFactor"] = numbers(&emissive).into();
        }
        if material.blend {
            value["alphaMode"] = "BLEND".into();
        }
        if material.double_sided {
            value["doubleSided"] = true.into();
        }
        MaterialId(self.push("materials", value))
    }

    /// Adds a mesh of one primitive per (material, triangles); empty parts are left out.
    ///
    /// # Panics
    /// If every part is empty or a position is not finite.
    pub fn add_mesh(&mut self, name: &str, parts: Vec<(MaterialId, MeshBuilder)>) -> MeshId {
        let mut primitives = Vec::new();
        for (material, mesh) in parts.into_iter().filter(|(_, m)| !m.is_empty()) {
            let (min, max) = mesh.bounds();
            assert!(min.is_finite() && max.is_finite(), "{name}: bad position");
            let position = self.floats(&flatten(&mesh.positions), "VEC3", ARRAY_BUFFER);
            self.set_bounds(position, &min.to_array(), &max.to_array());
            let normal = self.floats(&flatten(&mesh.normals), "VEC3", ARRAY_BUFFER);
            // 65535 is the primitive-restart value and must not appear in 16-bit indices.
            let wide = mesh.positions.len() >= 0xFFFF;
            let bytes = mesh.indices.iter().flat_map(|&i| match wide {
                true => i.to_le_bytes().to_vec(),
                false => (i as u16).to_le_bytes().to_vec(),
            });
            let format = (if wide { UNSIGNED_INT } else { UNSIGNED_SHORT }, "SCALAR");
            let target = Some(ELEMENT_ARRAY_BUFFER);
            let indices = self.accessor(bytes.collect(), target, format, mesh.indices.len());
            primitives.push(json!({
                "attributes": { "POSITION": position, "NORMAL": normal },
                "indices": indices,
                "material": material.0,
            }));
        }
        assert!(!primitives.is_empty(), "mesh {name} has no triangles");
        MeshId(self.push("meshes", json!({ "name": name, "primitives": primitives })))
    }

    /// # Panics
    /// If a child already has a parent: glTF nodes form disjoint trees.
    pub fn add_node(&mut self, node: Node) -> NodeId {
        let mut value = json!({ "name": node.name });
        if !node.children.is_empty() {
            for child in &node.children {
                assert!(self.parented.insert(child.0), "a node has one parent");
            }
            value["children"] = node.children.iter().map(|c| c.0).collect();
        }
        if let Some(mesh) = node.mesh {
            value["mesh"] = mesh.0.into();
        }
        if node.translation != Vec3::ZERO {
            value["translation"] = numbers(&node.translation.to_array()).into();
        }
        if node.rotation != Quat::IDENTITY {
            value["rotation"] = numbers(&node.rotation.to_array()).into();
        }
        NodeId(self.push("nodes", value))
    }

    /// # Panics
    /// If a channel has no keyframes or its times are negative or not strictly increasing.
    pub fn add_animation(&mut self, name: &str, channels: Vec<(NodeId, Keyframes)>) {
        let (mut targets, mut samplers) = (Vec::new(), Vec::new());
        for (node, keyframes) in channels {
            let ((times, values), path, kind) = match &keyframes {
                Keyframes::Translation(k) => (split(k, |v| v.to_array()), "translation", "VEC3"),
                Keyframes::Rotation(k) => {
                    (split(k, |q| q.normalize().to_array()), "rotation", "VEC4")
                }
            };
            let increasing = times.windows(2).all(|w| w[0] < w[1]);
            let valid = times.first().is_some_and(|&t| t >= 0.0) && increasing;
            assert!(valid, "{name}: keyframe times must be ≥ 0 s and increase");
            let output = self.floats(&values, kind, None);
            let input = self.floats(&times, "SCALAR", None);
            self.set_bounds(input, &times[..1], &times[times.len() - 1..]);
            let target = json!({ "node": node.0, "path": path });
            targets.push(json!({ "sampler": samplers.len(), "target": target }));
            samplers.push(json!({ "input": input, "output": output, "interpolation": "LINEAR" }));
        }
        let animation = json!({ "name": name, "channels": targets, "samplers": samplers });
        self.push("animations", animation);
    }

    /// The GLB container: 12-byte header, JSON chunk padded with spaces, BIN chunk with zeros.
    pub fn to_glb(&self) -> Vec<u8> {
        let node_count = self.arrays.get("nodes").map_or(0, Vec::len);
        let roots = (0..node_count).filter(|n| !self.parented.contains(n));
        let roots: Vec<usize> = roots.collect();
        let mut root = json!({
            "asset": { "version": "2.0", "generator": GENERATOR },
            "scene": 0,
            "scenes": [if roots.is_empty() { json!({}) } else { json!({ "nodes": roots }) }],
        });
        for (key, items) in &self.arrays {
            root[*key] = items.as_slice().into();
        }
        if !self.bin.is_empty() {
            root["buffers"] = json!([{ "byteLength": self.bin.len() }]);
        }
        let mut json = root.to_string().into_bytes();
        json.resize(json.len().next_multiple_of(4), b' ');
        let mut chunks = vec![(0x4E4F_534A_u32, json.as_slice())];
        if !self.bin.is_empty() {
            // Every view is padded to 4 bytes, so the buffer needs no further padding.
            chunks.push((0x004E_4942, self.bin.as_slice()));
        }
        let total = 12 + chunks.iter().map(|(_, data)| 8 + data.len()).sum::<usize>();
        let mut glb = Vec::with_capacity(total);
        for word in [0x4654_6C67, 2, u32_len(total)] {
            glb.extend(u32::to_le_bytes(word));
        }
        for (kind, data) in chunks {
            glb.extend(u32_len(data.len()).to_le_bytes());
            glb.extend(kind.to_le_bytes());
            glb.extend(data);
        }
        glb
    }

    fn push(&mut self, array: &'static str, value: Value) -> usize {
        let items = self.arrays.entry(array).or_default();
        items.push(value);
        items.len() - 1
    }

    /// Required on POSITION accessors and animation inputs.
    fn set_bounds(&mut self, accessor: usize, min: &[f32], max: &[f32]) {
        let accessor = &mut self.arrays.entry("accessors").or_default()[accessor];
        accessor["min"] = numbers(min).into();
        accessor["max"] = numbers(max).into();
    }

    /// A tightly packed float accessor of `kind` elements.
    fn floats(
        &mut self,
        values: &[f32],
        kind: &'static str,
        target: impl Into<Option<u32>>,
    ) -> usize {
        let width = match kind {
            "SCALAR" => 1,
            "VEC3" => 3,
            _ => 4,
        };
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.accessor(bytes, target.into(), (FLOAT, kind), values.len() / width)
    }

    fn accessor(
        &mut self,
        bytes: Vec<u8>,
        target: Option<u32>,
        (component, kind): (u32, &str),
        count: usize,
    ) -> usize {
        let mut view =
            json!({ "buffer": 0, "byteOffset": self.bin.len(), "byteLength": bytes.len() });
        if let Some(target) = target {
            view["target"] = target.into();
        }
        self.bin.extend(bytes);
        self.bin.resize(self.bin.len().next_multiple_of(4), 0);
        let view = self.push("bufferViews", view);
        let accessor =
            json!({ "bufferView": view, "componentType": component, "count": count, "type": kind });
        self.push("accessors", accessor)
    }
}

fn flatten(vectors: &[Vec3]) -> Vec<f32> {
    vectors.iter().flat_map(|v| v.to_array()).collect()
}

/// A JSON number in the f32's shortest decimal form rather than that of the f64 it widens to
/// (0.1, not 0.10000000149011612); both read back as the same f32.
fn number(value: f32) -> Value {
    value
        .to_string()
        .parse::<f64>()
        .map_or(Value::Null, Value::from)
}

fn numbers(values: &[f32]) -> Vec<Value> {
    values.iter().copied().map(number).collect()
}

/// Keyframe times, and values flattened to floats.
fn split<T: Copy, const N: usize>(
    keys: &[(f32, T)],
    floats: impl Fn(T) -> [f32; N],
) -> (Vec<f32>, Vec<f32>) {
    (
        keys.iter().map(|k| k.0).collect(),
        keys.iter().flat_map(|k| floats(k.1)).collect(),
    )
}

fn u32_len(len: usize) -> u32 {
    u32::try_from(len).expect("a GLB is smaller than 4 GiB")
}

#[cfg(test)]
mod tests;
