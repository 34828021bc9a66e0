//! Bounds that hold under hostile input (issue 22 item 4): each parser that reads outside bytes
//! refuses, with a message, an input whose declared sizes, counts or nesting would cost
//! unbounded memory or time — before paying that cost. The fuzz targets (`fuzz/`) look for what
//! these miss; the bounds themselves are listed in the README's "Fuzzing" section.

use std::io::{Cursor, Write};
use std::path::Path;

use hologuide::guide::package::MAX_ARCHIVE_ENTRIES;
use hologuide::guide::{AssetError, GuidePackage};
use hologuide::model::{LoadOptions, ModelError, decode_texture, load_model};

use crate::support::png_crc32;

/// A real 1×1 PNG whose header (IHDR, with a correct CRC) declares `width` × `height`.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbaImage::new(1, 1)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("a 1×1 PNG encodes");
    // 8 bytes of signature, then IHDR: length (4), type (4), width (4), height (4), 5 more.
    assert_eq!(&png[12..16], b"IHDR");
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = png_crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn a_texture_declaring_a_side_over_16384_pixels_is_refused_before_its_pixels_are_decoded() {
    let mut warnings = Vec::new();
    // 40,000 × 40,000 RGBA would be 6.4 GB.
    let error = decode_texture(
        &png_declaring(40_000, 40_000),
        2048,
        "bomb.png",
        &mut warnings,
    )
    .expect_err("a 40,000-pixel-wide texture is refused");
    assert!(
        error.starts_with("bomb.png: ") && error.to_lowercase().contains("limit"),
        "the message names the texture and the limit: {error}"
    );
    // The same header at a modest size is read as far as its (absent) pixels: the bound, not
    // the broken file, refused the large one.
    let small = decode_texture(&png_declaring(64, 64), 2048, "small.png", &mut warnings)
        .expect_err("a PNG without its pixel data does not decode");
    assert!(!small.to_lowercase().contains("limit"), "{small}");
}

fn no_files(uri: &str) -> Result<Vec<u8>, AssetError> {
    Err(AssetError::NotInVersion(uri.to_owned()))
}

fn load_named(name: &str, bytes: &[u8]) -> Result<hologuide::model::Model, ModelError> {
    let options = LoadOptions {
        max_texture_dimension: 2048,
        resolve: &no_files,
    };
    load_model(name, bytes, &options)
}

fn load(bytes: &[u8]) -> Result<hologuide::model::Model, ModelError> {
    load_named("hostile.gltf", bytes)
}

#[test]
fn a_model_whose_json_nests_100000_deep_is_refused_without_exhausting_the_stack() {
    let depth = 100_000;
    let json = format!(
        "{{\"asset\":{{\"version\":\"2.0\"}},\"extensions\":{{\"X\":{}{}}}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let error = load(json.as_bytes()).expect_err("a model nested 100,000 deep is refused");
    let message = error.to_string();
    assert!(
        message.starts_with("hostile.gltf: not a glTF file:") && message.contains("recursion"),
        "{message}"
    );
}

#[test]
fn a_glb_whose_binary_chunk_declares_more_bytes_than_the_file_holds_is_refused() {
    let json = br#"{"asset":{"version":"2.0"}}  "#; // padded to a multiple of 4
    let mut glb = Vec::new();
    let total = 12 + 8 + json.len() as u32 + 8 + 16;
    glb.extend_from_slice(b"glTF");
    glb.extend_from_slice(&2u32.to_le_bytes());
    glb.extend_from_slice(&total.to_le_bytes());
    glb.extend_from_slice(&(json.len() as u32).to_le_bytes());
    glb.extend_from_slice(b"JSON");
    glb.extend_from_slice(json);
    // A BIN chunk declaring 4 GB, followed by 16 bytes.
    glb.extend_from_slice(&u32::MAX.to_le_bytes());
    glb.extend_from_slice(b"BIN\0");
    glb.extend_from_slice(&[0; 16]);
    let error = load(&glb).expect_err("a chunk longer than the file is refused");
    assert!(
        error
            .to_string()
            .starts_with("hostile.gltf: not a glTF file:"),
        "{error}"
    );
}

#[test]
fn an_accessor_declaring_a_billion_elements_over_a_12_byte_buffer_is_refused() {
    // One triangle's worth of buffer (a data: URI, 12 bytes), an accessor claiming 10^9 VEC3s.
    let json = r#"{
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": 12, "uri": "data:application/octet-stream;base64,AAAAAAAAAAAAAAAA"}],
        "bufferViews": [{"buffer": 0, "byteLength": 12}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 1000000000, "type": "VEC3",
                       "min": [0, 0, 0], "max": [0, 0, 0]}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "scene": 0
    }"#;
    let error = load(json.as_bytes()).expect_err("an accessor running past its buffer is refused");
    assert!(
        error.to_string().starts_with("hostile.gltf: "),
        "the message names the model: {error}"
    );
}

fn zip_file(path: &Path, entries: impl IntoIterator<Item = (String, Vec<u8>)>) {
    let file = std::fs::File::create(path).expect("temporary zip");
    let mut zip = zip::ZipWriter::new(file);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(&bytes).expect("zip entry bytes");
    }
    zip.finish().expect("zip written");
}

#[test]
fn a_package_with_more_entries_than_allowed_is_refused_naming_the_count_and_the_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("many.zip");
    let count = MAX_ARCHIVE_ENTRIES + 1;
    zip_file(
        &path,
        (0..count).map(|i| (format!("empty/{i}.txt"), Vec::new())),
    );
    let error = GuidePackage::load(&path).expect_err("10,001 entries are refused");
    let message = error.to_string();
    assert!(
        message.contains(&format!("{count} entries"))
            && message.contains(&format!("at most {MAX_ARCHIVE_ENTRIES}")),
        "{message}"
    );
}

#[test]
fn a_guide_json_nested_100000_deep_is_refused_as_invalid_json_without_exhausting_the_stack() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("deep.zip");
    let depth = 100_000;
    let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    zip_file(&path, [("guide.json".to_owned(), json.into_bytes())]);
    let error = GuidePackage::load(&path).expect_err("a guide.json nested 100,000 deep is refused");
    let message = error.to_string();
    assert!(
        message.contains("guide.json") && message.contains("recursion limit"),
        "{message}"
    );
}

// Crashes fuzzing found (issue 22), each kept as the input that found it, cut down.

/// Found by fuzzing (issue 22): gltf's GLB reader subtracted the header's size from this
/// length (overflow: a panic in debug builds).
#[test]
fn a_glb_header_declaring_a_length_shorter_than_itself_is_refused_with_a_message_not_a_panic() {
    let mut glb = b"glTF".to_vec();
    glb.extend_from_slice(&2u32.to_le_bytes());
    glb.extend_from_slice(&0u32.to_le_bytes());
    glb.extend_from_slice(&[0; 40]);
    let message = load_named("short.glb", &glb)
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("short.glb") && message.contains("declares a length of 0 bytes"),
        "{message}"
    );
}

/// Found by fuzzing (issue 22): gltf-json's validation indexed the accessor list with this
/// index and panicked.
#[test]
fn a_position_attribute_naming_a_missing_accessor_is_refused_with_a_message_not_a_panic() {
    let gltf = br#"{
        "asset": {"version": "2.0"},
        "accessors": [{"componentType": 5126, "count": 3, "type": "VEC3",
                       "min": [0, 0, 0], "max": [1, 1, 1]}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 72}}]}]
    }"#;
    let error = load_named("hostile.gltf", gltf).expect_err("refused");
    let message = error.to_string();
    assert!(
        message.contains("hostile.gltf") && message.contains("POSITION names accessor 72"),
        "{message}"
    );
}

/// Found by fuzzing (issue 22): gltf's `Image::source()` unwraps the `mimeType` an image in a
/// buffer view should have (and the `uri` one outside should), and panicked on a file without.
#[test]
fn an_image_without_a_mime_type_or_without_any_source_is_read_or_skipped_not_a_panic() {
    use base64::Engine as _;
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(2, 2, image::Rgba([255, 0, 0, 255]))
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("a 2×2 PNG encodes");
    let data = base64::engine::general_purpose::STANDARD.encode(&png);
    let gltf = format!(
        r#"{{
        "asset": {{"version": "2.0"}},
        "buffers": [{{"byteLength": {len}, "uri": "data:application/octet-stream;base64,{data}"}}],
        "bufferViews": [{{"buffer": 0, "byteLength": {len}}}],
        "images": [{{"bufferView": 0}}, {{}}],
        "textures": [{{"source": 0}}, {{"source": 1}}]
    }}"#,
        len = png.len()
    );
    let model = load(gltf.as_bytes()).expect("the model loads");
    let first = model.textures[0]
        .as_ref()
        .expect("the PNG is sniffed, MIME type or not");
    assert_eq!((first.width, first.height), (2, 2));
    assert!(model.textures[1].is_none());
    assert!(
        model
            .warnings
            .iter()
            .any(|w| w.contains("image 1 has neither a uri nor a bufferView")),
        "{:?}",
        model.warnings
    );
}

/// A one-node model with one animation channel targeting `node` at `path`; its keyframes (two
/// times, two translations) in a data: URI.
fn animated_model(node: usize, path: &str) -> Vec<u8> {
    use base64::Engine as _;
    let mut buffer = Vec::new();
    for value in [0.0f32, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0] {
        buffer.extend_from_slice(&value.to_le_bytes());
    }
    let data = base64::engine::general_purpose::STANDARD.encode(&buffer);
    format!(
        r#"{{
        "asset": {{"version": "2.0"}},
        "nodes": [{{"name": "lever"}}],
        "scenes": [{{"nodes": [0]}}],
        "buffers": [{{"byteLength": 32, "uri": "data:application/octet-stream;base64,{data}"}}],
        "bufferViews": [{{"buffer": 0, "byteLength": 8}}, {{"buffer": 0, "byteOffset": 8, "byteLength": 24}}],
        "accessors": [
            {{"bufferView": 0, "componentType": 5126, "count": 2, "type": "SCALAR", "min": [0], "max": [1]}},
            {{"bufferView": 1, "componentType": 5126, "count": 2, "type": "VEC3"}}
        ],
        "animations": [{{
            "samplers": [{{"input": 0, "output": 1}}],
            "channels": [{{"sampler": 0, "target": {{"node": {node}, "path": "{path}"}}}}]
        }}]
    }}"#
    )
    .into_bytes()
}

/// Found by fuzzing (issue 22): gltf-json does not validate animation targets, and gltf's
/// `Target::property` unwrapped a path it did not know. Such a channel (KHR_animation_pointer's
/// `"pointer"`, or garbage) is skipped with a warning; a target node out of range is refused.
#[test]
fn an_animation_channel_with_an_unknown_path_is_skipped_and_one_targeting_a_missing_node_refused() {
    let model = load(&animated_model(0, "translation")).expect("a valid animation loads");
    assert_eq!(model.animations[0].channels.len(), 1);

    let model = load(&animated_model(0, "pointer")).expect("the model still loads");
    assert!(model.animations[0].channels.is_empty());
    assert!(
        model
            .warnings
            .iter()
            .any(|w| w.contains("animation 0: 1 channel(s) animate a property")),
        "{:?}",
        model.warnings
    );

    let message = load(&animated_model(9, "translation"))
        .expect_err("a channel targeting node 9 of 1 is refused")
        .to_string();
    assert!(
        message.contains("animation 0 channel 0 targets node 9, but the file has 1 nodes"),
        "{message}"
    );
}
