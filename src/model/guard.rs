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

/// gltf-json's validation of an animation checks its samplers but not its channels' targets,
/// and `gltf` unwraps both: a target node out of range is refused here; a target path it does
/// not know (`"pointer"`, from KHR_animation_pointer, or garbage) panicked in
/// `Target::property` — such a channel is dropped, with a warning, and the rest still plays.
pub(super) fn check_animation_targets(root: &mut json::Root) -> Result<Vec<String>, String> {
    let nodes = root.nodes.len();
    let mut warnings = Vec::new();
    for (a, animation) in root.animations.iter_mut().enumerate() {
        for (c, channel) in animation.channels.iter().enumerate() {
            let node = channel.target.node.value();
            if node >= nodes {
                return Err(format!(
                    "animation {a} channel {c} targets node {node}, but the file has {nodes} nodes"
                ));
            }
        }
        let before = animation.channels.len();
        animation
            .channels
            .retain(|channel| matches!(channel.target.path, json::validation::Checked::Valid(_)));
        let dropped = before - animation.channels.len();
        if dropped > 0 {
            warnings.push(format!(
                "animation {a}: {dropped} channel(s) animate a property this viewer does not play; skipped"
            ));
        }
    }
    Ok(warnings)
}
