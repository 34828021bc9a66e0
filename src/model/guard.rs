//! Checks that keep hostile files away from panics inside the `gltf` crates (1.4): each refuses,
//! with a message, a file those crates would index or subtract out of range on. All found by
//! fuzzing (issue 22); each has a regression test in `tests/it/parser_limits.rs`.

use gltf::json;

/// The GLB header's 12 bytes: magic, version, total length.
const GLB_HEADER: u32 = 12;

/// `gltf::Gltf::from_slice` subtracts the header's size from the length a GLB header declares
/// before comparing it, which overflows (a panic in debug builds) when that length is under 12.
pub(super) fn check_glb_header(bytes: &[u8]) -> Result<(), String> {
    let Some(declared) = bytes
        .strip_prefix(b"glTF")
        .and_then(|rest| rest.get(4..8))
        .map(|length| u32::from_le_bytes([length[0], length[1], length[2], length[3]]))
    else {
        return Ok(());
    };
    if declared < GLB_HEADER {
        return Err(format!(
            "the GLB header declares a length of {declared} bytes, less than the header's own {GLB_HEADER}"
        ));
    }
    Ok(())
}

/// gltf-json's validation reads a primitive's POSITION accessor (its `min`/`max`) before it
/// checks that the index exists, and panics on one that does not.
pub(super) fn check_position_accessors(root: &json::Root) -> Result<(), String> {
    let positions = json::validation::Checked::Valid(json::mesh::Semantic::Positions);
    for (m, mesh) in root.meshes.iter().enumerate() {
        for (p, primitive) in mesh.primitives.iter().enumerate() {
            if let Some(index) = primitive.attributes.get(&positions)
                && index.value() >= root.accessors.len()
            {
                return Err(format!(
                    "mesh {m} primitive {p}: POSITION names accessor {}, but the file has {} accessors",
                    index.value(),
                    root.accessors.len()
                ));
            }
        }
    }
    Ok(())
}
