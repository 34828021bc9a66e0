//! Collecting orphan blobs: files a publish wrote before it was killed (or failed) ahead of its
//! commit, which no version names. A publish streams each asset into the blob store first and
//! names them all in one transaction after, so a kill in between leaves blobs nobody will ask
//! for. They are collected once they are older than any publish takes: a younger one may belong
//! to a publish still in progress, on this instance or another sharing the folder (N4), and a
//! publish that finds a blob already there touches it (`BlobStore::holds`).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::Service;
use crate::service::error::ServiceError;

/// How old an unnamed blob must be before it is collected; far longer than a publish takes
/// (uploads are cut off well before: `serve --body-timeout`, `--min-body-rate`).
pub const ORPHAN_AGE: Duration = Duration::from_secs(24 * 3600);

/// What a collection found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrphanCollection {
    /// Blob files looked at.
    pub blobs: usize,
    /// Removed: named by no version, older than the age given.
    pub removed: usize,
    pub removed_bytes: u64,
    /// Named by no version but younger than the age given: kept, perhaps a publish in progress.
    pub young_orphans: usize,
}

impl Service {
    /// Removes the blobs no guide version names that were last written more than `age` ago.
    pub fn collect_orphan_blobs(&self, age: Duration) -> Result<OrphanCollection, ServiceError> {
        let cutoff = SystemTime::now()
            .checked_sub(age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut collection = OrphanCollection::default();
        for blob in self.blobs.list() {
            collection.blobs += 1;
            if self.store.blob_users(&blob.sha256)?.is_some() {
                continue;
            }
            if blob.modified.is_some_and(|modified| modified >= cutoff) {
                collection.young_orphans += 1;
            } else if self.blobs.remove_if_older(&blob.sha256, cutoff) {
                collection.removed += 1;
                collection.removed_bytes += blob.bytes;
            } else {
                collection.young_orphans += 1;
            }
        }
        if collection.removed > 0 {
            tracing::info!(
                "removed {} orphan blobs ({} bytes) that no guide version names",
                collection.removed,
                collection.removed_bytes
            );
        }
        Ok(collection)
    }
}
