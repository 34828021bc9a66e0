//! Format checks for the files a guide refers to.
//!
//! These are the checks that tell an author "this is not the file you meant" at publish time: the
//! right kind of file, not truncated, its own references present. Decoding meshes and textures is
//! the renderer's job; it has its own, deeper validation.

use std::io::{self, Read};

use serde_json::Value;

use super::package::safe_relative_path;
use super::problem::{JsonPath, Problems, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetKind {
    /// A hologram: glTF 2.0, binary (`.glb`) or JSON (`.gltf`) with its buffers and images.
    Model,
    /// A picture or a video on the step card.
    Media,
}

const GLB_MAGIC: &[u8; 4] = b"glTF";
const GLB_JSON_CHUNK: u32 = 0x4E4F_534A;
/// The GLB header and the JSON chunk's header.
const GLB_HEADERS: u64 = 20;
/// The most of a model's JSON read to check it: a whole `.gltf`, or a `.glb`'s JSON chunk.
pub const MAX_MODEL_JSON_BYTES: u64 = 32 * 1024 * 1024;
/// The first bytes of a picture or a video, which tell its format.
const SIGNATURE_BYTES: u64 = 16;

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads what [`check_asset`] needs of a file, and no more, so that checking a large asset never
/// holds it in memory: the first bytes of a picture or video, the headers and JSON chunk of a
/// `.glb`, all of a `.gltf` (JSON text; up to one byte past [`MAX_MODEL_JSON_BYTES`]).
pub fn read_head(name: &str, reader: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    match extension(name).as_str() {
        "gltf" => {
            reader
                .take(MAX_MODEL_JSON_BYTES + 1)
                .read_to_end(&mut head)?;
        }
        "glb" => {
            reader.take(GLB_HEADERS).read_to_end(&mut head)?;
            if let Some(json_length) = read_u32(&head, 12) {
                reader
                    .take(u64::from(json_length).min(MAX_MODEL_JSON_BYTES))
                    .read_to_end(&mut head)?;
            }
        }
        _ => {
            reader.take(SIGNATURE_BYTES).read_to_end(&mut head)?;
        }
    }
    Ok(head)
}

/// What a step asks of a file: its kind, and for a model the animation it plays.
#[derive(Debug, Clone, Copy)]
pub struct AssetUse<'a> {
    pub kind: AssetKind,
    pub animation: Option<&'a str>,
}

/// Checks one file of `size` bytes from its `head` (see [`read_head`]); `exists` answers
/// whether another file of the package exists (for `.gltf` buffers).
pub fn check_asset(
    name: &str,
    head: &[u8],
    size: u64,
    asset_use: AssetUse<'_>,
    path: &JsonPath,
    problems: &mut Problems,
    exists: &dyn Fn(&str) -> bool,
) {
    let kind = asset_use.kind;
    let extension = extension(name);
    let result = match (kind, extension.as_str()) {
        (AssetKind::Model, "glb" | "gltf") => {
            let document = if extension == "glb" {
                glb_json(head, size)
            } else if size > MAX_MODEL_JSON_BYTES {
                Err(format!(
                    "is a .gltf of {size} bytes; a glTF JSON model is at most {MAX_MODEL_JSON_BYTES} bytes (pack large models as .glb)"
                ))
            } else {
                gltf_json(name, head, exists)
            };
            document.map(|document| {
                if let Err(reason) = check_animation(&document, asset_use.animation) {
                    problems.error(Rule::UnknownAnimation, path, format!("'{name}' {reason}"));
                }
            })
        }
        (AssetKind::Media, "png") => sniff(head, 0, b"\x89PNG\r\n\x1a\n", "PNG"),
        (AssetKind::Media, "jpg" | "jpeg") => sniff(head, 0, b"\xFF\xD8\xFF", "JPEG"),
        (AssetKind::Media, "webp") => {
            sniff(head, 0, b"RIFF", "WebP").and_then(|()| sniff(head, 8, b"WEBP", "WebP"))
        }
        (AssetKind::Media, "mp4") => sniff(head, 4, b"ftyp", "MP4"),
        (AssetKind::Model, _) => {
            problems.error(
                Rule::UnsupportedAssetType,
                path,
                format!("'{name}' is not a glTF 2.0 model (.glb or .gltf)"),
            );
            return;
        }
        (AssetKind::Media, _) => {
            problems.error(
                Rule::UnsupportedAssetType,
                path,
                format!(
                    "'{name}' is not a picture or video the app shows (.png, .jpg, .webp, .mp4)"
                ),
            );
            return;
        }
    };
    if let Err(reason) = result {
        problems.error(Rule::CorruptAsset, path, format!("'{name}' {reason}"));
    }
}

fn sniff(bytes: &[u8], offset: usize, magic: &[u8], format: &str) -> Result<(), String> {
    match bytes.get(offset..offset + magic.len()) {
        Some(found) if found == magic => Ok(()),
        _ => Err(format!(
            "is not a {format} file (its first bytes do not match)"
        )),
    }
}

fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let word = bytes.get(offset..offset + 4)?;
    Some(u32::from_le_bytes(word.try_into().ok()?))
}

/// GLB container: header, lengths that match the file (a truncated download fails here), and a
/// JSON chunk that declares glTF 2.
fn glb_json(bytes: &[u8], size: u64) -> Result<Value, String> {
    if bytes.get(..4) != Some(GLB_MAGIC) {
        return Err("is not a glTF binary (no 'glTF' header)".to_owned());
    }
    let header = (read_u32(bytes, 4), read_u32(bytes, 8));
    let (Some(version), Some(length)) = header else {
        return Err("is truncated inside its header".to_owned());
    };
    if version != 2 {
        return Err(format!(
            "is glTF binary version {version}; only version 2 is supported"
        ));
    }
    if u64::from(length) != size {
        return Err(format!(
            "says it is {length} bytes long but is {size} bytes (truncated or padded)"
        ));
    }
    let (Some(json_length), Some(chunk_type)) = (read_u32(bytes, 12), read_u32(bytes, 16)) else {
        return Err("has no JSON chunk".to_owned());
    };
    if chunk_type != GLB_JSON_CHUNK {
        return Err("does not start with a JSON chunk".to_owned());
    }
    if u64::from(json_length) > MAX_MODEL_JSON_BYTES {
        return Err(format!(
            "has a JSON chunk of {json_length} bytes; at most {MAX_MODEL_JSON_BYTES} are accepted"
        ));
    }
    if GLB_HEADERS + u64::from(json_length) > size {
        return Err("has a JSON chunk that runs past the end of the file".to_owned());
    }
    let json = 20usize
        .checked_add(json_length as usize)
        .and_then(|end| bytes.get(20..end))
        .ok_or("has a JSON chunk that runs past the end of the file")?;
    let document =
        serde_json::from_slice(json).map_err(|e| format!("has a damaged JSON chunk: {e}"))?;
    check_gltf_version(&document)?;
    Ok(document)
}

/// A step that plays an animation the model does not have would silently show a still model.
fn check_animation(document: &Value, animation: Option<&str>) -> Result<(), String> {
    let Some(wanted) = animation else {
        return Ok(());
    };
    let names: Vec<&str> = document
        .get("animations")
        .and_then(Value::as_array)
        .map(|all| all.iter().filter_map(|a| a.get("name")?.as_str()).collect())
        .unwrap_or_default();
    if names.contains(&wanted) {
        Ok(())
    } else if names.is_empty() {
        Err(format!("has no animations, so it cannot play '{wanted}'"))
    } else {
        Err(format!(
            "has no animation '{wanted}' (it has: {})",
            names.join(", ")
        ))
    }
}

fn check_gltf_version(document: &Value) -> Result<(), String> {
    let version = document
        .pointer("/asset/version")
        .and_then(Value::as_str)
        .ok_or("has no asset.version; it is not a glTF document")?;
    if version.split('.').next() != Some("2") {
        return Err(format!("is glTF {version}; only glTF 2.x is supported"));
    }
    Ok(())
}

/// `.gltf` keeps buffers and images in other files; each must be in the package too.
fn gltf_json(name: &str, bytes: &[u8], exists: &dyn Fn(&str) -> bool) -> Result<Value, String> {
    let document: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("is not valid glTF JSON: {e}"))?;
    check_gltf_version(&document)?;
    let directory = name.rsplit_once('/').map(|(dir, _)| dir);
    for collection in ["buffers", "images"] {
        let Some(items) = document.get(collection).and_then(Value::as_array) else {
            continue;
        };
        for uri in items.iter().filter_map(|item| item.get("uri")?.as_str()) {
            if uri.starts_with("data:") {
                continue;
            }
            safe_relative_path(uri)
                .map_err(|reason| format!("refers to '{uri}', which {reason}"))?;
            let sibling = match directory {
                Some(dir) => format!("{dir}/{uri}"),
                None => uri.to_owned(),
            };
            if !exists(&sibling) {
                return Err(format!("refers to '{uri}', which is not in the package"));
            }
        }
    }
    Ok(document)
}
