//! A hologram's glTF or GLB bytes loaded as the renderer loads them (Draco and meshopt streams,
//! embedded images and data: URIs included). Files next to a `.gltf` are absent here.
#![no_main]

use hologuide::guide::AssetError;
use hologuide::model::{LoadOptions, load_model};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let resolve = |uri: &str| -> Result<Vec<u8>, AssetError> {
        Err(AssetError::NotInVersion(uri.to_owned()))
    };
    let options = LoadOptions {
        // A common device limit; larger textures are scaled down as on a headset.
        max_texture_dimension: 2048,
        resolve: &resolve,
    };
    if let Ok(model) = load_model("fuzz.glb", bytes, &options) {
        let _ = model.triangle_count();
        let _ = model.bounds();
    }
});
