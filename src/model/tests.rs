use super::*;

fn test_model(name: &str) -> Vec<u8> {
    // The glTF corpus is shared beside the repository, not copied into it.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/gltf")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn no_files(uri: &str) -> Result<Vec<u8>, crate::guide::AssetError> {
    Err(crate::guide::AssetError::NotInVersion(uri.to_owned()))
}

fn load(name: &str, bytes: &[u8], max_texture_dimension: u32) -> Result<Model, ModelError> {
    load_model(
        name,
        bytes,
        &LoadOptions {
            max_texture_dimension,
            resolve: &no_files,
        },
    )
}

#[test]
fn a_texture_larger_than_the_device_limit_is_scaled_down_with_a_warning_naming_the_asset() {
    let model = load(
        "box.glb",
        &test_model("BoxTextured/glTF-Binary/BoxTextured.glb"),
        64,
    )
    .expect("loads");
    let texture = model.textures[0].as_ref().expect("texture kept");
    assert!(
        texture.width <= 64 && texture.height <= 64,
        "{}×{}",
        texture.width,
        texture.height
    );
    assert!(
        model
            .warnings
            .iter()
            .any(|w| w.starts_with("box.glb:") && w.contains("scaled down")),
        "{:?}",
        model.warnings
    );
}

#[test]
fn a_corrupt_texture_costs_only_that_texture_with_a_warning() {
    let mut bytes = test_model("BoxTextured/glTF-Binary/BoxTextured.glb");
    let png = bytes
        .windows(8)
        .position(|w| w == b"\x89PNG\r\n\x1a\n")
        .expect("the sample embeds a PNG");
    for b in &mut bytes[png + 16..png + 200] {
        *b = 0x5a;
    }
    let model = load("box.glb", &bytes, 8192).expect("the model still loads");
    assert!(model.textures[0].is_none(), "the broken texture is dropped");
    assert_eq!(model.triangle_count(), 12);
    assert!(
        model
            .warnings
            .iter()
            .any(|w| w.contains("image 0") && w.contains("drawn without it")),
        "{:?}",
        model.warnings
    );
}

/// A one-triangle glTF with only positions (no normals, no tangents), as a data URI.
fn triangle_without_normals() -> Vec<u8> {
    use base64::Engine as _;
    let positions: [f32; 9] = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
    let bytes: Vec<u8> = positions.iter().flat_map(|v| v.to_le_bytes()).collect();
    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
    serde_json::json!({
        "asset": { "version": "2.0" },
        "buffers": [{ "byteLength": 36, "uri": format!("data:application/octet-stream;base64,{data}") }],
        "bufferViews": [{ "buffer": 0, "byteLength": 36 }],
        "accessors": [{ "bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                        "min": [0, 0, 0], "max": [1, 1, 0] }],
        "meshes": [{ "primitives": [{ "attributes": { "POSITION": 0 } }] }],
        "nodes": [{ "mesh": 0 }],
        "scenes": [{ "nodes": [0] }]
    })
    .to_string()
    .into_bytes()
}

#[test]
fn missing_normals_and_tangents_are_generated() {
    let model = load("tri.gltf", &triangle_without_normals(), 8192).expect("loads");
    let vertex = model.meshes[0].primitives[0].vertices[0];
    assert_eq!(vertex.normal, [0.0, 0.0, 1.0]);
    let t = glam::Vec3::from_slice(&vertex.tangent[..3]);
    assert!(
        (t.length() - 1.0).abs() < 1e-4 && t.dot(glam::Vec3::Z).abs() < 1e-4,
        "{t}"
    );
}

#[test]
fn a_node_that_is_its_own_ancestor_is_rejected_not_followed_forever() {
    let mut json: serde_json::Value =
        serde_json::from_slice(&triangle_without_normals()).expect("json");
    json["nodes"] = serde_json::json!([{ "mesh": 0, "children": [1] }, { "children": [0] }]);
    let error = load("cycle.gltf", json.to_string().as_bytes(), 8192).expect_err("refused");
    assert!(error.to_string().starts_with("cycle.gltf:"), "{error}");
    assert!(error.to_string().contains("cycle"), "{error}");
}

#[test]
fn an_accessor_running_past_its_buffer_view_is_rejected() {
    let mut json: serde_json::Value =
        serde_json::from_slice(&triangle_without_normals()).expect("json");
    json["accessors"][0]["count"] = serde_json::json!(4);
    let error = load("long.gltf", json.to_string().as_bytes(), 8192).expect_err("refused");
    assert!(error.to_string().contains("runs past the end"), "{error}");
}

#[test]
fn morph_targets_of_the_sample_cube_are_read_with_their_animation() {
    let model = load(
        "cube.glb",
        &test_model("AnimatedMorphCube/glTF-Binary/AnimatedMorphCube.glb"),
        8192,
    )
    .expect("loads");
    let primitive = &model.meshes[0].primitives[0];
    assert_eq!(primitive.morph_positions.len(), 2);
    let animation = model.animation("Square").expect("animation by name");
    assert!(animation.duration > 0.0);
}

#[test]
fn texture_transform_is_translation_times_rotation_times_scale() {
    let mut json: serde_json::Value =
        serde_json::from_slice(&triangle_without_normals()).expect("json");
    json["extensionsUsed"] = serde_json::json!(["KHR_texture_transform"]);
    json["images"] = serde_json::json!([{ "uri": "missing.png" }]);
    json["textures"] = serde_json::json!([{ "source": 0 }]);
    json["materials"] = serde_json::json!([{ "pbrMetallicRoughness": { "baseColorTexture": {
        "index": 0,
        "extensions": { "KHR_texture_transform": {
            "offset": [0.5, 0.0], "rotation": std::f32::consts::FRAC_PI_2, "scale": [2.0, 1.0] } }
    } } }]);
    let model = load("uv.gltf", json.to_string().as_bytes(), 8192).expect("loads");
    let reference = model.materials[0].base_colour_texture.expect("texture ref");
    let [r0, r1] = reference.transform;
    // uv (1, 0): scaled to (2, 0), turned a quarter turn to (0, -2), moved to (0.5, -2).
    let u = r0[0] * 1.0 + r0[1] * 0.0 + r0[2];
    let v = r1[0] * 1.0 + r1[1] * 0.0 + r1[2];
    assert!(
        (u - 0.5).abs() < 1e-5 && (v + 2.0).abs() < 1e-5,
        "({u}, {v})"
    );
    assert!(
        model.warnings.iter().any(|w| w.contains("missing.png")),
        "{:?}",
        model.warnings
    );
}
