//! Texture image bytes (PNG, JPEG, WebP, KTX2 refused) decoded as a model's textures are.
#![no_main]

use hologuide::model::decode_texture;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut warnings = Vec::new();
    // A small device limit, so the scale-down path is reached by small inputs too.
    if let Ok(texture) = decode_texture(bytes, 64, "fuzz texture", &mut warnings) {
        assert_eq!(
            texture.rgba.len(),
            texture.width as usize * texture.height as usize * 4
        );
        assert!(texture.width <= 64 && texture.height <= 64);
    }
});
