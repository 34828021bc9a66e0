//! glTF 2.0 holograms read into memory: meshes, PBR metallic-roughness materials, decoded
//! textures, the node tree and animations. No GPU here; the renderer uploads a [`Model`] once.
//!
//! Reading is defensive: every accessor and buffer view is bounds-checked against its buffer,
//! indices against the vertex count, and the node tree against cycles, so a hostile file is
//! refused with a message rather than read out of bounds. A broken texture or an unsupported
//! optional feature costs only that texture or feature, with a warning naming the asset.

mod accessor;
pub mod animation;
pub mod corpus;
mod draco;
mod geometry;
mod guard;
mod images;
mod load;
mod meshopt;
mod primitives;

use glam::{Mat4, Quat, Vec3};
use thiserror::Error;

pub use images::decode as decode_texture;
pub use load::{LoadOptions, load_model};

/// Extensions this loader understands; a file *requiring* any other is refused.
pub const SUPPORTED_REQUIRED_EXTENSIONS: &[&str] = &[
    "KHR_mesh_quantization",
    "EXT_meshopt_compression",
    "KHR_draco_mesh_compression",
    "KHR_materials_unlit",
    "KHR_texture_transform",
    "KHR_materials_emissive_strength",
    "EXT_texture_webp",
    // Drawn without the thin-film colour shift; the base material still shows the object.
    "KHR_materials_iridescence",
];

/// Clone: the renderer remembers a broken model's error and gives it again when asked.
#[derive(Debug, Clone, Error)]
pub enum ModelError {
    #[error("{asset}: cannot be read: {reason}")]
    Read { asset: String, reason: String },
    #[error("{asset}: not a glTF file: {reason}")]
    Parse { asset: String, reason: String },
    #[error("{asset}: requires the glTF extension {extension}, which this viewer does not support")]
    UnsupportedExtension { asset: String, extension: String },
    #[error("{asset}: {what}")]
    Invalid { asset: String, what: String },
    #[error("{asset}: buffer {index}: {reason}")]
    Buffer {
        asset: String,
        index: usize,
        reason: String,
    },
}

/// One vertex as the renderer's PBR pipeline reads it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Vertex {
    pub position: [f32; 3],
    pub normal: [f32; 3],
    /// xyz tangent, w handedness.
    pub tangent: [f32; 4],
    pub uv0: [f32; 2],
    pub uv1: [f32; 2],
    pub colour: [f32; 4],
    /// Skin joints (indices into the node's skin's joint list) and their weights; all-zero
    /// weights for vertices that are not skinned.
    pub joints: [u32; 4],
    pub weights: [f32; 4],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Primitive {
    pub vertices: Vec<Vertex>,
    /// Triangle list; strips and fans are converted, points and lines are dropped with a warning.
    pub indices: Vec<u32>,
    pub material: Option<usize>,
    /// Morph target position/normal deltas, one Vec per target (empty when there are none).
    pub morph_positions: Vec<Vec<[f32; 3]>>,
    pub morph_normals: Vec<Vec<[f32; 3]>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    pub name: Option<String>,
    pub primitives: Vec<Primitive>,
    pub default_weights: Vec<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlphaMode {
    Opaque,
    Mask,
    Blend,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextureRef {
    pub texture: usize,
    pub tex_coord: u32,
    /// KHR_texture_transform as a 2×3 matrix applied to the texture coordinates (rows).
    pub transform: [[f32; 3]; 2],
}

/// The identity texture-coordinate transform.
pub const UV_IDENTITY: [[f32; 3]; 2] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];

#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    pub base_colour: [f32; 4],
    pub metallic: f32,
    pub roughness: f32,
    pub emissive: [f32; 3],
    pub base_colour_texture: Option<TextureRef>,
    pub metallic_roughness_texture: Option<TextureRef>,
    pub normal_texture: Option<TextureRef>,
    pub normal_scale: f32,
    pub occlusion_texture: Option<TextureRef>,
    pub occlusion_strength: f32,
    pub emissive_texture: Option<TextureRef>,
    pub alpha_mode: AlphaMode,
    pub alpha_cutoff: f32,
    pub double_sided: bool,
    pub unlit: bool,
}

impl Default for Material {
    fn default() -> Self {
        Self {
            base_colour: [1.0; 4],
            metallic: 1.0,
            roughness: 1.0,
            emissive: [0.0; 3],
            base_colour_texture: None,
            metallic_roughness_texture: None,
            normal_texture: None,
            normal_scale: 1.0,
            occlusion_texture: None,
            occlusion_strength: 1.0,
            emissive_texture: None,
            alpha_mode: AlphaMode::Opaque,
            alpha_cutoff: 0.5,
            double_sided: false,
            unlit: false,
        }
    }
}

/// A decoded texture, RGBA8, with its sampler's wrap/filter settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Texture {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    pub sampler: SamplerSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SamplerSettings {
    pub repeat_u: WrapMode,
    pub repeat_v: WrapMode,
    pub nearest_mag: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WrapMode {
    #[default]
    Repeat,
    Mirror,
    Clamp,
}

/// A node's local transform as translation, rotation, scale (what animations drive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trs {
    pub translation: Vec3,
    pub rotation: Quat,
    pub scale: Vec3,
}

impl Trs {
    pub fn to_matrix(self) -> Mat4 {
        Mat4::from_scale_rotation_translation(self.scale, self.rotation, self.translation)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: Option<String>,
    pub local: Trs,
    pub children: Vec<usize>,
    pub mesh: Option<usize>,
    pub skin: Option<usize>,
}

/// A skeleton: joint nodes and the inverse bind matrices that take the mesh into each joint's
/// space at rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Skin {
    pub joints: Vec<usize>,
    pub inverse_bind: Vec<Mat4>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub meshes: Vec<Mesh>,
    pub materials: Vec<Material>,
    /// `None` where a texture could not be decoded (the material falls back to its factors).
    pub textures: Vec<Option<Texture>>,
    pub nodes: Vec<Node>,
    /// Root nodes of the scene shown.
    pub roots: Vec<usize>,
    pub animations: Vec<animation::Animation>,
    pub skins: Vec<Skin>,
    /// Problems that cost a feature, not the model ("texture 2 is not a PNG…").
    pub warnings: Vec<String>,
}

impl Model {
    pub fn triangle_count(&self) -> usize {
        self.meshes
            .iter()
            .flat_map(|m| &m.primitives)
            .map(|p| p.indices.len() / 3)
            .sum()
    }

    /// An animation by name, or by position as `#0`, `#1`… (for files whose animations have no
    /// names).
    pub fn animation(&self, name: &str) -> Option<&animation::Animation> {
        self.animations
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
            .or_else(|| {
                let index: usize = name.strip_prefix('#')?.parse().ok()?;
                self.animations.get(index)
            })
    }
}

impl Model {
    /// Axis-aligned bounds of the model at rest, in its own space (`None` when it has no
    /// vertices).
    pub fn bounds(&self) -> Option<(Vec3, Vec3)> {
        let locals: Vec<Trs> = self.nodes.iter().map(|n| n.local).collect();
        let mut world = Vec::new();
        animation::world_matrices(self, &locals, Mat4::IDENTITY, &mut world);
        let mut bounds: Option<(Vec3, Vec3)> = None;
        for (node, matrix) in self.nodes.iter().zip(&world) {
            let Some(mesh) = node.mesh.and_then(|m| self.meshes.get(m)) else {
                continue;
            };
            for v in mesh.primitives.iter().flat_map(|p| &p.vertices) {
                let p = matrix.transform_point3(Vec3::from(v.position));
                bounds = Some(match bounds {
                    Some((lo, hi)) => (lo.min(p), hi.max(p)),
                    None => (p, p),
                });
            }
        }
        bounds
    }
}

#[cfg(test)]
mod tests;
