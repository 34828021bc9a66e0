//! Content-addressed blobs: verified writes, resumable downloads (HTTP Range survives a kill),
//! reads. A blob is stored once, however many versions reference it.
//!
//! The database keeps the index (sha256, size, complete); the bytes are one encrypted file per
//! blob in the user's blob folder ([`super::blobfile`]): `<name>.part` while a download is
//! under way, `<name>` once verified. A row is inserted before its file is created and files
//! are deleted only after the row's deletion commits, so a crash leaves at worst an orphan
//! file, which [`Store::sweep_blob_files`] removes — never a row whose file was deleted.

use std::fs;
use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::blobfile::{self, CHUNK, FileError, Writer};
use super::guides::check_sha256;
use super::running_hash::{HashingFailed, RunningHash};
use super::store::format_time;
use super::{CacheError, Store};

#[path = "blob_housekeeping.rs"]
mod housekeeping;

/// Chunks encrypted into one buffer and written with one system call.
const WRITE_CHUNKS: usize = 16;

/// A partial download no guide has asked for in this long is deleted by
/// [`Store::collect_garbage`]: its guide changed or was given up on. A week covers a device left
/// in a drawer over a holiday; resuming within it continues where the download stopped.
pub const PARTIAL_MAX_AGE: time::Duration = time::Duration::days(7);

/// A download under way in this process: its open file, the running sha256 and the bytes of
/// the last, not yet whole chunk (written as a chunk once whole, or as the final one).
pub(super) struct Partial {
    writer: Writer,
    hash: RunningHash,
    len: u64,
    tail: Vec<u8>,
}

impl Store {
    pub(super) fn blob_path(&self, sha256: &str) -> PathBuf {
        self.blob_dir.join(self.blob_key.file_name(sha256))
    }

    pub(super) fn part_path(&self, sha256: &str) -> PathBuf {
        self.blob_dir
            .join(format!("{}.part", self.blob_key.file_name(sha256)))
    }

    fn file_error(&self, sha256: &str, path: &std::path::Path) -> impl Fn(FileError) -> CacheError {
        let sha256 = sha256.to_owned();
        let path = path.to_owned();
        move |error| match error {
            FileError::Io(source) if source.kind() == std::io::ErrorKind::NotFound => {
                CacheError::BadBlobFile {
                    sha256: sha256.clone(),
                    path: path.clone(),
                    detail: "its file is missing".to_owned(),
                }
            }
            FileError::Io(source) => CacheError::Io {
                what: format!("blob file {}", path.display()),
                source,
            },
            FileError::Damaged(detail) => CacheError::BadBlobFile {
                sha256: sha256.clone(),
                path: path.clone(),
                detail,
            },
        }
    }

    fn ensure_blob_dir(&self) -> Result<(), CacheError> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.blob_dir)
            .map_err(CacheError::io(format!(
                "creating {}",
                self.blob_dir.display()
            )))
    }

    fn partials(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Partial>> {
        self.partials
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bytes that can still be written where the blobs go (downloads check it first).
    pub fn available_bytes(&self) -> Result<u64, CacheError> {
        self.ensure_blob_dir()?;
        crate::platform::disk::available_bytes(&self.blob_dir).map_err(CacheError::io(format!(
            "reading the free space of {}",
            self.blob_dir.display()
        )))
    }

    /// `true` when the blob is stored complete and verified.
    pub fn has_blob(&self, sha256: &str) -> Result<bool, CacheError> {
        check_sha256(sha256)?;
        self.run(|c| Ok(blob_state(c, sha256)? == Some(true)))
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
        let mut partials = self.partials();
        if self.run(|c| Ok(blob_state(c, sha256)?))? == Some(true) {
            return Ok(());
        }
        // A half-finished download of the same content is replaced by the whole of it.
        partials.remove(sha256);
        self.insert_partial_row(sha256)?;
        self.ensure_blob_dir()?;
        self.write_blob_file(sha256, bytes)?;
        self.mark_complete(sha256, bytes.len() as u64)
    }

    /// Writes a whole blob's file (as `.part`, then renamed), a megabyte per write.
    fn write_blob_file(&self, sha256: &str, bytes: &[u8]) -> Result<(), CacheError> {
        let part = self.part_path(sha256);
        let complete = self.blob_path(sha256);
        let write = || -> Result<(), FileError> {
            let mut writer = Writer::create(&part, sha256)?;
            let whole = bytes.len() / CHUNK * CHUNK;
            for piece in bytes[..whole].chunks(WRITE_CHUNKS * CHUNK) {
                writer.write_chunks(&self.blob_key, piece)?;
            }
            writer.finish(&self.blob_key, &bytes[whole..], &complete)
        };
        write().map_err(self.file_error(sha256, &part))
    }

    fn insert_partial_row(&self, sha256: &str) -> Result<(), CacheError> {
        let now = format_time(self.clock.now());
        self.run(|c| {
            c.execute(
                "INSERT OR REPLACE INTO blobs (sha256, size, complete, created_at)
                 VALUES (?1, 0, 0, ?2)",
                params![sha256, now],
            )?;
            Ok(())
        })
    }

    fn mark_complete(&self, sha256: &str, size: u64) -> Result<(), CacheError> {
        self.run(|c| {
            c.execute(
                "UPDATE blobs SET complete = 1, size = ?2 WHERE sha256 = ?1",
                params![sha256, size as i64],
            )?;
            Ok(())
        })
    }

    /// How many bytes of the blob `sha256` a resumable download has stored so far (0 when
    /// none); an HTTP Range request continues from here. The size of a complete blob.
    pub fn partial_len(&self, sha256: &str) -> Result<u64, CacheError> {
        check_sha256(sha256)?;
        let mut partials = self.partials();
        match self.run(|c| Ok(blob_row(c, sha256)?))? {
            None => Ok(0),
            Some((true, size)) => Ok(size),
            Some((false, _)) => Ok(self.partial_state(&mut partials, sha256)?.len),
        }
    }

    /// The in-process state of a partial download, reopening its file (after a kill) when
    /// this process has none: whole authentic chunks are kept, a torn tail is cut off.
    fn partial_state<'m>(
        &self,
        partials: &'m mut std::collections::HashMap<String, Partial>,
        sha256: &str,
    ) -> Result<&'m mut Partial, CacheError> {
        if !partials.contains_key(sha256) {
            self.ensure_blob_dir()?;
            let part = self.part_path(sha256);
            let mut hasher = Sha256::new();
            let (writer, mut tail, len) = if part.exists() {
                Writer::resume(&self.blob_key, &part, sha256, |chunk| hasher.update(chunk))
            } else {
                Writer::create(&part, sha256).map(|w| (w, Vec::new(), 0))
            }
            .map_err(self.file_error(sha256, &part))?;
            tail.reserve(CHUNK.saturating_sub(tail.len()));
            partials.insert(
                sha256.to_owned(),
                Partial {
                    writer,
                    hash: RunningHash::start(hasher).map_err(hashing_failed)?,
                    len,
                    tail,
                },
            );
        }
        partials
            .get_mut(sha256)
            .ok_or_else(|| CacheError::MissingBlob(sha256.to_owned()))
    }

    /// Appends the bytes of a download at `offset`, which must be where the stored part ends.
    /// Whole chunks go to the file as they fill; after a kill, [`Store::partial_len`] says what
    /// survived (the whole chunks). Returns the new stored length.
    pub fn append_partial(
        &self,
        sha256: &str,
        offset: u64,
        bytes: &[u8],
    ) -> Result<u64, CacheError> {
        check_sha256(sha256)?;
        let mut partials = self.partials();
        match self.run(|c| Ok(blob_row(c, sha256)?))? {
            // Already have it all (another guide shared it): nothing to append.
            Some((true, size)) => return Ok(size),
            Some((false, _)) => {}
            None => {
                partials.remove(sha256);
                self.insert_partial_row(sha256)?;
                self.ensure_blob_dir()?;
                // A file without a row is an orphan of a crash: start over.
                let part = self.part_path(sha256);
                let writer =
                    Writer::create(&part, sha256).map_err(self.file_error(sha256, &part))?;
                partials.insert(
                    sha256.to_owned(),
                    Partial {
                        writer,
                        hash: RunningHash::start(Sha256::new()).map_err(hashing_failed)?,
                        len: 0,
                        tail: Vec::with_capacity(CHUNK),
                    },
                );
            }
        }
        let part = self.part_path(sha256);
        let on_error = self.file_error(sha256, &part);
        let state = self.partial_state(&mut partials, sha256)?;
        if offset != state.len {
            return Err(CacheError::PartialOffset {
                sha256: sha256.to_owned(),
                expected: state.len,
                got: offset,
            });
        }
        let Partial {
            writer,
            hash,
            len,
            tail,
        } = state;
        let result = hash
            .update(bytes)
            .map_err(|_| FileError::Damaged("hashing the download failed".to_owned()))
            .and_then(|()| append_to_file(writer, &self.blob_key, tail, bytes));
        if let Err(error) = result {
            // The file's state (and the running hash) is unknown now: reopen it from disk next
            // time.
            partials.remove(sha256);
            return Err(on_error(error));
        }
        *len += bytes.len() as u64;
        Ok(*len)
    }

    /// Ends a resumable download: the stored bytes must hash to `sha256`, else they are
    /// discarded (the download starts over) and [`CacheError::HashMismatch`] says so.
    pub fn finish_partial(&self, sha256: &str) -> Result<(), CacheError> {
        check_sha256(sha256)?;
        let mut partials = self.partials();
        match self.run(|c| Ok(blob_state(c, sha256)?))? {
            None => return Err(CacheError::MissingBlob(sha256.to_owned())),
            Some(true) => return Ok(()),
            Some(false) => {}
        }
        self.partial_state(&mut partials, sha256)?;
        let Some(state) = partials.remove(sha256) else {
            return Err(CacheError::MissingBlob(sha256.to_owned()));
        };
        let part = self.part_path(sha256);
        let actual = state.hash.finish().map_err(hashing_failed)?;
        if actual != sha256 {
            drop(state.writer);
            self.run(|c| {
                c.execute(
                    "DELETE FROM blobs WHERE sha256 = ?1 AND complete = 0",
                    [sha256],
                )?;
                Ok(())
            })?;
            let _ = fs::remove_file(&part);
            return Err(CacheError::HashMismatch {
                expected: sha256.to_owned(),
                actual,
            });
        }
        state
            .writer
            .finish(&self.blob_key, &state.tail, &self.blob_path(sha256))
            .map_err(self.file_error(sha256, &part))?;
        self.mark_complete(sha256, state.len)
    }

    /// Drops what a download stored so far (complete blobs are left alone).
    pub fn discard_partial(&self, sha256: &str) -> Result<(), CacheError> {
        check_sha256(sha256)?;
        let mut partials = self.partials();
        partials.remove(sha256);
        let removed = self.run(|c| {
            Ok(c.execute(
                "DELETE FROM blobs WHERE sha256 = ?1 AND complete = 0",
                [sha256],
            )?)
        })?;
        if removed > 0 {
            let _ = fs::remove_file(self.part_path(sha256));
        }
        Ok(())
    }

    /// The bytes of a complete blob, authenticated chunk by chunk (a large one on all cores).
    pub fn read_blob(&self, sha256: &str) -> Result<Vec<u8>, CacheError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.read_blob_on(sha256, threads)
    }

    /// [`Store::read_blob`] on at most `threads` threads (the benchmark shows both).
    #[doc(hidden)]
    pub fn read_blob_on(&self, sha256: &str, threads: usize) -> Result<Vec<u8>, CacheError> {
        check_sha256(sha256)?;
        let size = self.complete_size(sha256)?;
        let path = self.blob_path(sha256);
        blobfile::read_all(&self.blob_key, &path, sha256, size, threads)
            .map_err(self.file_error(sha256, &path))
    }

    fn complete_size(&self, sha256: &str) -> Result<u64, CacheError> {
        match self.run(|c| Ok(blob_row(c, sha256)?))? {
            Some((true, size)) => Ok(size),
            _ => Err(CacheError::MissingBlob(sha256.to_owned())),
        }
    }

    /// Decrypts the complete blob and hashes it: `Ok(Err(detail))` when its file is damaged
    /// or its content does not hash to its name (`verify`).
    pub(super) fn check_blob(
        &self,
        sha256: &str,
        size: u64,
    ) -> Result<Result<(), String>, CacheError> {
        let path = self.blob_path(sha256);
        let mut hasher = Sha256::new();
        let result = blobfile::read(&self.blob_key, &path, sha256, size, |chunk| {
            hasher.update(chunk);
            Ok(())
        })
        .map_err(self.file_error(sha256, &path));
        match result {
            Ok(()) => {
                let actual = hex::encode(hasher.finalize());
                Ok(if actual == sha256 {
                    Ok(())
                } else {
                    Err(format!("{sha256}: {size} bytes hashing to {actual}"))
                })
            }
            Err(CacheError::BadBlobFile { detail, .. }) => Ok(Err(format!("{sha256}: {detail}"))),
            Err(other) => Err(other),
        }
    }

    /// Writes a complete blob to `sink` chunk by chunk, without holding all of it in memory
    /// (large media). Returns the bytes written.
    pub fn copy_blob_to(
        &self,
        sha256: &str,
        sink: &mut dyn std::io::Write,
    ) -> Result<u64, CacheError> {
        check_sha256(sha256)?;
        let size = self.complete_size(sha256)?;
        let path = self.blob_path(sha256);
        let mut sink_error = None;
        let result = blobfile::read(&self.blob_key, &path, sha256, size, |chunk| {
            sink.write_all(chunk).map_err(|e| {
                let message = e.to_string();
                sink_error = Some(e);
                FileError::Damaged(message)
            })
        });
        if let Some(source) = sink_error {
            return Err(CacheError::Io {
                what: format!("writing blob {sha256}"),
                source,
            });
        }
        result.map_err(self.file_error(sha256, &path))?;
        Ok(size)
    }
}

/// Appends a download's `bytes` after `tail` (the plaintext of the chunk not yet whole): whole
/// chunks go to the file straight from `bytes`, what is left becomes the new tail, written as a
/// short chunk so that it survives a kill (HTTP Range resumes exactly where an append ended).
fn append_to_file(
    writer: &mut Writer,
    key: &blobfile::BlobKey,
    tail: &mut Vec<u8>,
    bytes: &[u8],
) -> Result<(), FileError> {
    let mut rest = bytes;
    if !tail.is_empty() {
        let take = (CHUNK - tail.len()).min(rest.len());
        tail.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        if tail.len() < CHUNK {
            return writer.write_short(key, tail);
        }
        writer.write_chunks(key, tail)?;
        tail.clear();
    }
    let whole = rest.len() / CHUNK * CHUNK;
    for piece in rest[..whole].chunks(WRITE_CHUNKS * CHUNK) {
        writer.write_chunks(key, piece)?;
    }
    tail.extend_from_slice(&rest[whole..]);
    if tail.is_empty() {
        Ok(())
    } else {
        writer.write_short(key, tail)
    }
}

fn hashing_failed(_: HashingFailed) -> CacheError {
    CacheError::Io {
        what: "hashing a download".to_owned(),
        source: std::io::Error::other("the hashing thread could not run"),
    }
}

fn chunks_of(c: &Connection, sha256: &str) -> rusqlite::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut statement =
        c.prepare("SELECT data FROM blob_chunks WHERE sha256 = ?1 ORDER BY offset")?;
    let mut rows = statement.query([sha256])?;
    while let Some(row) = rows.next()? {
        bytes.extend_from_slice(row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?);
    }
    Ok(bytes)
}

/// Whether the blob is known: `None` not at all, `Some(false)` a partial download, `Some(true)`
/// complete and verified.
pub(super) fn blob_state(c: &Connection, sha256: &str) -> rusqlite::Result<Option<bool>> {
    Ok(blob_row(c, sha256)?.map(|(complete, _)| complete))
}

fn blob_row(c: &Connection, sha256: &str) -> rusqlite::Result<Option<(bool, u64)>> {
    c.query_row(
        "SELECT complete, size FROM blobs WHERE sha256 = ?1",
        [sha256],
        |r| Ok((r.get::<_, i64>(0)? == 1, r.get::<_, i64>(1)? as u64)),
    )
    .optional()
}
