//! EXT_meshopt_compression: buffer views stored compressed, decoded with the `meshopt` crate
//! (bindings to meshoptimizer's reference decoders, which check their input's size).

use gltf::json::Value;

/// Decodes one compressed buffer view into its plain bytes.
pub(super) fn decode_view(extension: &Value, buffers: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    let field = |name: &str| {
        extension
            .get(name)
            .and_then(Value::as_u64)
            .map(|v| v as usize)
    };
    let buffer = field("buffer").ok_or("EXT_meshopt_compression without a buffer")?;
    let offset = field("byteOffset").unwrap_or(0);
    let length = field("byteLength").ok_or("EXT_meshopt_compression without byteLength")?;
    let stride = field("byteStride").ok_or("EXT_meshopt_compression without byteStride")?;
    let count = field("count").ok_or("EXT_meshopt_compression without count")?;
    let mode = extension.get("mode").and_then(Value::as_str).unwrap_or("");
    let filter = extension
        .get("filter")
        .and_then(Value::as_str)
        .unwrap_or("NONE");
    if count.checked_mul(stride).is_none_or(|n| n > 1 << 30) {
        return Err("EXT_meshopt_compression view is absurdly large".into());
    }
    let source = buffers
        .get(buffer)
        .and_then(|b| b.get(offset..offset.checked_add(length)?))
        .ok_or_else(|| format!("compressed data runs past the end of buffer {buffer}"))?;
    let error =
        |e: meshopt::Error| format!("EXT_meshopt_compression {mode} data is corrupt: {e:?}");
    let mut bytes = match (mode, stride) {
        ("ATTRIBUTES", _) => decode_attributes(source, count, stride)?,
        ("TRIANGLES", 2) => {
            to_bytes(meshopt::decode_index_buffer::<u16>(source, count).map_err(error)?)
        }
        ("TRIANGLES", 4) => {
            to_bytes(meshopt::decode_index_buffer::<u32>(source, count).map_err(error)?)
        }
        ("INDICES", 2) => {
            to_bytes(meshopt::decode_index_sequence::<u16>(source, count).map_err(error)?)
        }
        ("INDICES", 4) => {
            to_bytes(meshopt::decode_index_sequence::<u32>(source, count).map_err(error)?)
        }
        _ => {
            return Err(format!(
                "EXT_meshopt_compression mode {mode:?} with stride {stride} is not valid"
            ));
        }
    };
    apply_filter(filter, stride, &mut bytes)?;
    Ok(bytes)
}

fn to_bytes<T: bytemuck::Pod>(values: Vec<T>) -> Vec<u8> {
    bytemuck::cast_slice(&values).to_vec()
}

/// The vertex codec works on whole elements; the element size is a type parameter in the crate,
/// so each allowed stride (a multiple of 4, at most 128 bytes) gets its own instance.
fn decode_attributes(source: &[u8], count: usize, stride: usize) -> Result<Vec<u8>, String> {
    let error =
        |e: meshopt::Error| format!("EXT_meshopt_compression ATTRIBUTES data is corrupt: {e:?}");
    macro_rules! strides {
        ($($n:literal)*) => {
            match stride / 4 {
                $($n if stride % 4 == 0 => Ok(to_bytes(
                    meshopt::decode_vertex_buffer::<[u32; $n]>(source, count).map_err(error)?,
                )),)*
                _ => Err(format!("EXT_meshopt_compression byteStride {stride} is not supported")),
            }
        };
    }
    strides!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
}

fn apply_filter(filter: &str, stride: usize, bytes: &mut Vec<u8>) -> Result<(), String> {
    match (filter, stride) {
        ("NONE", _) => {}
        ("OCTAHEDRAL", 4) => {
            let mut v: Vec<[i8; 4]> = bytemuck::pod_collect_to_vec(bytes);
            meshopt::decode_filter_oct(&mut v);
            *bytes = to_bytes(v);
        }
        ("OCTAHEDRAL", 8) => {
            let mut v: Vec<[i16; 4]> = bytemuck::pod_collect_to_vec(bytes);
            meshopt::decode_filter_oct(&mut v);
            *bytes = to_bytes(v);
        }
        ("QUATERNION", 8) => {
            let mut v: Vec<[i16; 4]> = bytemuck::pod_collect_to_vec(bytes);
            meshopt::decode_filter_quat(&mut v);
            *bytes = to_bytes(v);
        }
        ("EXPONENTIAL", s) if s % 4 == 0 && s <= 16 => {
            macro_rules! exp {
                ($($n:literal)*) => {
                    match s / 4 {
                        $($n => {
                            let mut v: Vec<[u32; $n]> = bytemuck::pod_collect_to_vec(bytes);
                            meshopt::decode_filter_exp(&mut v);
                            *bytes = to_bytes(v);
                        })*
                        _ => {}
                    }
                };
            }
            exp!(1 2 3 4)
        }
        _ => {
            return Err(format!(
                "EXT_meshopt_compression filter {filter} with stride {stride} is not valid"
            ));
        }
    }
    Ok(())
}
