//! `info` and `verify`: what a cache holds and whether it is sound.

use std::fs;
use std::path::PathBuf;

use super::{CacheError, CacheInfo, Store, VerifyReport};

impl Store {
    /// Sizes: file, guides, blobs, downloads under way, outbox.
    pub fn info(&self) -> Result<CacheInfo, CacheError> {
        let guides = self.list()?;
        let file_bytes = ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut name = self.path.as_os_str().to_owned();
                name.push(suffix);
                fs::metadata(PathBuf::from(name)).ok().map(|m| m.len())
            })
            .sum();
        self.run(|c| {
            let count = |sql: &str| -> rusqlite::Result<(u64, u64)> {
                c.query_row(sql, [], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))
            };
            let (blobs, blob_bytes) =
                count("SELECT count(*), coalesce(sum(size), 0) FROM blobs WHERE complete = 1")?;
            let partial_shas: Vec<String> = {
                let mut statement = c.prepare("SELECT sha256 FROM blobs WHERE complete = 0")?;
                statement
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            let partial_blobs = partial_shas.len() as u64;
            let partial_bytes = self.partial_bytes(&partial_shas);
            let (pending_telemetry, _) = count(
                "SELECT (SELECT count(*) FROM telemetry) + (SELECT count(*) FROM telemetry_summaries), 0",
            )?;
            let (pending_results, _) =
                count("SELECT count(*), 0 FROM pending_results WHERE rejected_code IS NULL")?;
            Ok(CacheInfo {
                path: self.path.clone(),
                file_bytes,
                guides,
                blobs,
                blob_bytes,
                partial_blobs,
                partial_bytes,
                pending_telemetry,
                pending_results,
            })
        })
    }

    /// Checks everything: page HMACs and b-tree structure, every blob's bytes against its
    /// sha256 and size, every version's references.
    pub fn verify(&self) -> Result<VerifyReport, CacheError> {
        let mut report = VerifyReport::default();
        let is_encrypted = self.data_dir.is_some();
        self.run(|c| {
            if is_encrypted {
                let mut statement = c.prepare("PRAGMA cipher_integrity_check")?;
                let rows = statement.query_map([], |r| r.get::<_, String>(0))?;
                for row in rows {
                    report.integrity.push(row?);
                }
            }
            let mut statement = c.prepare("PRAGMA integrity_check")?;
            let rows = statement.query_map([], |r| r.get::<_, String>(0))?;
            for row in rows {
                let row = row?;
                if row != "ok" {
                    report.integrity.push(row);
                }
            }
            Ok(())
        })
        .map_err(|e| match e {
            // A page the full read reaches and nothing else does (a flipped byte) stops
            // SQLCipher with a bare "SQL logic error": it is damage, said as the rest is.
            CacheError::Database(e) => {
                tracing::debug!("integrity check stopped: {e}");
                CacheError::Corrupt {
                    path: self.path.clone(),
                    detail: "a page does not read back as it was written".to_owned(),
                }
            }
            other => other,
        })?;
        let blobs: Vec<(String, u64)> = self.run(|c| {
            let mut statement =
                c.prepare("SELECT sha256, size FROM blobs WHERE complete = 1 ORDER BY sha256")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })?;
        // Files a crash left without a row go first, so they are never counted as sound.
        self.sweep_blob_files()?;
        for (sha256, size) in blobs {
            report.checked_blobs += 1;
            if let Err(detail) = self.check_blob(&sha256, size)? {
                report.bad_blobs.push(detail);
            }
        }
        self.run(|c| {
            report.checked_versions =
                c.query_row("SELECT count(*) FROM versions", [], |r| r.get::<_, i64>(0))? as u64;
            let mut statement = c.prepare(
                "SELECT a.guide_id, a.version, a.path, a.sha256 FROM version_assets a
                 LEFT JOIN blobs b ON b.sha256 = a.sha256
                 WHERE b.sha256 IS NULL OR b.complete = 0 OR b.size != a.bytes
                 ORDER BY a.guide_id, a.version, a.path",
            )?;
            let rows = statement.query_map([], |r| {
                Ok(format!(
                    "guide {} version {}: {} (blob {}) missing or incomplete",
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?
                ))
            })?;
            for row in rows {
                report.missing_blobs.push(row?);
            }
            Ok(())
        })?;
        Ok(report)
    }
}
