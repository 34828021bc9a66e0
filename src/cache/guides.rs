//! Guides, versions and content-addressed blobs: staging, resumable downloads, the atomic
//! switch to a new version, garbage collection, the All list (F3) and refusals (F13, F14).

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::outbox::uuid_of;
use super::store::{format_time, parse_optional_time, parse_time};
use super::{AssetRef, CacheError, CachedVersion, GuideListEntry, GuideStatus, NewVersion, Store};

pub(super) fn check_sha256(text: &str) -> Result<(), CacheError> {
    if crate::content_address::is_sha256_hex(text) {
        Ok(())
    } else {
        Err(CacheError::BadSha256(text.chars().take(80).collect()))
    }
}

fn status_of(text: &str) -> rusqlite::Result<GuideStatus> {
    text.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// Writes one new version of one guide: stage its blobs, then [`VersionWriter::commit`].
///
/// Dropping the writer without committing leaves the current version as it was; the staged
/// blobs stay (a retry need not download them again) until garbage-collected.
pub struct VersionWriter<'a> {
    store: &'a Store,
    version: NewVersion,
}

impl Store {
    /// Starts writing `version` of a guide. Refused for a guide the service deactivated or took
    /// away (F13, F14): such a guide is never updated.
    pub fn begin_version(&self, version: NewVersion) -> Result<VersionWriter<'_>, CacheError> {
        for asset in &version.assets {
            check_sha256(&asset.sha256)?;
        }
        self.run(|c| refuse_if_blocked(c, version.guide_id))?;
        let mut pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
        for asset in &version.assets {
            *pinned.entry(asset.sha256.clone()).or_default() += 1;
        }
        drop(pinned);
        let shas: Vec<&str> = version.assets.iter().map(|a| a.sha256.as_str()).collect();
        self.touch_partials(&shas)?;
        Ok(VersionWriter {
            store: self,
            version,
        })
    }

    /// The current version of a guide, if cached.
    pub fn current(&self, guide_id: Uuid) -> Result<Option<CachedVersion>, CacheError> {
        self.run(|c| {
            let row = c
                .query_row(
                    "SELECT v.version, v.title, v.manifest, v.content_hash, v.downloaded_at,
                            v.lease_expires_at, g.status, g.status_message
                     FROM guides g JOIN versions v
                       ON v.guide_id = g.guide_id AND v.version = g.current_version
                     WHERE g.guide_id = ?1",
                    [guide_id.to_string()],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            parse_time(&r.get::<_, String>(4)?)?,
                            parse_optional_time(r.get(5)?)?,
                            status_of(&r.get::<_, String>(6)?)?,
                            r.get::<_, Option<String>>(7)?,
                        ))
                    },
                )
                .optional()?;
            let Some((
                version,
                title,
                manifest,
                content_hash,
                downloaded_at,
                lease,
                status,
                message,
            )) = row
            else {
                return Ok(None);
            };
            let manifest =
                serde_json::from_str(&manifest).map_err(|e| CacheError::BadManifest {
                    guide_id,
                    detail: e.to_string(),
                })?;
            let mut statement = c.prepare_cached(
                "SELECT path, sha256, bytes FROM version_assets
                 WHERE guide_id = ?1 AND version = ?2 ORDER BY path",
            )?;
            let assets = statement
                .query_map(params![guide_id.to_string(), version], |r| {
                    Ok(AssetRef {
                        path: r.get(0)?,
                        sha256: r.get(1)?,
                        bytes: r.get::<_, i64>(2)? as u64,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(CachedVersion {
                guide_id,
                version: version as u32,
                title,
                manifest,
                content_hash,
                assets,
                downloaded_at,
                lease_expires_at: lease,
                status,
                status_message: message,
            }))
        })
    }

    /// The All list (F3): every cached guide with its current version, by title.
    /// Each cached guide's title, by its id: how messages and reports name a guide to the user.
    pub fn titles(&self) -> Result<std::collections::HashMap<Uuid, String>, CacheError> {
        Ok(self
            .list()?
            .into_iter()
            .map(|g| (g.guide_id, g.title))
            .collect())
    }

    pub fn list(&self) -> Result<Vec<GuideListEntry>, CacheError> {
        self.run(|c| {
            let mut statement = c.prepare(
                "SELECT g.guide_id, v.title, v.version, v.downloaded_at, v.lease_expires_at,
                        g.status, g.status_message,
                        (SELECT coalesce(sum(bytes), 0) FROM version_assets a
                          WHERE a.guide_id = v.guide_id AND a.version = v.version),
                        v.content_hash
                 FROM guides g JOIN versions v
                   ON v.guide_id = g.guide_id AND v.version = g.current_version
                 ORDER BY v.title COLLATE NOCASE, g.guide_id",
            )?;
            let rows = statement.query_map([], |r| {
                Ok(GuideListEntry {
                    guide_id: uuid_of(&r.get::<_, String>(0)?)?,
                    title: r.get(1)?,
                    version: r.get::<_, i64>(2)? as u32,
                    downloaded_at: parse_time(&r.get::<_, String>(3)?)?,
                    lease_expires_at: parse_optional_time(r.get(4)?)?,
                    status: status_of(&r.get::<_, String>(5)?)?,
                    status_message: r.get(6)?,
                    bytes: r.get::<_, i64>(7)? as u64,
                    content_hash: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The service refused the guide (F13 deactivated, F14 permission lost): the cached copy
    /// stays, is marked with the service's message, and is never updated.
    pub fn mark_refused(
        &self,
        guide_id: Uuid,
        status: GuideStatus,
        message: &str,
    ) -> Result<(), CacheError> {
        let now = format_time(self.clock.now());
        self.run(|c| {
            let changed = c.execute(
                "UPDATE guides SET status = ?2, status_message = ?3, status_at = ?4
                 WHERE guide_id = ?1",
                params![guide_id.to_string(), status.as_str(), message, now],
            )?;
            if changed == 0 {
                return Err(CacheError::NotCached(guide_id));
            }
            Ok(())
        })
    }

    /// The service lets the user have the guide again (reactivated, permission given back).
    pub fn mark_active(&self, guide_id: Uuid) -> Result<(), CacheError> {
        self.mark_refused(guide_id, GuideStatus::Active, "")?;
        self.run(|c| {
            c.execute(
                "UPDATE guides SET status_message = NULL WHERE guide_id = ?1",
                [guide_id.to_string()],
            )?;
            Ok(())
        })
    }

    /// Removes a guide and the blobs only it used (F14). Returns whether it was cached.
    pub fn clear_guide(&self, guide_id: Uuid) -> Result<bool, CacheError> {
        let pinned = self.pinned_shas();
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let candidates = version_shas(&t, guide_id, None)?;
            let removed = t.execute(
                "DELETE FROM guides WHERE guide_id = ?1",
                [guide_id.to_string()],
            )?;
            delete_unreferenced(&t, &candidates, &pinned)?;
            t.commit()?;
            Ok(removed > 0)
        })
        .and_then(|removed| {
            self.sweep_blob_files()?;
            Ok(removed)
        })
    }

    /// Removes every guide and blob, downloads under way included; the session and the outbox
    /// stay. Returns how many guides were removed.
    pub fn clear_guides(&self) -> Result<usize, CacheError> {
        let removed = self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let removed = t.execute("DELETE FROM guides", [])?;
            t.execute("DELETE FROM blob_chunks", [])?;
            t.execute("DELETE FROM blobs", [])?;
            t.commit()?;
            Ok(removed)
        })?;
        self.forget_partials();
        self.sweep_blob_files()?;
        // Give the freed pages back to the file system.
        self.run(|c| Ok(c.execute_batch("VACUUM")?))?;
        Ok(removed)
    }

    /// Deletes complete blobs no version references and no writer is staging (left by a
    /// process killed between staging and commit), and partial downloads no guide wanted for
    /// [`super::PARTIAL_MAX_AGE`]; recent partial downloads are kept for resuming.
    /// Returns how many were deleted.
    pub fn collect_garbage(&self) -> Result<usize, CacheError> {
        let pinned = self.pinned_shas();
        let stale = self.delete_stale_partials(&pinned)?;
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let candidates: BTreeSet<String> = {
                let mut statement = t.prepare(
                    "SELECT sha256 FROM blobs b WHERE complete = 1 AND NOT EXISTS
                       (SELECT 1 FROM version_assets a WHERE a.sha256 = b.sha256)",
                )?;
                statement
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            let deleted = delete_unreferenced(&t, &candidates, &pinned)?;
            t.commit()?;
            Ok(deleted)
        })
        .and_then(|deleted| {
            // Also the files a crash left without a row, and those of stale partials.
            self.sweep_blob_files()?;
            Ok(deleted + stale)
        })
    }

    fn pinned_shas(&self) -> BTreeSet<String> {
        self.pinned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

fn refuse_if_blocked(c: &Connection, guide_id: Uuid) -> Result<(), CacheError> {
    let row: Option<(String, Option<String>)> = c
        .query_row(
            "SELECT status, status_message FROM guides WHERE guide_id = ?1",
            [guide_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((status, message)) = row {
        let status = status_of(&status)?;
        if status != GuideStatus::Active {
            return Err(CacheError::Refused {
                guide_id,
                status,
                message: message.unwrap_or_default(),
            });
        }
    }
    Ok(())
}

/// The blobs referenced by a guide's versions (all of them, or all but `except`).
fn version_shas(
    c: &Connection,
    guide_id: Uuid,
    except: Option<u32>,
) -> rusqlite::Result<BTreeSet<String>> {
    let mut statement = c.prepare(
        "SELECT DISTINCT sha256 FROM version_assets WHERE guide_id = ?1 AND version != ?2",
    )?;
    statement
        .query_map(
            params![guide_id.to_string(), except.map_or(-1, i64::from)],
            |r| r.get(0),
        )?
        .collect()
}

fn delete_unreferenced(
    c: &Connection,
    candidates: &BTreeSet<String>,
    pinned: &BTreeSet<String>,
) -> rusqlite::Result<usize> {
    let mut deleted = 0;
    let mut delete = c.prepare(
        "DELETE FROM blobs WHERE sha256 = ?1 AND NOT EXISTS
           (SELECT 1 FROM version_assets WHERE sha256 = ?1)",
    )?;
    for sha256 in candidates.difference(pinned) {
        deleted += delete.execute([sha256])?;
    }
    Ok(deleted)
}

impl VersionWriter<'_> {
    /// The assets whose blobs are not stored yet: what still has to be downloaded (blobs
    /// already cached for another guide or version are shared, not downloaded again).
    pub fn missing(&self) -> Result<Vec<AssetRef>, CacheError> {
        let mut missing = Vec::new();
        for asset in &self.version.assets {
            if !self.store.has_blob(&asset.sha256)? {
                missing.push(asset.clone());
            }
        }
        Ok(missing)
    }

    /// Stages one blob (verified, see [`Store::put_blob`]). Resumable downloads use
    /// [`Store::append_partial`] and [`Store::finish_partial`] instead; the writer keeps their
    /// blobs from being garbage-collected while it lives.
    pub fn put_blob(&self, sha256: &str, bytes: &[u8]) -> Result<(), CacheError> {
        self.store.put_blob(sha256, bytes)
    }

    pub fn version(&self) -> &NewVersion {
        &self.version
    }

    /// Makes the version current in one transaction, after checking that every blob it
    /// references is stored complete with the announced size; then deletes the previous
    /// version and the blobs nothing else references, in that same transaction.
    pub fn commit(self) -> Result<CachedVersion, CacheError> {
        let version = &self.version;
        let guide_id = version.guide_id;
        let manifest = serde_json::to_string(&version.manifest).unwrap_or_default();
        let now = format_time(self.store.clock.now());
        let pinned_elsewhere = self.pinned_by_others();
        self.store.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            refuse_if_blocked(&t, guide_id)?;
            for asset in &version.assets {
                let size: Option<i64> = t
                    .query_row(
                        "SELECT size FROM blobs WHERE sha256 = ?1 AND complete = 1",
                        [&asset.sha256],
                        |r| r.get(0),
                    )
                    .optional()?;
                if size != Some(asset.bytes as i64) {
                    return Err(CacheError::IncompleteVersion {
                        guide_id,
                        version: version.version,
                        path: asset.path.clone(),
                        sha256: asset.sha256.clone(),
                    });
                }
            }
            let previous = version_shas(&t, guide_id, None)?;
            let id = guide_id.to_string();
            t.execute(
                "INSERT INTO guides (guide_id, current_version, status) VALUES (?1, NULL, 'active')
                 ON CONFLICT (guide_id) DO UPDATE SET current_version = NULL",
                [&id],
            )?;
            t.execute("DELETE FROM versions WHERE guide_id = ?1", [&id])?;
            t.execute(
                "INSERT INTO versions (guide_id, version, title, manifest, content_hash,
                     downloaded_at, lease_expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    version.version,
                    version.title,
                    manifest,
                    version.content_hash,
                    now,
                    version.lease_expires_at.map(format_time)
                ],
            )?;
            let mut insert = t.prepare(
                "INSERT INTO version_assets (guide_id, version, path, sha256, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for asset in &version.assets {
                insert.execute(params![
                    id,
                    version.version,
                    asset.path,
                    asset.sha256,
                    asset.bytes as i64
                ])?;
            }
            drop(insert);
            t.execute(
                "UPDATE guides SET current_version = ?2 WHERE guide_id = ?1",
                params![id, version.version],
            )?;
            delete_unreferenced(&t, &previous, &pinned_elsewhere)?;
            t.commit()?;
            Ok(())
        })?;
        // Files go only after their rows' deletion committed (see `blobs.rs`).
        self.store.sweep_blob_files()?;
        self.store
            .current(guide_id)?
            .ok_or(CacheError::NotCached(guide_id))
    }

    /// Blobs other live writers are staging (this writer's own pins do not protect the
    /// previous version's blobs from collection).
    fn pinned_by_others(&self) -> BTreeSet<String> {
        let pinned = self.store.pinned.lock().unwrap_or_else(|p| p.into_inner());
        let mine: std::collections::HashMap<&str, usize> =
            self.version
                .assets
                .iter()
                .fold(Default::default(), |mut counts, asset| {
                    *counts.entry(asset.sha256.as_str()).or_default() += 1;
                    counts
                });
        pinned
            .iter()
            .filter(|(sha, count)| **count > mine.get(sha.as_str()).copied().unwrap_or(0))
            .map(|(sha, _)| sha.clone())
            .collect()
    }
}

impl Drop for VersionWriter<'_> {
    fn drop(&mut self) {
        let mut pinned = self.store.pinned.lock().unwrap_or_else(|p| p.into_inner());
        for asset in &self.version.assets {
            if let Some(count) = pinned.get_mut(&asset.sha256) {
                *count -= 1;
                if *count == 0 {
                    pinned.remove(&asset.sha256);
                }
            }
        }
    }
}
