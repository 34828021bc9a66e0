//! A guide package as zip bytes: what a USB stick holds and what `POST /v1/guides` uploads (the
//! service writes the body to a file and loads it with the same `GuidePackage::load`).
#![no_main]

use hologuide::guide::GuidePackage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    // The loader reads a file (as the device and the service do); one per fuzzing process.
    let path = std::env::temp_dir().join(format!("hologuide-fuzz-{}.zip", std::process::id()));
    std::fs::write(&path, bytes).expect("the temporary directory is writable");
    if let Ok(package) = GuidePackage::load(&path) {
        // What the service does next: read every asset the guide names.
        for step in package.guide.tasks.iter().flat_map(|task| &task.steps) {
            for hologram in &step.holograms {
                let _ = package.read_asset(&hologram.asset);
            }
            if let Some(media) = &step.media {
                let _ = package.read_asset(&media.path);
            }
        }
    }
    let _ = std::fs::remove_file(&path);
});
