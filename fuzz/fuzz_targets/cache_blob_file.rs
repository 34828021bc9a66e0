//! A cache blob file after a crash or tampering, read with a fixed user key; the size the
//! database records for it is input too (the database can be tampered with as well).
#![no_main]

use arbitrary::Arbitrary;
use hologuide::cache::read_blob_file;
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [7; 32];
const SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[derive(Debug, Arbitrary)]
enum RecordedSize {
    /// The size whose file length matches the file, so the chunks are read.
    MatchingFile,
    Any(u64),
}

#[derive(Debug, Arbitrary)]
struct BlobFile<'a> {
    size: RecordedSize,
    threads: u8,
    file: &'a [u8],
}

/// The plaintext size whose encrypted file has `len` bytes: 16 header bytes, then 28 bytes
/// (nonce and tag) per 64 KiB chunk plus a final, shorter chunk.
fn matching_size(len: u64) -> u64 {
    let payload = len.saturating_sub(16);
    let chunks = payload / (65536 + 28) + 1;
    payload.saturating_sub(chunks * 28)
}

fuzz_target!(|blob: BlobFile<'_>| {
    let path = std::env::temp_dir().join(format!("hologuide-fuzz-{}.blob", std::process::id()));
    std::fs::write(&path, blob.file).expect("the temporary directory is writable");
    let size = match blob.size {
        RecordedSize::MatchingFile => matching_size(blob.file.len() as u64),
        RecordedSize::Any(size) => size,
    };
    // A key of ours never authenticates bytes the fuzzer made: every read must fail, cleanly.
    let read = read_blob_file(&KEY, &path, SHA256, size, usize::from(blob.threads % 9));
    assert!(read.is_err(), "a blob file the fuzzer made authenticated");
    let _ = std::fs::remove_file(&path);
});
