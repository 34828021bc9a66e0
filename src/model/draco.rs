//! KHR_draco_mesh_compression: a primitive's indices and attributes decoded from a Draco
//! bitstream by the pure-Rust `draco-core` decoder. The glTF accessors of such a primitive have
//! no buffer view; their component type and `normalized` flag still say how to read the values.

use std::collections::HashMap;

use draco_core::{DataType, DecoderBuffer, Mesh, MeshDecoder, PointIndex};
use gltf::json::Value;

use super::accessor::ViewData;

/// Decoded data of one primitive: triangle indices and, per glTF semantic, flat `f32` values.
pub(super) struct DracoPrimitive {
    pub indices: Vec<u32>,
    pub attributes: HashMap<String, (Vec<f32>, usize)>,
}

fn read_value(bytes: &[u8], data_type: DataType, normalized: bool) -> Option<f32> {
    let b = |n: usize| bytes.get(..n);
    Some(match data_type {
        DataType::Float32 => f32::from_le_bytes(b(4)?.try_into().ok()?),
        DataType::Float64 => f64::from_le_bytes(b(8)?.try_into().ok()?) as f32,
        DataType::Uint8 | DataType::Bool => {
            let v = f32::from(*bytes.first()?);
            if normalized { v / 255.0 } else { v }
        }
        DataType::Int8 => {
            let v = f32::from(*bytes.first()? as i8);
            if normalized { (v / 127.0).max(-1.0) } else { v }
        }
        DataType::Uint16 => {
            let v = f32::from(u16::from_le_bytes(b(2)?.try_into().ok()?));
            if normalized { v / 65535.0 } else { v }
        }
        DataType::Int16 => {
            let v = f32::from(i16::from_le_bytes(b(2)?.try_into().ok()?));
            if normalized {
                (v / 32767.0).max(-1.0)
            } else {
                v
            }
        }
        DataType::Uint32 => u32::from_le_bytes(b(4)?.try_into().ok()?) as f32,
        DataType::Int32 => i32::from_le_bytes(b(4)?.try_into().ok()?) as f32,
        _ => return None,
    })
}

pub(super) fn decode_primitive(
    primitive: &gltf::Primitive<'_>,
    extension: &Value,
    views: &ViewData,
) -> Result<DracoPrimitive, String> {
    let view_index = extension
        .get("bufferView")
        .and_then(Value::as_u64)
        .ok_or("KHR_draco_mesh_compression without a bufferView")? as usize;
    let bytes = views
        .views
        .get(view_index)
        .and_then(Option::as_ref)
        .ok_or_else(|| format!("Draco buffer view {view_index} does not exist"))?;
    let mut mesh = Mesh::new();
    MeshDecoder::new()
        .decode(&mut DecoderBuffer::new(bytes), &mut mesh)
        .map_err(|e| format!("the Draco data is corrupt: {e}"))?;
    let points = mesh.num_points();
    let indices: Vec<u32> = mesh.faces().as_flattened().iter().map(|p| p.0).collect();
    if let Some(bad) = indices.iter().find(|&&i| i as usize >= points) {
        return Err(format!("Draco face refers to point {bad} of {points}"));
    }
    let mut attributes = HashMap::new();
    let ids = extension
        .get("attributes")
        .and_then(Value::as_object)
        .ok_or("KHR_draco_mesh_compression without attributes")?;
    for (semantic, id) in ids {
        let id = id
            .as_u64()
            .ok_or_else(|| format!("Draco attribute id of {semantic} is not a number"))?;
        let attribute = mesh
            .attribute_by_unique_id(id as u32)
            .ok_or_else(|| format!("the Draco data has no attribute {id} ({semantic})"))?;
        let normalized = primitive
            .attributes()
            .find(|(s, _)| s.to_string() == *semantic)
            .is_some_and(|(_, accessor)| accessor.normalized());
        let components = usize::from(attribute.num_components());
        let stride = usize::try_from(attribute.byte_stride()).unwrap_or(0);
        let component_size = stride.checked_div(components).unwrap_or(0);
        let data = attribute.buffer().data();
        let mut values = Vec::with_capacity(points * components);
        for p in 0..points {
            let value = attribute.mapped_index(PointIndex(p as u32)).0 as usize;
            for c in 0..components {
                let at = value * stride + c * component_size;
                let v = data
                    .get(at..)
                    .and_then(|b| read_value(b, attribute.data_type(), normalized))
                    .ok_or_else(|| format!("Draco attribute {semantic} is truncated"))?;
                values.push(v);
            }
        }
        attributes.insert(semantic.clone(), (values, components));
    }
    Ok(DracoPrimitive {
        indices,
        attributes,
    })
}
