//! A minimal glTF 2.0 binary (.glb) writer for the generated demo holograms.
//!
//! Our own code rather than a crate: the assets must be reproducible byte for byte and carry no
//! third-party licence, and the subset they need (indexed triangle meshes, PBR factors, node TRS,
//! linear animations) is small. Units are metres and +Y is up, as glTF prescribes.

use glam::{Mat3, Mat4, Quat, Vec2, Vec3};
use serde::Serialize;

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
    // Horner form of the Taylor series on [0, π/2); omitted terms are below 1e-17.
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
/// Primitives are built about the origin with +Y as their axis; place them with
/// [`MeshBuilder::placed`] or [`MeshBuilder::transformed`] and merge them with [`MeshBuilder::append`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeshBuilder {
    positions: Vec<Vec3>,
    normals: Vec<Vec3>,
    indices: Vec<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Ring {
    first: u32,
    /// On the axis: its band becomes a fan and degenerate triangles are left out.
    apex: bool,
    single: bool,
}

impl Ring {
    fn at(self, j: u32) -> u32 {
        if self.single {
            self.first
        } else {
            self.first + j
        }
    }
}

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

    pub fn positions(&self) -> &[Vec3] {
        &self.positions
    }

    pub fn normals(&self) -> &[Vec3] {
        &self.normals
    }

    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Adds a vertex and returns its index.
    pub fn vertex(&mut self, position: Vec3, normal: Vec3) -> u32 {
        let index = u32::try_from(self.positions.len()).expect("fewer than 2³² vertices");
        self.positions.push(position);
        self.normals.push(normal);
        index
    }

    /// Adds a triangle, counter-clockwise seen from the side its normals face.
    ///
    /// # Panics
    /// If an index does not name a vertex of this mesh.
    pub fn triangle(&mut self, a: u32, b: u32, c: u32) {
        let count = self.positions.len();
        assert!(
            [a, b, c].iter().all(|&i| (i as usize) < count),
            "triangle ({a}, {b}, {c}) refers past the {count} vertices"
        );
        self.indices.extend([a, b, c]);
    }

    pub fn append(&mut self, other: MeshBuilder) {
        let offset = u32::try_from(self.positions.len()).expect("fewer than 2³² vertices");
        self.positions.extend(other.positions);
        self.normals.extend(other.normals);
        self.indices
            .extend(other.indices.into_iter().map(|i| i + offset));
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
        let outline = [
            Vec2::new(max.x, min.z),
            Vec2::new(min.x, min.z),
            Vec2::new(min.x, max.z),
            Vec2::new(max.x, max.z),
        ];
        Self::prism(&outline, max.y - min.y).translated(Vec3::Y * min.y)
    }

    /// A capped cylinder standing on the origin, axis +Y.
    pub fn cylinder(radius: f32, height: f32, segments: u32) -> Self {
        Self::lathe(
            &[
                Vec2::ZERO,
                Vec2::new(radius, 0.0),
                Vec2::new(radius, height),
                Vec2::new(0.0, height),
            ],
            segments,
        )
    }

    /// A capped cone standing on the origin with its apex at `height` on +Y.
    pub fn cone(radius: f32, height: f32, segments: u32) -> Self {
        Self::lathe(
            &[Vec2::ZERO, Vec2::new(radius, 0.0), Vec2::new(0.0, height)],
            segments,
        )
    }

    /// Revolves a profile of (radius, height) points about +Y.
    ///
    /// The profile runs counter-clockwise in the (radius, height) plane, i.e. with the outside of
    /// the surface on its right: bottom centre outwards, up the side, back in to the top centre.
    /// Points on the axis close the surface; repeating the first point closes a ring.
    pub fn lathe(profile: &[Vec2], segments: u32) -> Self {
        assert!(segments >= 3, "a lathe needs at least 3 segments");
        let mut points = profile.to_vec();
        points.dedup();
        let normals: Vec<Vec2> = points
            .windows(2)
            .map(|w| {
                let d = w[1] - w[0];
                Vec2::new(d.y, -d.x).normalize()
            })
            .collect();
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
                mesh.ring(
                    Vec2::new(major, 0.0) + normal * minor,
                    normal,
                    major_segments,
                )
            })
            .collect();
        for (i, &ring) in rings.iter().enumerate() {
            mesh.connect(ring, rings[(i + 1) % rings.len()], major_segments);
        }
        mesh
    }

    /// Extrudes a closed outline of (x, z) points from y = 0 to `height`, with flat walls and caps.
    ///
    /// The outline runs clockwise seen from above (the direction a lathe's segments go) and must
    /// be star-shaped about its vertex average, which the caps are fanned from. Ribbed or pleated
    /// outlines give fins, knurls and filter pleats with crisp edges.
    pub fn prism(outline: &[Vec2], height: f32) -> Self {
        let mut mesh = Self::new();
        let n = outline.len();
        for (i, &p) in outline.iter().enumerate() {
            let q = outline[(i + 1) % n];
            let d = q - p;
            let normal = Vec3::new(-d.y, 0.0, d.x).normalize();
            let p0 = mesh.vertex(Vec3::new(p.x, 0.0, p.y), normal);
            let q0 = mesh.vertex(Vec3::new(q.x, 0.0, q.y), normal);
            let q1 = mesh.vertex(Vec3::new(q.x, height, q.y), normal);
            let p1 = mesh.vertex(Vec3::new(p.x, height, p.y), normal);
            mesh.triangle(p0, q0, q1);
            mesh.triangle(p0, q1, p1);
        }
        let centre = outline.iter().copied().sum::<Vec2>() / n as f32;
        for (y, normal) in [(0.0, Vec3::NEG_Y), (height, Vec3::Y)] {
            let hub = mesh.vertex(Vec3::new(centre.x, y, centre.y), normal);
            let first = hub + 1;
            for p in outline {
                mesh.vertex(Vec3::new(p.x, y, p.y), normal);
            }
            for i in 0..n as u32 {
                let (a, b) = (first + i, first + (i + 1) % n as u32);
                if y == 0.0 {
                    mesh.triangle(hub, b, a);
                } else {
                    mesh.triangle(hub, a, b);
                }
            }
        }
        mesh
    }

    fn ring(&mut self, point: Vec2, normal: Vec2, segments: u32) -> Ring {
        let first = u32::try_from(self.positions.len()).expect("fewer than 2³² vertices");
        let apex = point.x <= 0.0;
        if apex && normal.x == 0.0 {
            self.vertex(Vec3::new(0.0, point.y, 0.0), Vec3::new(0.0, normal.y, 0.0));
            return Ring {
                first,
                apex,
                single: true,
            };
        }
        for j in 0..segments {
            // An apex vertex serves one fan triangle, so its normal points between that
            // triangle's two outer edges.
            let offset = if apex { 0.5 } else { 0.0 };
            let (s, c) = sin_cos_turns((f64::from(j) + offset) / f64::from(segments));
            let (s, c) = (s as f32, c as f32);
            let position = if apex {
                Vec3::new(0.0, point.y, 0.0)
            } else {
                Vec3::new(point.x * c, point.y, -point.x * s)
            };
            self.vertex(
                position,
                Vec3::new(normal.x * c, normal.y, -normal.x * s),
            );
        }
        Ring {
            first,
            apex,
            single: false,
        }
    }

    fn connect(&mut self, a: Ring, b: Ring, segments: u32) {
        for j in 0..segments {
            let k = (j + 1) % segments;
            match (a.apex, b.apex) {
                (true, true) => {}
                (true, false) => self.triangle(a.at(j), b.at(k), b.at(j)),
                (false, true) => self.triangle(a.at(j), a.at(k), b.at(j)),
                (false, false) => {
                    self.triangle(a.at(j), a.at(k), b.at(k));
                    self.triangle(a.at(j), b.at(k), b.at(j));
                }
            }
        }
    }
}

/// A PBR metallic-roughness material; colours are linear, not sRGB.
#[derive(Debug, Clone, PartialEq)]
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
    /// An opaque dielectric of medium roughness.
    pub fn new(name: impl Into<String>, linear_rgb: [f32; 3]) -> Self {
        let [r, g, b] = linear_rgb;
        Self {
            name: name.into(),
            base_color: [r, g, b, 1.0],
            metallic: 0.0,
            roughness: 0.5,
            emissive: None,
            blend: false,
            double_sided: false,
        }
    }

    pub fn with_metallic(mut self, metallic: f32) -> Self {
        self.metallic = metallic;
        self
    }

    pub fn with_roughness(mut self, roughness: f32) -> Self {
        self.roughness = roughness;
        self
    }

    pub fn with_emissive(mut self, linear_rgb: [f32; 3]) -> Self {
        self.emissive = Some(linear_rgb);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MaterialId(usize);
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MeshId(usize);
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(usize);

/// A scene-graph node; the transform is relative to its parent.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub mesh: Option<MeshId>,
    pub translation: Vec3,
    pub rotation: Quat,
    pub children: Vec<NodeId>,
}

impl Node {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            mesh: None,
            translation: Vec3::ZERO,
            rotation: Quat::IDENTITY,
            children: Vec::new(),
        }
    }

    pub fn with_mesh(mut self, mesh: MeshId) -> Self {
        self.mesh = Some(mesh);
        self
    }

    pub fn with_translation(mut self, translation: Vec3) -> Self {
        self.translation = translation;
        self
    }

    pub fn with_rotation(mut self, rotation: Quat) -> Self {
        self.rotation = rotation;
        self
    }

    pub fn with_children(mut self, children: impl IntoIterator<Item = NodeId>) -> Self {
        self.children.extend(children);
        self
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
#[derive(Debug, Default)]
pub struct GlbDocument {
    bin: Vec<u8>,
    buffer_views: Vec<BufferViewJson>,
    accessors: Vec<AccessorJson>,
    materials: Vec<MaterialJson>,
    meshes: Vec<MeshJson>,
    nodes: Vec<NodeJson>,
    has_parent: Vec<bool>,
    roots: Vec<usize>,
    animations: Vec<AnimationJson>,
    /// Channels with identical keyframe times share one input accessor.
    inputs: Vec<(Vec<u32>, usize)>,
}

impl GlbDocument {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_material(&mut self, material: Material) -> MaterialId {
        let [r, g, b, a] = material.base_color;
        self.materials.push(MaterialJson {
            name: material.name,
            pbr_metallic_roughness: PbrJson {
                base_color_factor: [r, g, b, a],
                metallic_factor: material.metallic,
                roughness_factor: material.roughness,
            },
            emissive_factor: material.emissive,
            alpha_mode: material.blend.then_some("BLEND"),
            double_sided: material.double_sided,
        });
        MaterialId(self.materials.len() - 1)
    }

    /// Adds a mesh of one primitive per (material, triangles); empty parts are left out.
    ///
    /// # Panics
    /// If every part is empty or a position is not finite.
    pub fn add_mesh(
        &mut self,
        name: impl Into<String>,
        parts: Vec<(MaterialId, MeshBuilder)>,
    ) -> MeshId {
        let name = name.into();
        let mut primitives = Vec::new();
        for (material, mesh) in parts.into_iter().filter(|(_, m)| !m.is_empty()) {
            assert!(
                mesh.positions.iter().all(|p| p.is_finite()),
                "mesh {name} has a non-finite position"
            );
            let min = mesh.positions.iter().fold(Vec3::INFINITY, |a, &p| a.min(p));
            let max = mesh
                .positions
                .iter()
                .fold(Vec3::NEG_INFINITY, |a, &p| a.max(p));
            let count = mesh.vertex_count();
            let position = self.push_floats(
                mesh.positions.iter().flat_map(|p| p.to_array()),
                Some(ARRAY_BUFFER),
                (count, "VEC3"),
                Some((min.to_array().to_vec(), max.to_array().to_vec())),
            );
            let normal = self.push_floats(
                mesh.normals.iter().flat_map(|n| n.to_array()),
                Some(ARRAY_BUFFER),
                (count, "VEC3"),
                None,
            );
            // 65535 is the primitive-restart value and must not appear in 16-bit indices.
            let (bytes, component_type): (Vec<u8>, _) = if count < usize::from(u16::MAX) {
                let bytes = mesh.indices.iter().flat_map(|&i| (i as u16).to_le_bytes());
                (bytes.collect(), UNSIGNED_SHORT)
            } else {
                let bytes = mesh.indices.iter().flat_map(|&i| i.to_le_bytes());
                (bytes.collect(), UNSIGNED_INT)
            };
            let view = self.push_view(bytes, Some(ELEMENT_ARRAY_BUFFER));
            let indices =
                self.push_accessor(view, component_type, (mesh.indices.len(), "SCALAR"), None);
            primitives.push(PrimitiveJson {
                attributes: AttributesJson { position, normal },
                indices,
                material: material.0,
            });
        }
        assert!(!primitives.is_empty(), "mesh {name} has no triangles");
        self.meshes.push(MeshJson { name, primitives });
        MeshId(self.meshes.len() - 1)
    }

    /// # Panics
    /// If a child already has a parent or is a scene root: glTF nodes form disjoint trees.
    pub fn add_node(&mut self, node: Node) -> NodeId {
        let children: Vec<usize> = node.children.iter().map(|c| c.0).collect();
        for &child in &children {
            assert!(
                !self.has_parent[child] && !self.roots.contains(&child),
                "node {} would get a second parent",
                self.nodes[child].name
            );
            self.has_parent[child] = true;
        }
        self.nodes.push(NodeJson {
            name: node.name,
            children,
            mesh: node.mesh.map(|m| m.0),
            translation: (node.translation != Vec3::ZERO).then(|| node.translation.to_array()),
            rotation: (node.rotation != Quat::IDENTITY).then(|| node.rotation.to_array()),
        });
        self.has_parent.push(false);
        NodeId(self.nodes.len() - 1)
    }

    /// # Panics
    /// If the node already has a parent or is a root.
    pub fn add_scene_root(&mut self, node: NodeId) {
        assert!(
            !self.has_parent[node.0] && !self.roots.contains(&node.0),
            "node {} cannot be a scene root twice or below another node",
            self.nodes[node.0].name
        );
        self.roots.push(node.0);
    }

    /// # Panics
    /// If a channel has no keyframes or its times are negative or not strictly increasing.
    pub fn add_animation(&mut self, name: impl Into<String>, channels: Vec<(NodeId, Keyframes)>) {
        let name = name.into();
        let mut animation = AnimationJson {
            name,
            channels: Vec::new(),
            samplers: Vec::new(),
        };
        for (node, keyframes) in channels {
            let (times, values, path): (Vec<f32>, Vec<f32>, _) = match &keyframes {
                Keyframes::Translation(k) => {
                    let values = k.iter().flat_map(|(_, v)| v.to_array()).collect();
                    (k.iter().map(|(t, _)| *t).collect(), values, "translation")
                }
                Keyframes::Rotation(k) => {
                    let values = k
                        .iter()
                        .flat_map(|(_, q)| q.normalize().to_array())
                        .collect();
                    (k.iter().map(|(t, _)| *t).collect(), values, "rotation")
                }
            };
            assert!(
                !times.is_empty() && times[0] >= 0.0 && times.windows(2).all(|w| w[0] < w[1]),
                "animation {} has keyframe times that are empty, negative or not increasing",
                animation.name
            );
            let input = self.input_accessor(&times);
            let kind = if path == "rotation" { "VEC4" } else { "VEC3" };
            let output = self.push_floats(values, None, (times.len(), kind), None);
            animation.channels.push(ChannelJson {
                sampler: animation.samplers.len(),
                target: TargetJson { node: node.0, path },
            });
            animation.samplers.push(SamplerJson {
                input,
                output,
                interpolation: "LINEAR",
            });
        }
        self.animations.push(animation);
    }

    /// The GLB container: 12-byte header, JSON chunk padded with spaces, BIN chunk padded with zeros.
    pub fn to_glb(&self) -> Vec<u8> {
        let root = RootJson {
            asset: AssetJson {
                version: "2.0",
                generator: GENERATOR,
            },
            scene: 0,
            scenes: [SceneJson { nodes: &self.roots }],
            nodes: &self.nodes,
            meshes: &self.meshes,
            materials: &self.materials,
            accessors: &self.accessors,
            buffer_views: &self.buffer_views,
            buffers: if self.bin.is_empty() {
                Vec::new()
            } else {
                vec![BufferJson {
                    byte_length: self.bin.len(),
                }]
            },
            animations: &self.animations,
        };
        // Only structs, string keys and numbers: serialisation into memory cannot fail.
        let mut json = serde_json::to_vec(&root).expect("glTF JSON serialises");
        json.resize(json.len().next_multiple_of(4), b' ');
        let mut chunks = vec![(0x4E4F_534A_u32, json)];
        if !self.bin.is_empty() {
            // Views are kept 4-byte aligned, so the buffer is already a multiple of 4 long.
            chunks.push((0x004E_4942, self.bin.clone()));
        }
        let total = 12 + chunks.iter().map(|(_, data)| 8 + data.len()).sum::<usize>();
        let mut glb = Vec::with_capacity(total);
        glb.extend(0x4654_6C67_u32.to_le_bytes());
        glb.extend(2_u32.to_le_bytes());
        glb.extend(u32_len(total).to_le_bytes());
        for (kind, data) in chunks {
            glb.extend(u32_len(data.len()).to_le_bytes());
            glb.extend(kind.to_le_bytes());
            glb.extend(data);
        }
        glb
    }

    fn input_accessor(&mut self, times: &[f32]) -> usize {
        let key: Vec<u32> = times.iter().map(|t| t.to_bits()).collect();
        if let Some((_, accessor)) = self.inputs.iter().find(|(k, _)| *k == key) {
            return *accessor;
        }
        let (first, last) = (times[0], times[times.len() - 1]);
        let accessor = self.push_floats(
            times.to_vec(),
            None,
            (times.len(), "SCALAR"),
            Some((vec![first], vec![last])),
        );
        self.inputs.push((key, accessor));
        accessor
    }

    fn push_floats(
        &mut self,
        values: impl IntoIterator<Item = f32>,
        target: Option<u32>,
        shape: (usize, &'static str),
        min_max: Option<(Vec<f32>, Vec<f32>)>,
    ) -> usize {
        let bytes = values.into_iter().flat_map(f32::to_le_bytes).collect();
        let view = self.push_view(bytes, target);
        self.push_accessor(view, FLOAT, shape, min_max)
    }

    fn push_view(&mut self, bytes: Vec<u8>, target: Option<u32>) -> usize {
        let byte_offset = self.bin.len();
        self.buffer_views.push(BufferViewJson {
            buffer: 0,
            byte_offset,
            byte_length: bytes.len(),
            target,
        });
        self.bin.extend(bytes);
        self.bin.resize(self.bin.len().next_multiple_of(4), 0);
        self.buffer_views.len() - 1
    }

    fn push_accessor(
        &mut self,
        buffer_view: usize,
        component_type: u32,
        (count, kind): (usize, &'static str),
        min_max: Option<(Vec<f32>, Vec<f32>)>,
    ) -> usize {
        let (min, max) = min_max.unzip();
        self.accessors.push(AccessorJson {
            buffer_view,
            component_type,
            count,
            kind,
            min,
            max,
        });
        self.accessors.len() - 1
    }
}

fn u32_len(len: usize) -> u32 {
    u32::try_from(len).expect("a GLB is smaller than 4 GiB")
}

// The JSON mirrors the glTF schema; struct field order fixes the key order of the output.

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RootJson<'a> {
    asset: AssetJson,
    scene: usize,
    scenes: [SceneJson<'a>; 1],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    nodes: &'a [NodeJson],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    meshes: &'a [MeshJson],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    materials: &'a [MaterialJson],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    accessors: &'a [AccessorJson],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    buffer_views: &'a [BufferViewJson],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    buffers: Vec<BufferJson>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    animations: &'a [AnimationJson],
}

#[derive(Serialize)]
struct AssetJson {
    version: &'static str,
    generator: &'static str,
}

#[derive(Serialize)]
struct SceneJson<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    nodes: &'a [usize],
}

#[derive(Debug, Serialize)]
struct NodeJson {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    children: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mesh: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    translation: Option<[f32; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation: Option<[f32; 4]>,
}

#[derive(Debug, Serialize)]
struct MeshJson {
    name: String,
    primitives: Vec<PrimitiveJson>,
}

#[derive(Debug, Serialize)]
struct PrimitiveJson {
    attributes: AttributesJson,
    indices: usize,
    material: usize,
}

#[derive(Debug, Serialize)]
struct AttributesJson {
    #[serde(rename = "POSITION")]
    position: usize,
    #[serde(rename = "NORMAL")]
    normal: usize,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MaterialJson {
    name: String,
    pbr_metallic_roughness: PbrJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    emissive_factor: Option<[f32; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alpha_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    double_sided: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PbrJson {
    base_color_factor: [f32; 4],
    metallic_factor: f32,
    roughness_factor: f32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AccessorJson {
    buffer_view: usize,
    component_type: u32,
    count: usize,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<Vec<f32>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct BufferViewJson {
    buffer: usize,
    byte_offset: usize,
    byte_length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BufferJson {
    byte_length: usize,
}

#[derive(Debug, Serialize)]
struct AnimationJson {
    name: String,
    channels: Vec<ChannelJson>,
    samplers: Vec<SamplerJson>,
}

#[derive(Debug, Serialize)]
struct ChannelJson {
    sampler: usize,
    target: TargetJson,
}

#[derive(Debug, Serialize)]
struct TargetJson {
    node: usize,
    path: &'static str,
}

#[derive(Debug, Serialize)]
struct SamplerJson {
    input: usize,
    output: usize,
    interpolation: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn samples() -> Vec<(&'static str, MeshBuilder)> {
        let bowl = [
            Vec2::new(0.0, 0.0),
            Vec2::new(0.03, 0.0),
            Vec2::new(0.04, 0.005),
            Vec2::new(0.045, 0.015),
            Vec2::new(0.045, 0.1),
            Vec2::new(0.0, 0.1),
        ];
        let annulus = [
            Vec2::new(0.01, 0.0),
            Vec2::new(0.03, 0.0),
            Vec2::new(0.03, 0.01),
            Vec2::new(0.01, 0.01),
            Vec2::new(0.01, 0.0),
        ];
        let star: Vec<Vec2> = (0..24)
            .map(|i| {
                let (s, c) = sin_cos_turns(f64::from(i) / 24.0);
                let r = if i % 2 == 0 { 0.035 } else { 0.03 };
                Vec2::new(c as f32, -s as f32) * r
            })
            .collect();
        let mirror = Mat4::from_scale(Vec3::new(-1.0, 1.0, 2.0));
        vec![
            (
                "cuboid",
                MeshBuilder::cuboid(Vec3::new(-0.1, 0.2, -0.3), Vec3::new(0.4, 0.5, 0.6)),
            ),
            ("cylinder", MeshBuilder::cylinder(0.05, 0.2, 24)),
            ("cone", MeshBuilder::cone(0.02, 0.05, 16)),
            (
                "downward cone",
                MeshBuilder::lathe(
                    &[Vec2::ZERO, Vec2::new(0.02, 0.05), Vec2::new(0.0, 0.05)],
                    16,
                ),
            ),
            ("bowl", MeshBuilder::lathe(&bowl, 32)),
            ("annulus", MeshBuilder::lathe(&annulus, 32)),
            ("star prism", MeshBuilder::prism(&star, 0.1)),
            ("torus", MeshBuilder::torus(0.05, 0.01, 32, 12)),
            (
                "mirrored torus",
                MeshBuilder::torus(0.05, 0.01, 32, 12).transformed(mirror),
            ),
            (
                "placed cylinder",
                MeshBuilder::cylinder(0.05, 0.2, 24).placed(Vec3::X, rotation(Vec3::Z, -0.25)),
            ),
        ]
    }

    #[test]
    fn sin_cos_turns_agrees_with_the_platform_and_is_exact_at_quarter_turns() {
        for i in -400..=400 {
            let turns = f64::from(i) / 97.0;
            let (s, c) = sin_cos_turns(turns);
            let (es, ec) = (turns * std::f64::consts::TAU).sin_cos();
            assert!(
                (s - es).abs() < 1e-12 && (c - ec).abs() < 1e-12,
                "at {turns} turns"
            );
        }
        assert_eq!(sin_cos_turns(0.0), (0.0, 1.0));
        assert_eq!(sin_cos_turns(0.25), (1.0, -0.0));
        assert_eq!(sin_cos_turns(-0.5), (-0.0, -1.0));
    }

    #[test]
    fn triangles_wind_counter_clockwise_towards_their_normals() {
        for (name, mesh) in samples() {
            let (p, n) = (mesh.positions(), mesh.normals());
            for t in mesh.indices().chunks_exact(3) {
                let [a, b, c] = [t[0], t[1], t[2]].map(|i| i as usize);
                let face = (p[b] - p[a]).cross(p[c] - p[a]);
                assert!(
                    face.length() > 1e-9,
                    "{name} has a degenerate triangle {t:?}"
                );
                for v in [a, b, c] {
                    assert!(
                        face.dot(n[v]) > 0.0,
                        "{name}: triangle {t:?} faces away from vertex {v}"
                    );
                    assert!(
                        (n[v].length() - 1.0).abs() < 1e-5,
                        "{name}: normal {v} is not unit"
                    );
                }
            }
        }
    }

    #[test]
    fn closed_primitives_are_watertight() {
        // Every directed edge must meet its reverse exactly once, comparing positions bit for bit.
        for (name, mesh) in samples() {
            let key = |i: u32| mesh.positions()[i as usize].to_array().map(f32::to_bits);
            let mut edges = BTreeMap::new();
            for t in mesh.indices().chunks_exact(3) {
                for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                    *edges.entry((key(a), key(b))).or_insert(0) += 1;
                }
            }
            for (&(a, b), &count) in &edges {
                assert_eq!(count, 1, "{name}: edge repeated");
                assert_eq!(
                    edges.get(&(b, a)),
                    Some(&1),
                    "{name}: open edge {a:?} -> {b:?}"
                );
            }
        }
    }

    #[test]
    fn smooth_surfaces_share_vertices_and_corners_stay_hard() {
        let cylinder = MeshBuilder::cylinder(1.0, 1.0, 8);
        // Two single-vertex cap centres and four rings: the caps' and the side's at each rim.
        assert_eq!(cylinder.vertex_count(), 2 + 4 * 8);
        assert_eq!(cylinder.triangle_count(), 4 * 8);
        let torus = MeshBuilder::torus(1.0, 0.25, 8, 6);
        assert_eq!(torus.vertex_count(), 8 * 6);
        for (p, n) in torus.positions().iter().zip(torus.normals()) {
            let centre = Vec3::new(p.x, 0.0, p.z).normalize();
            assert!((*p - centre - *n * 0.25).length() < 1e-6);
        }
    }

    fn sample_document(big: bool) -> Vec<u8> {
        let mut doc = GlbDocument::new();
        let paint = doc.add_material(Material::new("paint", [0.1, 0.2, 0.3]).with_roughness(0.7));
        let glow = doc.add_material(
            Material::new("glow", [1.0, 0.4, 0.0])
                .with_metallic(0.2)
                .with_emissive([1.0, 0.4, 0.0]),
        );
        let body = if big {
            MeshBuilder::torus(1.0, 0.1, 400, 200)
        } else {
            MeshBuilder::cylinder(0.1, 0.3, 5)
        };
        let mesh = doc.add_mesh(
            "part",
            vec![
                (paint, body),
                (glow, MeshBuilder::new()),
                (glow, MeshBuilder::cone(0.1, 0.1, 3)),
            ],
        );
        let child = doc.add_node(
            Node::new("moving")
                .with_mesh(mesh)
                .with_translation(Vec3::X),
        );
        let root = doc.add_node(Node::new("root").with_children([child]));
        doc.add_scene_root(root);
        let times = [0.0, 0.5, 1.0];
        let up = Keyframes::Translation(times.iter().map(|&t| (t, Vec3::Y * t)).collect());
        let turn = Keyframes::Rotation(
            times
                .iter()
                .map(|&t| (t, rotation(Vec3::Y, f64::from(t) * 0.25)))
                .collect(),
        );
        doc.add_animation("move", vec![(child, up), (child, turn)]);
        doc.to_glb()
    }

    #[test]
    fn glb_container_has_correct_lengths_padding_and_alignment() {
        let glb = sample_document(false);
        let word = |at: usize| u32::from_le_bytes(glb[at..at + 4].try_into().expect("4 bytes"));
        assert_eq!(&glb[..4], b"glTF");
        assert_eq!(word(4), 2);
        assert_eq!(word(8) as usize, glb.len());
        let json_len = word(12) as usize;
        assert_eq!(word(16), 0x4E4F_534A);
        assert_eq!(json_len % 4, 0);
        let json = &glb[20..20 + json_len];
        let text = std::str::from_utf8(json).expect("UTF-8 JSON");
        assert!(text.starts_with('{') && text.trim_end().ends_with('}'));
        assert!(text[text.trim_end().len()..].bytes().all(|b| b == b' '));
        let bin_at = 20 + json_len;
        let bin_len = word(bin_at) as usize;
        assert_eq!(word(bin_at + 4), 0x004E_4942);
        assert_eq!(bin_len % 4, 0);
        assert_eq!(bin_at + 8 + bin_len, glb.len());

        let value: serde_json::Value = serde_json::from_slice(json).expect("JSON");
        assert_eq!(value["asset"]["generator"], GENERATOR);
        assert_eq!(value["buffers"][0]["byteLength"], bin_len);
        for view in value["bufferViews"].as_array().expect("views") {
            assert_eq!(view["byteOffset"].as_u64().expect("offset") % 4, 0);
        }
        assert_eq!(
            value["meshes"][0]["primitives"]
                .as_array()
                .expect("primitives")
                .len(),
            2
        );
        assert_eq!(
            value["animations"][0]["samplers"][0]["input"],
            value["animations"][0]["samplers"][1]["input"]
        );
    }

    #[test]
    fn written_documents_load_in_the_gltf_crate() {
        for big in [false, true] {
            let glb = sample_document(big);
            let (document, buffers, _) = gltf::import_slice(&glb).expect("valid glTF");
            let primitive = document
                .meshes()
                .next()
                .expect("mesh")
                .primitives()
                .next()
                .expect("primitive");
            let (min, max) = (primitive.bounding_box().min, primitive.bounding_box().max);
            let expected = if big {
                [1.1, 0.1, 1.1]
            } else {
                [0.1, 0.3, 0.1]
            };
            assert!(
                (max[1] - expected[1]).abs() < 1e-6 && min[1] < max[1],
                "{min:?} {max:?}"
            );
            let reader = primitive.reader(|b| Some(&buffers[b.index()]));
            let count = reader.read_positions().expect("positions").count();
            let indices = reader.read_indices().expect("indices");
            assert_eq!(
                matches!(indices, gltf::mesh::util::ReadIndices::U32(_)),
                big
            );
            assert!(indices.into_u32().all(|i| (i as usize) < count));
            let animation = document.animations().next().expect("animation");
            assert_eq!(animation.name(), Some("move"));
            assert_eq!(animation.channels().count(), 2);
        }
    }

    #[test]
    fn output_is_byte_for_byte_repeatable() {
        assert_eq!(sample_document(false), sample_document(false));
    }
}
