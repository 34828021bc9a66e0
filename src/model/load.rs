//! From glTF/GLB bytes to a [`Model`]: parse, check, read buffers, materials, meshes, nodes,
//! animations.

use std::collections::HashSet;

use base64::Engine as _;
use glam::{Quat, Vec3};
use gltf::json;

use crate::guide::AssetError;

use super::accessor::{ViewData, read_vec};
use super::animation::{Animation, Channel, Interpolation, Values};
use super::geometry;
use super::guard::{check_animation_targets, check_glb_header, check_position_accessors};
use super::{
    AlphaMode, Material, Mesh, Model, ModelError, Node, SUPPORTED_REQUIRED_EXTENSIONS,
    SamplerSettings, Skin, Texture, TextureRef, Trs, WrapMode, images,
};

/// Reads files next to a `.gltf` (buffers, images) by their URI, already percent-decoded.
pub type Resolver<'a> = dyn Fn(&str) -> Result<Vec<u8>, AssetError> + 'a;

pub struct LoadOptions<'a> {
    /// Largest texture side the device accepts; bigger textures are scaled down with a warning.
    pub max_texture_dimension: u32,
    pub resolve: &'a Resolver<'a>,
}

/// Loads a model. `asset` names it in every message.
pub fn load_model(
    asset: &str,
    bytes: &[u8],
    options: &LoadOptions<'_>,
) -> Result<Model, ModelError> {
    let invalid = |what: String| ModelError::Invalid {
        asset: asset.to_owned(),
        what,
    };
    if bytes.is_empty() {
        return Err(ModelError::Parse {
            asset: asset.into(),
            reason: "the file is empty".into(),
        });
    }
    let gltf = check_glb_header(bytes)
        .and_then(|()| gltf::Gltf::from_slice_without_validation(bytes).map_err(|e| e.to_string()))
        .map_err(|reason| ModelError::Parse {
            asset: asset.into(),
            reason,
        })?;
    let blob = gltf.blob;
    let mut root = gltf.document.into_json();
    for extension in &root.extensions_required {
        if !SUPPORTED_REQUIRED_EXTENSIONS.contains(&extension.as_str()) {
            return Err(ModelError::UnsupportedExtension {
                asset: asset.into(),
                extension: extension.clone(),
            });
        }
    }
    // The gltf crate's validation knows fewer extensions than we read; ours are checked above.
    root.extensions_required.clear();
    let placeholder = point_viewless_accessors_at_a_placeholder(&mut root);
    check_position_accessors(&root).map_err(invalid)?;
    let target_warnings = check_animation_targets(&mut root).map_err(invalid)?;
    let document = gltf::Document::from_json(root).map_err(|e| invalid(format!("{e}")))?;

    let buffers = read_buffers(asset, &document, blob, options)?;
    let views = slice_views(&document, &buffers, placeholder).map_err(invalid)?;
    let mut warnings = target_warnings;
    let textures = read_textures(asset, &document, &views, options, &mut warnings);
    let materials = document.materials().map(read_material).collect();
    let meshes = document
        .meshes()
        .map(|mesh| super::primitives::read_mesh(&mesh, &views, &mut warnings))
        .collect::<Result<Vec<_>, String>>()
        .map_err(invalid)?;
    let (nodes, roots) = read_nodes(&document, &mut warnings).map_err(invalid)?;
    let animations = document
        .animations()
        .map(|a| read_animation(&a, &views))
        .collect::<Result<Vec<_>, String>>()
        .map_err(invalid)?;
    let skins = document
        .skins()
        .map(|skin| read_skin(&skin, &views))
        .collect::<Result<Vec<_>, String>>()
        .map_err(invalid)?;
    check_joint_indices(&nodes, &meshes, &skins).map_err(invalid)?;
    for warning in &mut warnings {
        *warning = format!("{asset}: {warning}");
    }
    Ok(Model {
        meshes,
        materials,
        textures,
        nodes,
        roots,
        animations,
        skins,
        warnings,
    })
}

fn percent_decode(uri: &str) -> String {
    let bytes = uri.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = uri
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The bytes of a `data:` URI or of a file the resolver reads.
fn read_uri(uri: &str, options: &LoadOptions<'_>) -> Result<Vec<u8>, String> {
    if let Some(rest) = uri.strip_prefix("data:") {
        let (_, data) = rest
            .split_once(";base64,")
            .ok_or("a data: URI that is not base64")?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("invalid base64 data URI: {e}"))
    } else if uri.contains("://") {
        Err(format!("{uri}: only files inside the package can be read"))
    } else {
        (options.resolve)(&percent_decode(uri)).map_err(|e| e.to_string())
    }
}

fn read_buffers(
    asset: &str,
    document: &gltf::Document,
    mut blob: Option<Vec<u8>>,
    options: &LoadOptions<'_>,
) -> Result<Vec<Vec<u8>>, ModelError> {
    let mut buffers = Vec::new();
    for buffer in document.buffers() {
        let error = |reason: String| ModelError::Buffer {
            asset: asset.into(),
            index: buffer.index(),
            reason,
        };
        // A meshopt fallback buffer holds nothing: its views are decoded from compressed data.
        let fallback = buffer
            .extension_value("EXT_meshopt_compression")
            .and_then(|e| e.get("fallback"))
            .and_then(json::Value::as_bool)
            == Some(true);
        let data = match buffer.source() {
            gltf::buffer::Source::Uri(_) | gltf::buffer::Source::Bin if fallback => Vec::new(),
            gltf::buffer::Source::Bin => blob
                .take()
                .ok_or_else(|| error("the GLB has no binary chunk".into()))?,
            gltf::buffer::Source::Uri(uri) => read_uri(uri, options).map_err(error)?,
        };
        if data.len() < buffer.length() && !fallback {
            return Err(error(format!(
                "holds {} bytes but declares {}",
                data.len(),
                buffer.length()
            )));
        }
        buffers.push(data);
    }
    Ok(buffers)
}

/// Accessors may have no buffer view (their values are zeros, or come from Draco data), but the
/// gltf crate's validation requires one. Such accessors are pointed at an added, empty view,
/// which the accessor reader treats as "no view". Returns that view's index.
fn point_viewless_accessors_at_a_placeholder(root: &mut json::Root) -> Option<usize> {
    let viewless: Vec<usize> = (0..root.accessors.len())
        .filter(|&i| root.accessors[i].buffer_view.is_none() && root.accessors[i].sparse.is_none())
        .collect();
    if viewless.is_empty() || root.buffers.is_empty() {
        return None;
    }
    let view: json::buffer::View =
        serde_json::from_value(serde_json::json!({ "buffer": 0, "byteLength": 1 })).ok()?;
    let index = root.buffer_views.len();
    root.buffer_views.push(view);
    for i in viewless {
        root.accessors[i].buffer_view = Some(json::Index::new(index as u32));
    }
    Some(index)
}

fn slice_views(
    document: &gltf::Document,
    buffers: &[Vec<u8>],
    placeholder: Option<usize>,
) -> Result<ViewData, String> {
    let mut views = Vec::new();
    for view in document.views() {
        if Some(view.index()) == placeholder {
            views.push(None);
            continue;
        }
        if let Some(extension) = view.extension_value("EXT_meshopt_compression") {
            let bytes = super::meshopt::decode_view(extension, buffers)
                .map_err(|e| format!("buffer view {}: {e}", view.index()))?;
            views.push(Some(bytes));
            continue;
        }
        let buffer = &buffers[view.buffer().index()];
        let end = view
            .offset()
            .checked_add(view.length())
            .filter(|&end| end <= view.buffer().length() && end <= buffer.len())
            .ok_or_else(|| {
                format!(
                    "buffer view {} runs past the end of buffer {} ({} + {} > {} bytes)",
                    view.index(),
                    view.buffer().index(),
                    view.offset(),
                    view.length(),
                    buffer.len()
                )
            })?;
        views.push(Some(buffer[view.offset()..end].to_vec()));
    }
    Ok(ViewData { views })
}

fn wrap(mode: gltf::texture::WrappingMode) -> WrapMode {
    match mode {
        gltf::texture::WrappingMode::ClampToEdge => WrapMode::Clamp,
        gltf::texture::WrappingMode::MirroredRepeat => WrapMode::Mirror,
        gltf::texture::WrappingMode::Repeat => WrapMode::Repeat,
    }
}

fn read_textures(
    asset: &str,
    document: &gltf::Document,
    views: &ViewData,
    options: &LoadOptions<'_>,
    warnings: &mut Vec<String>,
) -> Vec<Option<Texture>> {
    let mut decoded: Vec<Option<Option<Texture>>> = vec![None; document.images().len()];
    let mut textures = Vec::new();
    for texture in document.textures() {
        // KHR_texture_basisu and EXT_texture_webp name their image in the extension; the core
        // `source` is a fallback.
        let image_index = ["KHR_texture_basisu", "EXT_texture_webp"]
            .iter()
            .find_map(|name| texture.extension_value(name))
            .and_then(|v| v.get("source"))
            .and_then(json::Value::as_u64)
            .map(|i| i as usize)
            .or_else(|| texture.source().map(|image| image.index()))
            .filter(|&i| i < decoded.len());
        let Some(image_index) = image_index else {
            warnings.push(format!(
                "texture {} has no image it can show",
                texture.index()
            ));
            textures.push(None);
            continue;
        };
        let slot = &mut decoded[image_index];
        if slot.is_none() {
            let what = format!("image {image_index}");
            // The image's JSON, not `Image::source()`: that unwraps a missing `mimeType` (or a
            // missing `uri`) and panicked on a hostile file (found by fuzzing, issue 22). The
            // decoder sniffs the format, so a view without a MIME type still shows.
            let bytes = match document.as_json().images.get(image_index) {
                Some(json::Image {
                    buffer_view: Some(view),
                    ..
                }) => views
                    .views
                    .get(view.value())
                    .cloned()
                    .flatten()
                    .ok_or_else(|| format!("{what}: its buffer view has no data")),
                Some(json::Image { uri: Some(uri), .. }) => read_uri(uri, options),
                Some(_) => Err(format!("{what} has neither a uri nor a bufferView")),
                None => Err(format!("{what} does not exist")),
            };
            let result = bytes
                .and_then(|b| images::decode(&b, options.max_texture_dimension, &what, warnings));
            *slot = Some(match result {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(asset, "texture not usable: {e}");
                    warnings.push(format!("{e}; drawn without it"));
                    None
                }
            });
        }
        let sampler = texture.sampler();
        textures.push(slot.clone().flatten().map(|mut t| {
            t.sampler = SamplerSettings {
                repeat_u: wrap(sampler.wrap_s()),
                repeat_v: wrap(sampler.wrap_t()),
                nearest_mag: sampler.mag_filter() == Some(gltf::texture::MagFilter::Nearest),
            };
            t
        }));
    }
    textures
}

fn info(info: Option<gltf::texture::Info<'_>>) -> Option<TextureRef> {
    info.map(|i| {
        let transform = i
            .texture_transform()
            .map(|t| (t.offset(), t.rotation(), t.scale(), t.tex_coord()));
        texture_ref(i.texture().index(), i.tex_coord(), transform)
    })
}

/// KHR_texture_transform's offset, rotation (radians), scale and texCoord override.
type UvTransform = ([f32; 2], f32, [f32; 2], Option<u32>);

/// KHR_texture_transform as JSON, for the normal and occlusion textures (the gltf crate only
/// parses it on plain texture infos).
fn transform_from_json(extension: Option<&json::Value>) -> Option<UvTransform> {
    let e = extension?;
    let pair = |name: &str, default: [f32; 2]| {
        e.get(name)
            .and_then(json::Value::as_array)
            .and_then(|a| Some([a.first()?.as_f64()? as f32, a.get(1)?.as_f64()? as f32]))
            .unwrap_or(default)
    };
    let rotation = e
        .get("rotation")
        .and_then(json::Value::as_f64)
        .unwrap_or(0.0) as f32;
    let tex_coord = e
        .get("texCoord")
        .and_then(json::Value::as_u64)
        .map(|t| t as u32);
    Some((
        pair("offset", [0.0, 0.0]),
        rotation,
        pair("scale", [1.0, 1.0]),
        tex_coord,
    ))
}

/// A texture reference with its KHR_texture_transform, if any, as a 2×3 matrix:
/// uv' = translation × rotation × scale × uv.
fn texture_ref(texture: usize, tex_coord: u32, transform: Option<UvTransform>) -> TextureRef {
    let mut reference = TextureRef {
        texture,
        tex_coord,
        transform: super::UV_IDENTITY,
    };
    if let Some(([ox, oy], r, [sx, sy], override_tex_coord)) = transform {
        let (sin, cos) = r.sin_cos();
        let m = [[cos * sx, sin * sy, ox], [-sin * sx, cos * sy, oy]];
        if m.iter().flatten().all(|v| v.is_finite()) {
            reference.transform = m;
        }
        if let Some(t) = override_tex_coord {
            reference.tex_coord = t;
        }
    }
    reference
}

fn read_material(material: gltf::Material<'_>) -> Material {
    let pbr = material.pbr_metallic_roughness();
    let strength = material.emissive_strength().unwrap_or(1.0);
    let emissive = material.emissive_factor().map(|e| e * strength);
    Material {
        base_colour: pbr.base_color_factor(),
        metallic: pbr.metallic_factor(),
        roughness: pbr.roughness_factor(),
        emissive,
        base_colour_texture: info(pbr.base_color_texture()),
        metallic_roughness_texture: info(pbr.metallic_roughness_texture()),
        normal_texture: material.normal_texture().map(|n| {
            let transform = transform_from_json(n.extension_value("KHR_texture_transform"));
            texture_ref(n.texture().index(), n.tex_coord(), transform)
        }),
        normal_scale: material.normal_texture().map_or(1.0, |n| n.scale()),
        occlusion_texture: material.occlusion_texture().map(|o| {
            let transform = transform_from_json(o.extension_value("KHR_texture_transform"));
            texture_ref(o.texture().index(), o.tex_coord(), transform)
        }),
        occlusion_strength: material.occlusion_texture().map_or(1.0, |o| o.strength()),
        emissive_texture: info(material.emissive_texture()),
        alpha_mode: match material.alpha_mode() {
            gltf::material::AlphaMode::Opaque => AlphaMode::Opaque,
            gltf::material::AlphaMode::Mask => AlphaMode::Mask,
            gltf::material::AlphaMode::Blend => AlphaMode::Blend,
        },
        alpha_cutoff: material.alpha_cutoff().unwrap_or(0.5),
        double_sided: material.double_sided(),
        unlit: material.extension_value("KHR_materials_unlit").is_some(),
    }
}

fn read_nodes(
    document: &gltf::Document,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Node>, Vec<usize>), String> {
    let mut nodes = Vec::new();
    let mut parent: Vec<Option<usize>> = vec![None; document.nodes().len()];
    for node in document.nodes() {
        let (t, r, s) = node.transform().decomposed();
        let mut local = Trs {
            translation: Vec3::from(t),
            rotation: Quat::from_array(r),
            scale: Vec3::from(s),
        };
        if !(local.translation.is_finite() && local.rotation.is_finite() && local.scale.is_finite())
        {
            warnings.push(format!(
                "node {} has a NaN or infinite transform; drawn at its parent's origin",
                node.index()
            ));
            local = Trs {
                translation: Vec3::ZERO,
                rotation: Quat::IDENTITY,
                scale: Vec3::ONE,
            };
        }
        local.rotation = geometry::normalize_quat(local.rotation);
        let children: Vec<usize> = node.children().map(|c| c.index()).collect();
        for &child in &children {
            if child == node.index() || parent[child].is_some() {
                return Err(format!(
                    "node {child} has more than one parent or is its own child (the node tree has a cycle)"
                ));
            }
            parent[child] = Some(node.index());
        }
        nodes.push(Node {
            name: node.name().map(str::to_owned),
            local,
            children,
            mesh: node.mesh().map(|m| m.index()),
            skin: node.skin().map(|s| s.index()),
        });
    }
    let roots: Vec<usize> = match document
        .default_scene()
        .or_else(|| document.scenes().next())
    {
        Some(scene) => scene.nodes().map(|n| n.index()).collect(),
        None => (0..nodes.len()).filter(|&i| parent[i].is_none()).collect(),
    };
    // With single parents a cycle has no root: walk from the roots and find unreachable loops.
    let mut seen = HashSet::new();
    let mut stack = roots.clone();
    while let Some(n) = stack.pop() {
        if !seen.insert(n) {
            return Err(format!("node {n} is reached twice from the scene (cycle)"));
        }
        stack.extend(&nodes[n].children);
    }
    if let Some(n) = (0..nodes.len()).find(|&n| parent[n].is_some() && !seen.contains(&n)) {
        let mut walk = n;
        let mut steps = 0;
        while let Some(p) = parent[walk] {
            walk = p;
            steps += 1;
            if steps > nodes.len() {
                return Err(format!("node {n} is part of a cycle in the node tree"));
            }
        }
    }
    Ok((nodes, roots))
}

/// Every weighted joint index of a skinned mesh names a joint of its node's skin.
fn check_joint_indices(nodes: &[Node], meshes: &[Mesh], skins: &[Skin]) -> Result<(), String> {
    for (n, node) in nodes.iter().enumerate() {
        let (Some(mesh), Some(skin)) = (node.mesh, node.skin) else {
            continue;
        };
        let joint_count = skins.get(skin).map_or(0, |s| s.joints.len());
        let vertices = meshes
            .get(mesh)
            .into_iter()
            .flat_map(|m| &m.primitives)
            .flat_map(|p| &p.vertices);
        for v in vertices {
            for (j, w) in v.joints.iter().zip(v.weights) {
                if w != 0.0 && *j as usize >= joint_count {
                    return Err(format!(
                        "node {n}: a vertex uses joint {j}, but skin {skin} has {joint_count} joints"
                    ));
                }
            }
        }
    }
    Ok(())
}

fn read_skin(skin: &gltf::Skin<'_>, views: &ViewData) -> Result<Skin, String> {
    let joints: Vec<usize> = skin.joints().map(|j| j.index()).collect();
    let inverse_bind = match skin.inverse_bind_matrices() {
        Some(accessor) => read_vec::<16>(&accessor, views)
            .map_err(|e| format!("skin {}: {e}", skin.index()))?
            .iter()
            .map(glam::Mat4::from_cols_array)
            .collect(),
        None => vec![glam::Mat4::IDENTITY; joints.len()],
    };
    if inverse_bind.len() < joints.len() {
        return Err(format!(
            "skin {} has {} joints but {} inverse bind matrices",
            skin.index(),
            joints.len(),
            inverse_bind.len()
        ));
    }
    Ok(Skin {
        joints,
        inverse_bind,
    })
}

fn read_animation(animation: &gltf::Animation<'_>, views: &ViewData) -> Result<Animation, String> {
    let mut channels = Vec::new();
    let mut duration = 0.0_f32;
    for channel in animation.channels() {
        let context = |e: String| {
            format!(
                "animation {} channel {}: {e}",
                animation.index(),
                channel.index()
            )
        };
        let sampler = channel.sampler();
        let times: Vec<f32> = read_vec::<1>(&sampler.input(), views)
            .map_err(context)?
            .into_iter()
            .map(|[t]| t)
            .collect();
        if times.windows(2).any(|w| w[1] < w[0]) {
            return Err(context("keyframe times go backwards".into()));
        }
        duration = duration.max(times.last().copied().unwrap_or(0.0));
        let interpolation = match sampler.interpolation() {
            gltf::animation::Interpolation::Step => Interpolation::Step,
            gltf::animation::Interpolation::Linear => Interpolation::Linear,
            gltf::animation::Interpolation::CubicSpline => Interpolation::CubicSpline,
        };
        let output = sampler.output();
        use gltf::animation::Property;
        let values = match channel.target().property() {
            Property::Translation => Values::Translation(
                read_vec::<3>(&output, views)
                    .map_err(context)?
                    .into_iter()
                    .map(Vec3::from)
                    .collect(),
            ),
            Property::Scale => Values::Scale(
                read_vec::<3>(&output, views)
                    .map_err(context)?
                    .into_iter()
                    .map(Vec3::from)
                    .collect(),
            ),
            Property::Rotation => Values::Rotation(
                read_vec::<4>(&output, views)
                    .map_err(context)?
                    .into_iter()
                    .map(Quat::from_array)
                    .collect(),
            ),
            Property::MorphTargetWeights => {
                let values: Vec<f32> = read_vec::<1>(&output, views)
                    .map_err(context)?
                    .into_iter()
                    .map(|[w]| w)
                    .collect();
                let keys = times.len().max(1)
                    * if interpolation == Interpolation::CubicSpline {
                        3
                    } else {
                        1
                    };
                Values::Weights {
                    targets: values.len() / keys,
                    values,
                }
            }
        };
        channels.push(Channel {
            node: channel.target().node().index(),
            interpolation,
            times,
            values,
        });
    }
    Ok(Animation {
        name: animation.name().map(str::to_owned),
        channels,
        duration,
    })
}
