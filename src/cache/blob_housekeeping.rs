//! Keeping the blob folder tidy: files without a row swept, partial downloads no guide wants
//! any more aged out, and blobs of an older layout migrated to the current one.

use std::fs;

use rusqlite::params;
use sha2::{Digest, Sha256};

use super::super::blobfile;
use super::super::store::{format_time, parse_time};
use super::super::{CacheError, Store};
use super::{PARTIAL_MAX_AGE, chunks_of};

impl Store {
    /// Deletes the files of blobs that have no row (a crash between a row's deletion and its
    /// file's, or a partial whose row was dropped). Listing before querying: a file created
    /// after the listing is not considered, and every listed file's row was inserted before it.
    pub(in crate::cache) fn sweep_blob_files(&self) -> Result<usize, CacheError> {
        // Held throughout: a blob this process re-creates under an orphan's name while the
        // sweep runs must not lose its new file.
        let partials = self.partials();
        let entries = match fs::read_dir(&self.blob_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                return Err(CacheError::Io {
                    what: format!("listing {}", self.blob_dir.display()),
                    source: e,
                });
            }
        };
        let names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let keep: std::collections::HashSet<String> = self.run(|c| {
            let mut statement = c.prepare("SELECT sha256 FROM blobs")?;
            let rows = statement.query_map([], |r| r.get::<_, String>(0))?;
            let mut keep = std::collections::HashSet::new();
            for row in rows {
                let name = self.blob_key.file_name(&row?);
                keep.insert(format!("{name}.part"));
                keep.insert(name);
            }
            Ok(keep)
        })?;
        let mut removed = 0;
        for name in names.iter().filter(|n| !keep.contains(*n)) {
            if fs::remove_file(self.blob_dir.join(name)).is_ok() {
                removed += 1;
            }
        }
        drop(partials);
        Ok(removed)
    }

    /// Marks the partial downloads among `shas` as wanted now (a download is about to resume
    /// them): the age [`PARTIAL_MAX_AGE`] counts from the last time a guide wanted them.
    pub(in crate::cache) fn touch_partials(&self, shas: &[&str]) -> Result<(), CacheError> {
        let now = format_time(self.clock.now());
        self.run(|c| {
            // Usually there is none: then no write at all.
            let any: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM blobs WHERE complete = 0)",
                [],
                |r| r.get(0),
            )?;
            if !any {
                return Ok(());
            }
            // One transaction for all: a guide may have 10,000 files.
            let t = c.transaction()?;
            {
                let mut touch = t.prepare(
                    "UPDATE blobs SET created_at = ?2 WHERE sha256 = ?1 AND complete = 0",
                )?;
                for sha256 in shas {
                    touch.execute(params![sha256, now])?;
                }
            }
            t.commit()?;
            Ok(())
        })
    }

    /// Deletes the rows of partial downloads that no writer is staging and no guide wanted for
    /// [`PARTIAL_MAX_AGE`]; their files go with the next sweep. Returns how many.
    pub(in crate::cache) fn delete_stale_partials(
        &self,
        pinned: &std::collections::BTreeSet<String>,
    ) -> Result<usize, CacheError> {
        let cutoff = self.clock.now() - PARTIAL_MAX_AGE;
        let mut partials = self.partials();
        let stale: Vec<String> = self.run(|c| {
            let mut statement =
                c.prepare("SELECT sha256, created_at FROM blobs WHERE complete = 0")?;
            let rows = statement.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, parse_time(&r.get::<_, String>(1)?)?))
            })?;
            let mut stale = Vec::new();
            for row in rows {
                let (sha256, wanted_at) = row?;
                if wanted_at < cutoff && !pinned.contains(&sha256) {
                    stale.push(sha256);
                }
            }
            Ok(stale)
        })?;
        self.run(|c| {
            let t = c.transaction()?;
            {
                let mut delete =
                    t.prepare("DELETE FROM blobs WHERE sha256 = ?1 AND complete = 0")?;
                for sha256 in &stale {
                    delete.execute([sha256])?;
                }
            }
            t.commit()?;
            Ok(())
        })?;
        for sha256 in &stale {
            partials.remove(sha256);
        }
        Ok(stale.len())
    }

    /// Forgets this process's downloads under way (their rows were deleted).
    pub(in crate::cache) fn forget_partials(&self) {
        self.partials().clear();
    }

    /// Bytes of downloads under way, from their files (`info`).
    pub(in crate::cache) fn partial_bytes(&self, shas: &[String]) -> u64 {
        shas.iter()
            .map(|sha| blobfile::partial_len_estimate(&self.blob_key, &self.part_path(sha)))
            .sum()
    }

    /// Moves blobs that an older hologuide kept inside the database (`blob_chunks`) into
    /// files, one blob per transaction; downloads under way there start over.
    pub(in crate::cache) fn migrate_blob_chunks(&self) -> Result<(), CacheError> {
        let shas: Vec<(String, bool)> = self.run(|c| {
            let mut statement = c.prepare(
                "SELECT sha256, complete FROM blobs b
                 WHERE EXISTS (SELECT 1 FROM blob_chunks k WHERE k.sha256 = b.sha256)",
            )?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? == 1)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })?;
        for (sha256, complete) in shas {
            if complete {
                let bytes = self.run(|c| Ok(chunks_of(c, &sha256)?))?;
                // Re-marked complete by put_blob only if the bytes still hash to the name.
                if self.put_blob_migrated(&sha256, &bytes).is_err() {
                    self.run(|c| {
                        c.execute("UPDATE blobs SET complete = 0 WHERE sha256 = ?1", [&sha256])?;
                        Ok(())
                    })?;
                }
            } else {
                self.run(|c| {
                    c.execute("UPDATE blobs SET size = 0 WHERE sha256 = ?1", [&sha256])?;
                    Ok(())
                })?;
            }
            self.run(|c| {
                c.execute("DELETE FROM blob_chunks WHERE sha256 = ?1", [&sha256])?;
                Ok(())
            })?;
        }
        Ok(())
    }

    fn put_blob_migrated(&self, sha256: &str, bytes: &[u8]) -> Result<(), CacheError> {
        let actual = hex::encode(Sha256::digest(bytes));
        if actual != sha256 {
            return Err(CacheError::HashMismatch {
                expected: sha256.to_owned(),
                actual,
            });
        }
        self.ensure_blob_dir()?;
        self.write_blob_file(sha256, bytes)?;
        self.mark_complete(sha256, bytes.len() as u64)
    }
}
