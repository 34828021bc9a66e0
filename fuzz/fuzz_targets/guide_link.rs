//! Guide links as a QR sticker, a chat message or the command line hand them over.
#![no_main]

use hologuide::guide::GuideLink;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(link) = GuideLink::parse(text) else {
        return;
    };
    // A parsed link written back reads as the same link.
    let written = link.to_string();
    let again = GuideLink::parse(&written).expect("a written link parses");
    assert_eq!(again, link, "{text:?} → {written:?}");
    let _ = link.to_https("https://guides.example.com");
});
