//! Asset files named by their sha256, under `<data>/blobs/<first two hex>/<all 64 hex>`.
//!
//! A blob is written to a temporary file, flushed to disk, then renamed into place: a reader, or
//! a restart after a kill, sees a whole blob or none. Blobs are immutable, so two publishes of
//! the same file share one, and any plain file server, CDN or object store can serve them.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::error::ServiceError;
use super::secrets::sha256_hex;

/// Why a streamed blob was not stored.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// Reading the source failed: the fault of the input (a damaged archive entry).
    #[error("{0}")]
    Source(std::io::Error),
    /// Writing failed: the service's fault.
    #[error(transparent)]
    Store(#[from] ServiceError),
}

/// Reads `source` to its end into `sink`, hashing as it goes (a large blob is never held in
/// memory); returns its sha256 and size.
pub fn copy_hashing_into(
    source: &mut dyn Read,
    sink: &mut dyn Write,
) -> Result<(String, u64), PutError> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut total: u64 = 0;
    loop {
        let read = match source.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PutError::Source(e)),
        };
        hasher.update(&buffer[..read]);
        sink.write_all(&buffer[..read])
            .map_err(|e| PutError::Store(ServiceError::io("writing a blob")(e)))?;
        total += read as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Copies `source` into a new file at `path`, flushed to disk; returns its sha256 and size.
fn copy_hashing(source: &mut dyn Read, path: &Path) -> Result<(String, u64), PutError> {
    let write_error = |e| PutError::Store(ServiceError::io("writing a blob")(e));
    let mut file = File::create(path).map_err(write_error)?;
    let copied = copy_hashing_into(source, &mut file)?;
    file.sync_all().map_err(write_error)?;
    Ok(copied)
}

/// Sets a file's modification time (opened for appending, which writes nothing).
fn set_modified(path: &Path, at: std::time::SystemTime) -> std::io::Result<()> {
    File::options().append(true).open(path)?.set_modified(at)
}

/// One blob file, as [`BlobStore::list`] finds it.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    pub sha256: String,
    pub bytes: u64,
    pub modified: Option<std::time::SystemTime>,
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

pub use crate::content_address::is_sha256_hex;

impl BlobStore {
    pub fn open(root: &Path) -> Result<Self, ServiceError> {
        fs::create_dir_all(root.join("tmp"))
            .map_err(ServiceError::io(format!("creating {}", root.display())))?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// Where the blob lives; `None` for a name that is not a sha256 (so never a path outside).
    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256_hex(sha256).then(|| self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores `bytes` under their sha256 (once) and returns it.
    pub fn put(&self, bytes: &[u8]) -> Result<String, ServiceError> {
        let sha256 = sha256_hex(bytes);
        if self.holds(&sha256, bytes.len() as u64) {
            return Ok(sha256);
        }
        match self.put_reader(&mut &bytes[..]) {
            Ok((sha256, _)) => Ok(sha256),
            Err(PutError::Store(error)) => Err(error),
            Err(PutError::Source(error)) => {
                Err(ServiceError::io("reading a blob from memory")(error))
            }
        }
    }

    /// Whether the blob is already there, whole. A blob found is touched: a publish about to
    /// name it again makes it young, so orphan collection (which spares young blobs) does not
    /// take it between this check and the publish's commit.
    fn holds(&self, sha256: &str, bytes: u64) -> bool {
        let target = self.root.join(&sha256[..2]).join(sha256);
        let whole = fs::metadata(&target).is_ok_and(|m| m.len() == bytes);
        if whole {
            let touched = set_modified(&target, std::time::SystemTime::now());
            if let Err(e) = touched {
                tracing::warn!("could not touch blob {sha256}: {e}");
            }
        }
        whole
    }

    /// Every blob file: its sha256, size and last modification.
    pub fn list(&self) -> Vec<StoredBlob> {
        let mut blobs = Vec::new();
        let Ok(prefixes) = fs::read_dir(&self.root) else {
            return blobs;
        };
        for prefix in prefixes.filter_map(Result::ok) {
            let Ok(files) = fs::read_dir(prefix.path()) else {
                continue;
            };
            for file in files.filter_map(Result::ok) {
                let name = file.file_name();
                let Some(sha256) = name.to_str().filter(|n| is_sha256_hex(n)) else {
                    continue;
                };
                if let Ok(metadata) = file.metadata() {
                    blobs.push(StoredBlob {
                        sha256: sha256.to_owned(),
                        bytes: metadata.len(),
                        modified: metadata.modified().ok(),
                    });
                }
            }
        }
        blobs
    }

    /// Removes the blob if it was last modified before `cutoff` (checked again at this moment:
    /// a publish that touched it since keeps it). `true` when removed.
    pub fn remove_if_older(&self, sha256: &str, cutoff: std::time::SystemTime) -> bool {
        let Some(path) = self.path(sha256) else {
            return false;
        };
        let old = fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified < cutoff);
        old && fs::remove_file(&path).is_ok()
    }

    /// Streams `source` into a blob (hashing as it goes, so a large asset is never held in
    /// memory) and returns its sha256 and size.
    pub fn put_reader(&self, source: &mut dyn Read) -> Result<(String, u64), PutError> {
        let temporary = self
            .root
            .join("tmp")
            .join(format!("incoming.{}", uuid::Uuid::new_v4()));
        let written = copy_hashing(source, &temporary);
        let (sha256, bytes) = match written {
            Ok(done) => done,
            Err(error) => {
                let _ = fs::remove_file(&temporary);
                return Err(error);
            }
        };
        if self.holds(&sha256, bytes) {
            let _ = fs::remove_file(&temporary);
            return Ok((sha256, bytes));
        }
        let dir = self.root.join(&sha256[..2]);
        let target = dir.join(&sha256);
        let install = || -> std::io::Result<()> {
            fs::create_dir_all(&dir)?;
            fs::rename(&temporary, &target)?;
            // The rename itself is durable only once the directory is flushed.
            File::open(&dir)?.sync_all()
        };
        install().map_err(|e| {
            let _ = fs::remove_file(&temporary);
            PutError::Store(ServiceError::Io {
                what: format!("writing blob {sha256}"),
                source: e,
            })
        })?;
        Ok((sha256, bytes))
    }

    /// Removes temporary files (half-written blobs, uploads) left by a process that was killed,
    /// once they are older than `age`: younger ones may belong to a publish in progress.
    pub fn remove_stale_temporaries(&self, age: std::time::Duration) -> usize {
        let Ok(entries) = fs::read_dir(self.temporary_dir()) else {
            return 0;
        };
        let now = std::time::SystemTime::now();
        entries
            .filter_map(Result::ok)
            .filter(|entry| {
                entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|modified| now.duration_since(modified).is_ok_and(|d| d > age))
            })
            .filter(|entry| fs::remove_file(entry.path()).is_ok())
            .count()
    }

    /// A folder for temporary files on the same file system (uploads in progress).
    pub fn temporary_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_stored_once_under_its_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let sha = store.put(b"hologram").unwrap();
        assert_eq!(sha, sha256_hex(b"hologram"));
        assert_eq!(store.put(b"hologram").unwrap(), sha);
        let path = store.path(&sha).unwrap();
        assert_eq!(fs::read(path).unwrap(), b"hologram");
    }

    #[test]
    fn a_blob_stored_again_is_young_again_so_orphan_collection_spares_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let sha = store.put(b"lever model").unwrap();
        let path = store.path(&sha).unwrap();
        let day = std::time::Duration::from_secs(24 * 3600);
        let two_days_ago = std::time::SystemTime::now() - 2 * day;
        set_modified(&path, two_days_ago).unwrap();
        // A publish naming it again (after a killed one left it) finds it there.
        assert_eq!(store.put(b"lever model").unwrap(), sha);
        let a_day_ago = std::time::SystemTime::now() - day;
        assert!(
            !store.remove_if_older(&sha, a_day_ago),
            "touched by the put"
        );
        assert!(path.exists());
        set_modified(&path, two_days_ago).unwrap();
        assert!(store.remove_if_older(&sha, a_day_ago));
        assert!(!path.exists());
        assert_eq!(store.list().len(), 0);
    }

    #[test]
    fn only_temporaries_older_than_the_given_age_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let old = store.temporary_dir().join("upload-old.zip");
        let fresh = store.temporary_dir().join("upload-fresh.zip");
        fs::write(&old, b"partial").unwrap();
        fs::write(&fresh, b"partial").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        let removed = store.remove_stale_temporaries(std::time::Duration::from_secs(3600));
        assert_eq!(removed, 1);
        assert!(!old.exists());
        assert!(fresh.exists());
    }

    #[test]
    fn names_that_are_not_a_sha256_have_no_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        assert!(store.path("../../etc/passwd").is_none());
        assert!(store.path(&"A".repeat(64)).is_none());
        assert!(store.path(&"a".repeat(63)).is_none());
    }
}
