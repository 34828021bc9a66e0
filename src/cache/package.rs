//! A guide package on disk as a cache version: what the demo, the benchmark, the developer
//! tools and the tests store, in the same shape as a version downloaded from the service.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{AssetRef, CacheError, NewVersion};
use crate::guide::GuidePackage;

/// A version with the bytes of its blobs, ready for [`super::Store::begin_version`].
#[derive(Debug, Clone)]
pub struct PackagedVersion {
    pub version: NewVersion,
    /// (sha256, bytes) of each distinct asset.
    pub blobs: Vec<(String, Vec<u8>)>,
}

/// Reads every asset of `package` and builds version `version` of it, with a manifest shaped
/// like the service's (`guide_id`, `version`, `content_hash`, `assets`, `guide`).
pub fn from_package(
    package: &GuidePackage,
    version: u32,
    lease_expires_at: Option<OffsetDateTime>,
) -> Result<PackagedVersion, CacheError> {
    let guide = &package.guide;
    let mut assets = Vec::new();
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut paths = guide.asset_paths();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let bytes = package.read_asset(path).map_err(|e| CacheError::Io {
            what: format!("reading {path} of {}", package.path().display()),
            source: std::io::Error::other(e.to_string()),
        })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        assets.push(AssetRef {
            path: path.to_owned(),
            sha256: sha256.clone(),
            bytes: bytes.len() as u64,
        });
        if !blobs.iter().any(|(sha, _)| *sha == sha256) {
            blobs.push((sha256, bytes));
        }
    }
    let mut document = serde_json::to_value(guide).map_err(|e| CacheError::BadManifest {
        guide_id: guide.id,
        detail: e.to_string(),
    })?;
    document["version"] = serde_json::json!(version);
    let mut hasher = Sha256::new();
    hasher.update(document.to_string());
    for asset in &assets {
        hasher.update(&asset.path);
        hasher.update(&asset.sha256);
    }
    let content_hash = hex::encode(hasher.finalize());
    let manifest = serde_json::json!({
        "guide_id": guide.id,
        "version": version,
        "content_hash": content_hash,
        "total_bytes": assets.iter().map(|a| a.bytes).sum::<u64>(),
        "assets": assets,
        "guide": document,
    });
    Ok(PackagedVersion {
        version: NewVersion {
            guide_id: guide.id,
            version,
            title: guide.title.clone(),
            manifest,
            content_hash,
            assets,
            lease_expires_at,
        },
        blobs,
    })
}

impl PackagedVersion {
    /// Adds a file to the version (a new asset an author attached), updating the manifest's
    /// asset list so the version stays self-consistent.
    pub fn add_asset(&mut self, path: &str, bytes: Vec<u8>) {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let asset = AssetRef {
            path: path.to_owned(),
            sha256: sha256.clone(),
            bytes: bytes.len() as u64,
        };
        if let Some(list) = self.version.manifest["assets"].as_array_mut() {
            list.push(serde_json::json!(asset));
        }
        self.version.assets.push(asset);
        if !self.blobs.iter().any(|(sha, _)| *sha == sha256) {
            self.blobs.push((sha256, bytes));
        }
    }
}
