//! A grey camera frame of any width, height and stride, decoded for QR codes.
#![no_main]

use arbitrary::Arbitrary;
use hologuide::qr::{Decoder, GrayFrame};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Frame<'a> {
    width: u16,
    height: u16,
    /// Bytes of padding after each row.
    padding: u8,
    pixels: &'a [u8],
}

fuzz_target!(|frame: Frame<'_>| {
    let (width, height) = (usize::from(frame.width), usize::from(frame.height));
    let stride = width + usize::from(frame.padding);
    // Frames the constructor refuses are refused with an error; that path is fuzzed too.
    let Ok(gray) = GrayFrame::new(frame.pixels, width, height, stride) else {
        return;
    };
    for detection in Decoder::new().decode(&gray) {
        assert!((1..=40).contains(&detection.version));
    }
});
