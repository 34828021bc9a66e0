//! Mesh primitives: vertex attributes (from accessors or Draco data), indices, morph targets;
//! normals and tangents generated where the file has none.

use super::accessor::{ViewData, read_indices, read_vec};
use super::geometry;
use super::{Mesh, Primitive, Vertex};

pub(super) fn read_mesh(
    mesh: &gltf::Mesh<'_>,
    views: &ViewData,
    warnings: &mut Vec<String>,
) -> Result<Mesh, String> {
    let mut primitives = Vec::new();
    for primitive in mesh.primitives() {
        let context =
            |e: String| format!("mesh {} primitive {}: {e}", mesh.index(), primitive.index());
        let draco = primitive
            .extension_value("KHR_draco_mesh_compression")
            .map(|extension| super::draco::decode_primitive(&primitive, extension, views))
            .transpose()
            .map_err(context)?;
        let draco = draco.as_ref();
        use gltf::mesh::Mode;
        let mode = primitive.mode();
        if !matches!(
            mode,
            Mode::Triangles | Mode::TriangleStrip | Mode::TriangleFan
        ) {
            warnings.push(context(format!("{mode:?} primitives are not drawn")));
            continue;
        }
        use gltf::Semantic;
        let positions: Vec<[f32; 3]> = attribute(&primitive, &Semantic::Positions, views, draco)
            .map_err(context)?
            .ok_or_else(|| context("has no POSITION".into()))?;
        let n = positions.len();
        let normals =
            attribute::<3>(&primitive, &Semantic::Normals, views, draco).map_err(context)?;
        let tangents =
            attribute::<4>(&primitive, &Semantic::Tangents, views, draco).map_err(context)?;
        let uv0 =
            attribute::<2>(&primitive, &Semantic::TexCoords(0), views, draco).map_err(context)?;
        let uv1 =
            attribute::<2>(&primitive, &Semantic::TexCoords(1), views, draco).map_err(context)?;
        let colours = match primitive.get(&Semantic::Colors(0)) {
            Some(a) if a.dimensions() == gltf::accessor::Dimensions::Vec3 => {
                attribute::<3>(&primitive, &Semantic::Colors(0), views, draco)
                    .map_err(context)?
                    .map(|c| {
                        c.into_iter()
                            .map(|[r, g, b]| [r, g, b, 1.0])
                            .collect::<Vec<_>>()
                    })
            }
            _ => attribute::<4>(&primitive, &Semantic::Colors(0), views, draco).map_err(context)?,
        };
        let joints =
            attribute::<4>(&primitive, &Semantic::Joints(0), views, draco).map_err(context)?;
        let weights =
            attribute::<4>(&primitive, &Semantic::Weights(0), views, draco).map_err(context)?;
        for (name, len) in [
            ("NORMAL", normals.as_ref().map(Vec::len)),
            ("TANGENT", tangents.as_ref().map(Vec::len)),
            ("TEXCOORD_0", uv0.as_ref().map(Vec::len)),
            ("TEXCOORD_1", uv1.as_ref().map(Vec::len)),
            ("COLOR_0", colours.as_ref().map(Vec::len)),
            ("JOINTS_0", joints.as_ref().map(Vec::len)),
            ("WEIGHTS_0", weights.as_ref().map(Vec::len)),
        ] {
            if len.is_some_and(|len| len != n) {
                return Err(context(format!(
                    "{name} has a different count than POSITION"
                )));
            }
        }
        let raw_indices = match (draco, primitive.indices()) {
            (Some(draco), _) => draco.indices.clone(),
            (None, Some(a)) => read_indices(&a, views, n).map_err(context)?,
            (None, None) => (0..n as u32).collect(),
        };
        let indices = geometry::triangle_list(mode, &raw_indices);
        let mut vertices: Vec<Vertex> = (0..n)
            .map(|i| Vertex {
                position: positions[i],
                normal: normals.as_ref().map_or([0.0; 3], |v| v[i]),
                tangent: tangents.as_ref().map_or([0.0; 4], |v| v[i]),
                uv0: uv0.as_ref().map_or([0.0; 2], |v| v[i]),
                uv1: uv1.as_ref().map_or([0.0; 2], |v| v[i]),
                colour: colours.as_ref().map_or([1.0; 4], |v| v[i]),
                joints: joints.as_ref().map_or([0; 4], |v| v[i].map(|j| j as u32)),
                weights: weights.as_ref().map_or([0.0; 4], |v| v[i]),
            })
            .collect();
        if normals.is_none() {
            geometry::generate_normals(&mut vertices, &indices);
        }
        if tangents.is_none() {
            geometry::generate_tangents(&mut vertices, &indices);
        }
        let mut morph_positions = Vec::new();
        let mut morph_normals = Vec::new();
        for target in primitive.morph_targets() {
            let read = |a: Option<gltf::Accessor<'_>>| -> Result<Vec<[f32; 3]>, String> {
                match a {
                    Some(a) => {
                        let v = read_vec::<3>(&a, views)?;
                        if v.len() == n {
                            Ok(v)
                        } else {
                            Err("morph target count differs".into())
                        }
                    }
                    None => Ok(vec![[0.0; 3]; n]),
                }
            };
            morph_positions.push(read(target.positions()).map_err(context)?);
            morph_normals.push(read(target.normals()).map_err(context)?);
        }
        primitives.push(Primitive {
            vertices,
            indices,
            material: primitive.material().index(),
            morph_positions,
            morph_normals,
        });
    }
    Ok(Mesh {
        name: mesh.name().map(str::to_owned),
        primitives,
        default_weights: mesh.weights().map(<[f32]>::to_vec).unwrap_or_default(),
    })
}

/// A vertex attribute as `[f32; N]`s: from the Draco data when the primitive is compressed and
/// the attribute is in it, else from its accessor. `None` when the primitive does not have it.
fn attribute<const N: usize>(
    primitive: &gltf::Primitive<'_>,
    semantic: &gltf::Semantic,
    views: &ViewData,
    draco: Option<&super::draco::DracoPrimitive>,
) -> Result<Option<Vec<[f32; N]>>, String> {
    if let Some((values, components)) = draco.and_then(|d| d.attributes.get(&semantic.to_string()))
    {
        if *components != N {
            return Err(format!(
                "Draco {semantic:?} has {components} components, expected {N}"
            ));
        }
        return Ok(Some(
            values
                .chunks_exact(N)
                .map(|c| {
                    let mut a = [0.0; N];
                    a.copy_from_slice(c);
                    a
                })
                .collect(),
        ));
    }
    primitive
        .get(semantic)
        .map(|a| read_vec::<N>(&a, views))
        .transpose()
}
