//! Content-addressed blobs: verified writes, resumable downloads (HTTP Range survives a kill),
//! reads. A blob is stored once, however many versions reference it.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::guides::check_sha256;
use super::store::format_time;
use super::{CacheError, Store};

/// Blobs are stored in pieces of at most this size, so one piece fits comfortably in memory
/// and a resumed download appends rather than rewrites.
const CHUNK: usize = 256 * 1024;

impl Store {
    /// `true` when the blob is stored complete and verified.
    pub fn has_blob(&self, sha256: &str) -> Result<bool, CacheError> {
        check_sha256(sha256)?;
        self.run(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM blobs WHERE sha256 = ?1 AND complete = 1",
                [sha256],
                |r| r.get::<_, i64>(0),
            )? > 0)
        })
    }

    /// Stores `bytes` as the blob `sha256`, once; refused if they hash to anything else
    /// (truncated or tampered download).
    pub fn put_blob(&self, sha256: &str, bytes: &[u8]) -> Result<(), CacheError> {
        check_sha256(sha256)?;
        let actual = hex::encode(Sha256::digest(bytes));
        if actual != sha256 {
            return Err(CacheError::HashMismatch {
                expected: sha256.to_owned(),
                actual,
            });
        }
        let now = format_time(self.clock.now());
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let complete = blob_state(&t, sha256)?;
            if complete == Some(true) {
                return Ok(());
            }
            // A half-finished download of the same content is replaced by the whole of it.
            t.execute("DELETE FROM blob_chunks WHERE sha256 = ?1", [sha256])?;
            t.execute(
                "INSERT OR REPLACE INTO blobs (sha256, size, complete, created_at)
                 VALUES (?1, ?2, 1, ?3)",
                params![sha256, bytes.len() as i64, now],
            )?;
            let mut insert =
                t.prepare("INSERT INTO blob_chunks (sha256, offset, data) VALUES (?1, ?2, ?3)")?;
            for (index, piece) in bytes.chunks(CHUNK).enumerate() {
                insert.execute(params![sha256, (index * CHUNK) as i64, piece])?;
            }
            drop(insert);
            t.commit()?;
            Ok(())
        })
    }

    /// How many bytes of the blob `sha256` a resumable download has stored so far (0 when
    /// none); an HTTP Range request continues from here. The size of a complete blob.
    pub fn partial_len(&self, sha256: &str) -> Result<u64, CacheError> {
        check_sha256(sha256)?;
        self.run(|c| Ok(stored_len(c, sha256)?))
    }

    /// Appends the bytes of a download at `offset`, which must be where the stored part ends.
    /// Each call is its own transaction: after a kill, [`Store::partial_len`] says what
    /// survived. Returns the new stored length.
    pub fn append_partial(
        &self,
        sha256: &str,
        offset: u64,
        bytes: &[u8],
    ) -> Result<u64, CacheError> {
        check_sha256(sha256)?;
        let now = format_time(self.clock.now());
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let complete = blob_state(&t, sha256)?;
            let stored = stored_len(&t, sha256)?;
            if complete == Some(true) {
                // Already have it all (another guide shared it): nothing to append.
                return Ok(stored);
            }
            if offset != stored {
                return Err(CacheError::PartialOffset {
                    sha256: sha256.to_owned(),
                    expected: stored,
                    got: offset,
                });
            }
            if complete.is_none() {
                t.execute(
                    "INSERT INTO blobs (sha256, size, complete, created_at) VALUES (?1, 0, 0, ?2)",
                    params![sha256, now],
                )?;
            }
            // The hash so far: kept from this process's last append, else (a resumed download)
            // the stored prefix hashed once.
            let mut hasher = match self.take_hasher(sha256) {
                Some((hasher, hashed)) if hashed == stored => hasher,
                _ => hash_chunks(&t, sha256)?.0,
            };
            let mut at = offset;
            {
                let mut insert = t.prepare_cached(
                    "INSERT INTO blob_chunks (sha256, offset, data) VALUES (?1, ?2, ?3)",
                )?;
                for piece in bytes.chunks(CHUNK) {
                    insert.execute(params![sha256, at as i64, piece])?;
                    at += piece.len() as u64;
                }
            }
            t.execute(
                "UPDATE blobs SET size = ?2 WHERE sha256 = ?1",
                params![sha256, at as i64],
            )?;
            t.commit()?;
            // Only what was committed is hashed; a failed append leaves no state behind.
            hasher.update(bytes);
            self.keep_hasher(sha256, hasher, at);
            Ok(at)
        })
    }

    fn take_hasher(&self, sha256: &str) -> Option<(Sha256, u64)> {
        self.partial_hashers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(sha256)
    }

    fn keep_hasher(&self, sha256: &str, hasher: Sha256, hashed: u64) {
        self.partial_hashers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(sha256.to_owned(), (hasher, hashed));
    }

    /// Ends a resumable download: the stored bytes must hash to `sha256`, else they are
    /// discarded (the download starts over) and [`CacheError::HashMismatch`] says so.
    pub fn finish_partial(&self, sha256: &str) -> Result<(), CacheError> {
        check_sha256(sha256)?;
        // Hash and mark in one transaction, so no append can slip in between.
        self.run(|c| {
            let t = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let complete = blob_state(&t, sha256)?;
            match complete {
                None => return Err(CacheError::MissingBlob(sha256.to_owned())),
                Some(true) => return Ok(()),
                Some(_) => {}
            }
            let stored = stored_len(&t, sha256)?;
            let hasher = match self.take_hasher(sha256) {
                Some((hasher, hashed)) if hashed == stored => hasher,
                _ => hash_chunks(&t, sha256)?.0,
            };
            let actual = hex::encode(hasher.finalize());
            if actual == sha256 {
                t.execute("UPDATE blobs SET complete = 1 WHERE sha256 = ?1", [sha256])?;
                t.commit()?;
                Ok(())
            } else {
                t.execute(
                    "DELETE FROM blobs WHERE sha256 = ?1 AND complete = 0",
                    [sha256],
                )?;
                t.commit()?;
                Err(CacheError::HashMismatch {
                    expected: sha256.to_owned(),
                    actual,
                })
            }
        })
    }

    /// Drops what a download stored so far (complete blobs are left alone).
    pub fn discard_partial(&self, sha256: &str) -> Result<(), CacheError> {
        check_sha256(sha256)?;
        self.take_hasher(sha256);
        self.run(|c| {
            c.execute(
                "DELETE FROM blobs WHERE sha256 = ?1 AND complete = 0",
                [sha256],
            )?;
            Ok(())
        })
    }

    /// The bytes of a complete blob.
    pub fn read_blob(&self, sha256: &str) -> Result<Vec<u8>, CacheError> {
        check_sha256(sha256)?;
        self.run(|c| {
            let size: Option<i64> = c
                .query_row(
                    "SELECT size FROM blobs WHERE sha256 = ?1 AND complete = 1",
                    [sha256],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(size) = size else {
                return Err(CacheError::MissingBlob(sha256.to_owned()));
            };
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            let mut statement =
                c.prepare_cached("SELECT data FROM blob_chunks WHERE sha256 = ?1 ORDER BY offset")?;
            let mut rows = statement.query([sha256])?;
            while let Some(row) = rows.next()? {
                bytes.extend_from_slice(row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
            }
            Ok(bytes)
        })
    }

    /// sha256 and length of whatever is stored for `sha256`, read piece by piece.
    pub(super) fn hash_blob(&self, sha256: &str) -> Result<(String, u64), CacheError> {
        self.run(|c| {
            let (hasher, length) = hash_chunks(c, sha256)?;
            Ok((hex::encode(hasher.finalize()), length))
        })
    }

    /// Writes a complete blob to `sink` piece by piece, without holding all of it in memory
    /// (large media). Returns the bytes written.
    pub fn copy_blob_to(
        &self,
        sha256: &str,
        sink: &mut dyn std::io::Write,
    ) -> Result<u64, CacheError> {
        check_sha256(sha256)?;
        self.run(|c| {
            let complete = blob_state(c, sha256)?;
            if complete != Some(true) {
                return Err(CacheError::MissingBlob(sha256.to_owned()));
            }
            let mut written = 0u64;
            let mut statement =
                c.prepare_cached("SELECT data FROM blob_chunks WHERE sha256 = ?1 ORDER BY offset")?;
            let mut rows = statement.query([sha256])?;
            while let Some(row) = rows.next()? {
                let piece = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
                sink.write_all(piece)
                    .map_err(CacheError::io(format!("writing blob {sha256}")))?;
                written += piece.len() as u64;
            }
            Ok(written)
        })
    }
}

/// sha256 state and length of whatever is stored for `sha256`, read piece by piece.
fn hash_chunks(c: &Connection, sha256: &str) -> rusqlite::Result<(Sha256, u64)> {
    let mut hasher = Sha256::new();
    let mut length = 0u64;
    let mut statement =
        c.prepare_cached("SELECT data FROM blob_chunks WHERE sha256 = ?1 ORDER BY offset")?;
    let mut rows = statement.query([sha256])?;
    while let Some(row) = rows.next()? {
        let piece = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
        hasher.update(piece);
        length += piece.len() as u64;
    }
    Ok((hasher, length))
}

/// Whether the blob is known: `None` not at all, `Some(false)` a partial download, `Some(true)`
/// complete and verified.
fn blob_state(c: &Connection, sha256: &str) -> rusqlite::Result<Option<bool>> {
    c.query_row(
        "SELECT complete FROM blobs WHERE sha256 = ?1",
        [sha256],
        |r| r.get::<_, i64>(0),
    )
    .optional()
    .map(|state| state.map(|complete| complete == 1))
}

fn stored_len(c: &Connection, sha256: &str) -> rusqlite::Result<u64> {
    c.query_row(
        "SELECT coalesce(sum(length(data)), 0) FROM blob_chunks WHERE sha256 = ?1",
        [sha256],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
}
