//! `guide.json` bytes as a package or the service reads them: JSON, then decode and validate
//! with every problem reported.
#![no_main]

use hologuide::guide::{Problems, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let mut problems = Problems::default();
    if let Some(guide) = decode(&document, &mut problems) {
        // What the service stores and serves back must read again.
        let json = guide.to_json_pretty();
        let again: serde_json::Value =
            serde_json::from_str(&json).expect("a decoded guide serialises to JSON");
        let mut again_problems = Problems::default();
        assert!(
            decode(&again, &mut again_problems).is_some(),
            "a decoded guide, written back, no longer decodes: {again_problems:?}"
        );
    }
});
