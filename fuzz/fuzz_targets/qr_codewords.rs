//! A QR symbol's raw codewords (any version and error correction level) through de-interleaving,
//! Reed-Solomon correction and segment decoding (ECI, FNC1, structured append, Kanji, Hanzi);
//! or, as data codewords that passed correction, through segment decoding alone.
#![no_main]

use arbitrary::Arbitrary;
use hologuide::qr::{EccLevel, decode_codewords, parse_segments};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Symbol<'a> {
    version: u8,
    ecc: u8,
    /// `raw` holds corrected data codewords rather than a symbol's raw codewords.
    corrected: bool,
    raw: &'a [u8],
}

fuzz_target!(|symbol: Symbol<'_>| {
    let ecc = match symbol.ecc % 4 {
        0 => EccLevel::L,
        1 => EccLevel::M,
        2 => EccLevel::Q,
        _ => EccLevel::H,
    };
    // Versions past 40 are fuzzed too, a few of them: they must be refused, not indexed.
    let version = symbol.version % 48;
    let payload = if symbol.corrected {
        parse_segments(version, symbol.raw)
    } else {
        decode_codewords(version, ecc, symbol.raw)
    };
    if let Some(payload) = payload {
        assert!((1..=40).contains(&version));
        let _ = payload.text.len();
    }
});
