//! How much the device takes from a guide service, hostile or broken, before it stops reading:
//! answers, manifests and downloads are bounded here, and each bound refused says which it was.
//!
//! The bounds on a guide are the service's own publish rules (`guide::package`): a package has
//! at most [`MAX_GUIDE_ASSETS`] files of at most [`MAX_ASSET_BYTES`] each, under paths
//! [`safe_relative_path`] accepts. A manifest that breaks them did not come from an honest
//! service.

use std::io::Read;

use serde::de::{Deserializer, SeqAccess, Visitor};

use super::wire::{Asset, Manifest};
pub use crate::guide::package::MAX_ASSET_BYTES;
use crate::guide::package::{MAX_ARCHIVE_ENTRIES, MAX_GUIDE_JSON_BYTES, safe_relative_path};

/// Files of one guide: a package holds at most this many.
pub const MAX_GUIDE_ASSETS: usize = MAX_ARCHIVE_ENTRIES;
/// All of one guide's files together. The service bounds each file, not their sum; 4 GiB is
/// sixteen of its largest files, well beyond a guide made for a headset (the demo is 1.4 MB),
/// and a sixteenth of a HoloLens 2's storage.
pub const MAX_GUIDE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// A manifest: `guide.json` (at most 4 MiB) and up to 10,000 asset rows of about 150 bytes.
pub const MAX_MANIFEST_ANSWER: u64 = 4 * MAX_GUIDE_JSON_BYTES;
/// A list (guides, a telemetry batch's outcome): thousands of rows of a few hundred bytes.
pub const MAX_LIST_ANSWER: u64 = 16 * 1024 * 1024;
/// One object (a session, a guide's details, a link's target): a few hundred bytes.
pub const MAX_OBJECT_ANSWER: u64 = 1024 * 1024;
/// A refusal's `{"error", "message"}`.
pub const MAX_ERROR_ANSWER: u64 = 64 * 1024;
/// Room left on the disk after a download: the cache's database, the telemetry outbox and the
/// system keep working on a device whose guides filled it.
pub const FREE_SPACE_MARGIN: u64 = 256 * 1024 * 1024;

/// A body read until `limit` bytes, then refused: reading past it fails with an error, and
/// [`Bounded::exceeded`] says that this was the reason.
pub(crate) struct Bounded<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Bounded<R> {
    pub(crate) fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            left: limit,
            exceeded: false,
        }
    }

    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a body of exactly `limit` bytes from a longer one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.exceeded = true;
                    Err(std::io::Error::other("the answer is larger than its bound"))
                }
            };
        }
        let room = buffer
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buffer[..room])?;
        self.left -= read as u64;
        Ok(read)
    }
}

/// `1.5 MiB`-style sizes for messages.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let shown = format!("{value:.1}");
    format!("{} {}", shown.trim_end_matches(".0"), UNITS[unit])
}

/// Deserializes a manifest's `assets`, refusing the asset after the last one a guide may have
/// while the answer is still being read (a million rows never reach memory).
pub(crate) fn bounded_assets<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Asset>, D::Error> {
    struct Assets;
    impl<'de> Visitor<'de> for Assets {
        type Value = Vec<Asset>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_GUIDE_ASSETS} assets")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Asset>, A::Error> {
            let mut assets = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(asset) = seq.next_element()? {
                if assets.len() == MAX_GUIDE_ASSETS {
                    return Err(serde::de::Error::custom(format!(
                        "the manifest lists more than {MAX_GUIDE_ASSETS} assets; \
                         a guide has at most {MAX_GUIDE_ASSETS} files"
                    )));
                }
                assets.push(asset);
            }
            Ok(assets)
        }
    }
    deserializer.deserialize_seq(Assets)
}

/// The publish rules, checked again on the device: every asset path stays inside the guide,
/// every file and the whole guide within their sizes. Returns what is wrong, for the user.
pub fn check_manifest(manifest: &Manifest) -> Result<(), String> {
    if manifest.assets.len() > MAX_GUIDE_ASSETS {
        return Err(format!(
            "the manifest lists {} assets; a guide has at most {MAX_GUIDE_ASSETS} files",
            manifest.assets.len()
        ));
    }
    for asset in &manifest.assets {
        if let Err(reason) = safe_relative_path(&asset.path) {
            return Err(format!(
                "the manifest's asset path '{}' {reason}",
                shown(&asset.path)
            ));
        }
    }
    check_sizes(manifest.assets.iter().map(|a| (a.path.as_str(), a.bytes))).map(|_| ())
}

/// The sizes of one guide's files, by name: each at most [`MAX_ASSET_BYTES`], together at most
/// [`MAX_GUIDE_BYTES`]. Returns their total.
pub fn check_sizes<'a>(files: impl IntoIterator<Item = (&'a str, u64)>) -> Result<u64, String> {
    let mut total: u64 = 0;
    for (name, bytes) in files {
        if bytes > MAX_ASSET_BYTES {
            return Err(format!(
                "the file '{}' is {bytes} bytes; a guide's file is at most {}",
                shown(name),
                human_bytes(MAX_ASSET_BYTES)
            ));
        }
        total = total.saturating_add(bytes);
    }
    if total > MAX_GUIDE_BYTES {
        return Err(format!(
            "the guide's files add up to {}; this device downloads guides of at most {}",
            human_bytes(total),
            human_bytes(MAX_GUIDE_BYTES)
        ));
    }
    Ok(total)
}

/// A name from the service as a message shows it: no longer than a line.
fn shown(name: &str) -> String {
    name.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(assets: Vec<Asset>) -> Manifest {
        let now = time::OffsetDateTime::now_utc();
        Manifest {
            guide_id: uuid::Uuid::nil(),
            version: 1,
            content_hash: String::new(),
            published_at: now,
            total_bytes: 0,
            assets,
            guide: serde_json::Value::Null,
            lease_expires_at: now,
        }
    }

    fn asset(path: &str, bytes: u64) -> Asset {
        Asset {
            path: path.to_owned(),
            sha256: "a".repeat(64),
            bytes,
        }
    }

    #[test]
    fn a_body_is_read_up_to_its_bound_and_refused_past_it() {
        let mut exact = Bounded::new(&b"abcd"[..], 4);
        let mut all = Vec::new();
        exact.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"abcd");
        assert!(!exact.exceeded());

        let mut longer = Bounded::new(&b"abcde"[..], 4);
        let mut some = Vec::new();
        assert!(longer.read_to_end(&mut some).is_err());
        assert!(longer.exceeded());
        assert_eq!(some.len(), 4);
    }

    #[test]
    fn manifests_are_held_to_the_publish_rules() {
        assert_eq!(
            check_manifest(&manifest(vec![asset("media/a.png", 10)])),
            Ok(())
        );
        let escaping = check_manifest(&manifest(vec![asset("../../etc/passwd", 10)])).unwrap_err();
        assert!(escaping.contains("'../../etc/passwd'"), "{escaping}");
        let huge = check_manifest(&manifest(vec![asset("a.glb", 10_u64.pow(13))])).unwrap_err();
        assert!(huge.contains("10000000000000 bytes"), "{huge}");
        assert!(huge.contains("256 MiB"), "{huge}");
        let many_large: Vec<Asset> = (0..17)
            .map(|i| asset(&format!("m{i}.glb"), MAX_ASSET_BYTES))
            .collect();
        let total = check_manifest(&manifest(many_large)).unwrap_err();
        assert!(total.contains("at most 4 GiB"), "{total}");
    }

    #[test]
    fn a_manifest_with_too_many_assets_is_refused_while_it_is_read() {
        let row = r#"{"path":"a","sha256":"x","bytes":1}"#;
        let too_many = format!("[{}]", vec![row; MAX_GUIDE_ASSETS + 1].join(","));
        let mut deserializer = serde_json::Deserializer::from_str(&too_many);
        let error = bounded_assets(&mut deserializer).unwrap_err().to_string();
        assert!(error.contains("more than 10000 assets"), "{error}");

        let most = format!("[{}]", vec![row; MAX_GUIDE_ASSETS].join(","));
        let mut deserializer = serde_json::Deserializer::from_str(&most);
        assert_eq!(
            bounded_assets(&mut deserializer).unwrap().len(),
            MAX_GUIDE_ASSETS
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(12), "12 bytes");
        assert_eq!(human_bytes(1024 * 1024), "1 MiB");
        assert_eq!(human_bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(human_bytes(MAX_GUIDE_BYTES), "4 GiB");
    }
}
