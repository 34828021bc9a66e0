//! What a sync cycle will do (S2, S3, S8), worked out before anything is downloaded: from the
//! profile's manifest and what the cache holds, per guide what to download and how many bytes,
//! and what leaves the device. Pure: the cache's state comes in as values.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use uuid::Uuid;

use crate::net::wire::ProfileManifest;

/// A guide version the cache holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub guide_id: Uuid,
    pub title: String,
    pub version: u32,
    pub content_hash: String,
}

/// What the cache holds, as the plan needs it.
#[derive(Debug, Clone, Default)]
pub struct CacheState {
    pub held: Vec<Held>,
    /// Guides on the device because the profile held them at the last sync.
    pub held_by_profile: HashSet<Uuid>,
    /// Guides the user opened themselves: they stay when they leave the profile.
    pub opened_by_user: HashSet<Uuid>,
    /// Guides the service refused that the organisation keeps usable offline (S6 keep-offline):
    /// they stay too.
    pub kept_offline: HashSet<Uuid>,
    /// Blobs (sha256) the cache has whole.
    pub blobs: HashSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// Not on the device yet.
    New,
    /// A newer version than the device's.
    Update,
}

/// A guide version the cycle will download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Download {
    pub guide_id: Uuid,
    pub title: String,
    pub version: u32,
    pub why: Why,
    /// Bytes of blobs the cache lacks and no earlier download in the plan brings.
    pub bytes: u64,
    /// Bytes of the version's assets in all.
    pub total_bytes: u64,
}

/// A guide the cycle will take off the device: it left the profile (or may no longer be
/// opened, or was deactivated) and the user never opened it themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    pub guide_id: Uuid,
    pub title: String,
}

/// What one cycle will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub profile: String,
    pub revision: u64,
    pub downloads: Vec<Download>,
    pub removals: Vec<Removal>,
    /// Guides that left the profile but stay: the user opened them.
    pub kept: Vec<Removal>,
    /// Profile guides the device has at their latest version already.
    pub up_to_date: usize,
    /// Bytes the downloads need, each blob counted once.
    pub download_bytes: u64,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.downloads.is_empty() && self.removals.is_empty()
    }
}

/// The plan for `manifest` against `cache`.
pub fn plan(manifest: &ProfileManifest, cache: &CacheState) -> Plan {
    let held: HashMap<Uuid, &Held> = cache.held.iter().map(|h| (h.guide_id, h)).collect();
    let mut coming: HashSet<&str> = HashSet::new();
    let mut downloads = Vec::new();
    let mut up_to_date = 0;
    for guide in &manifest.guides {
        let why = match held.get(&guide.id) {
            None => Why::New,
            // The same version with the same content: nothing to fetch. A version the service
            // republished under the same number with other content is fetched again.
            Some(h) if h.version == guide.version && h.content_hash == guide.content_hash => {
                up_to_date += 1;
                continue;
            }
            // The device has a newer version than the profile names (opened since, from a
            // later publish): keep it.
            Some(h) if h.version > guide.version => {
                up_to_date += 1;
                continue;
            }
            Some(_) => Why::Update,
        };
        let bytes = guide
            .assets
            .iter()
            .filter(|a| !cache.blobs.contains(&a.sha256) && coming.insert(a.sha256.as_str()))
            .map(|a| a.bytes)
            .sum();
        downloads.push(Download {
            guide_id: guide.id,
            title: guide.title.clone(),
            version: guide.version,
            why,
            bytes,
            total_bytes: guide.assets.iter().map(|a| a.bytes).sum(),
        });
    }
    let in_profile: HashSet<Uuid> = manifest.guides.iter().map(|g| g.id).collect();
    let (mut removals, mut kept) = (Vec::new(), Vec::new());
    for h in &cache.held {
        if in_profile.contains(&h.guide_id) || !cache.held_by_profile.contains(&h.guide_id) {
            continue;
        }
        let leaving = Removal {
            guide_id: h.guide_id,
            title: h.title.clone(),
        };
        if cache.opened_by_user.contains(&h.guide_id) || cache.kept_offline.contains(&h.guide_id) {
            kept.push(leaving);
        } else {
            removals.push(leaving);
        }
    }
    let download_bytes = downloads.iter().map(|d| d.bytes).sum();
    Plan {
        profile: manifest.profile.clone(),
        revision: manifest.revision,
        downloads,
        removals,
        kept,
        up_to_date,
        download_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::wire::{Asset, ProfileGuide};

    fn id(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    fn asset(sha: &str, bytes: u64) -> Asset {
        Asset {
            path: format!("media/{sha}.png"),
            sha256: sha.to_owned(),
            bytes,
        }
    }

    fn guide(n: u8, version: u32, assets: Vec<Asset>) -> ProfileGuide {
        ProfileGuide {
            id: id(n),
            title: format!("Guide {n}"),
            version,
            content_hash: format!("hash-{n}-{version}"),
            published_at: time::OffsetDateTime::UNIX_EPOCH,
            bytes: assets.iter().map(|a| a.bytes).sum(),
            assets,
        }
    }

    fn manifest(guides: Vec<ProfileGuide>) -> ProfileManifest {
        ProfileManifest {
            lost_access: Default::default(),
            profile: "line-1".into(),
            description: String::new(),
            revision: 7,
            modified_within_days: Some(10),
            total_bytes: 0,
            guides,
        }
    }

    fn held(n: u8, version: u32) -> Held {
        Held {
            guide_id: id(n),
            title: format!("Guide {n}"),
            version,
            content_hash: format!("hash-{n}-{version}"),
        }
    }

    #[test]
    fn profile_guides_not_on_the_device_are_downloaded_each_blob_counted_once() {
        let shared = asset("shared", 1000);
        let m = manifest(vec![
            guide(1, 1, vec![shared.clone(), asset("a", 10)]),
            guide(2, 3, vec![shared, asset("b", 20)]),
        ]);
        let plan = plan(&m, &CacheState::default());
        assert_eq!(plan.downloads.len(), 2);
        assert_eq!(plan.downloads[0].bytes, 1010);
        assert_eq!(plan.downloads[1].bytes, 20, "the shared blob comes once");
        assert_eq!(plan.downloads[1].total_bytes, 1020);
        assert_eq!(plan.download_bytes, 1030);
        assert!(plan.downloads.iter().all(|d| d.why == Why::New));
    }

    #[test]
    fn a_newer_version_is_an_update_that_downloads_only_the_blobs_the_cache_lacks() {
        let m = manifest(vec![guide(1, 2, vec![asset("old", 500), asset("new", 70)])]);
        let cache = CacheState {
            held: vec![held(1, 1)],
            held_by_profile: [id(1)].into(),
            blobs: ["old".to_owned()].into(),
            ..CacheState::default()
        };
        let plan = plan(&m, &cache);
        assert_eq!(plan.downloads.len(), 1);
        assert_eq!(plan.downloads[0].why, Why::Update);
        assert_eq!(plan.download_bytes, 70);
    }

    #[test]
    fn guides_at_their_latest_version_need_nothing() {
        let m = manifest(vec![guide(1, 2, vec![asset("x", 5)])]);
        let cache = CacheState {
            held: vec![held(1, 2)],
            held_by_profile: [id(1)].into(),
            ..CacheState::default()
        };
        let plan = plan(&m, &cache);
        assert!(plan.is_empty());
        assert_eq!(plan.up_to_date, 1);
    }

    #[test]
    fn a_guide_that_left_the_profile_is_removed_unless_the_user_opened_it() {
        let m = manifest(vec![]);
        let cache = CacheState {
            held: vec![held(1, 1), held(2, 1), held(3, 1)],
            held_by_profile: [id(1), id(2)].into(),
            opened_by_user: [id(2), id(3)].into(),
            ..CacheState::default()
        };
        let plan = plan(&m, &cache);
        assert_eq!(
            plan.removals.iter().map(|r| r.guide_id).collect::<Vec<_>>(),
            [id(1)]
        );
        assert_eq!(
            plan.kept.iter().map(|r| r.guide_id).collect::<Vec<_>>(),
            [id(2)]
        );
        // Guide 3 was never the profile's: the sync leaves it alone.
    }
}
