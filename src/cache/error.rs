//! The cache layer's one error type. Messages are written for the person at the device.

use std::path::PathBuf;

use uuid::Uuid;

use super::GuideStatus;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The key derived for this user on this device does not decrypt the file (F6). The message
    /// is what the operator sees; it names no key material.
    #[error("this cache belongs to another user or device")]
    WrongKey { path: PathBuf },
    /// The file decrypts (or cannot be told apart from one that would) but its content is
    /// damaged. `hologuide cache clear` removes it without needing to read it.
    #[error(
        "the offline cache {} is damaged ({detail}); clear it with `hologuide cache clear`",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the offline cache {} was written by a newer hologuide (schema {found}, this one knows up to {known})",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The device secret could not be read or created.
    #[error("device secret: {0}")]
    KeyStore(String),
    /// `accounts.json`, the non-secret index of who used this device, is unreadable.
    #[error("device account index {}: {detail}", path.display())]
    Index { path: PathBuf, detail: String },
    #[error("'{0}' is not a sha256 (64 lowercase hex digits)")]
    BadSha256(String),
    /// Downloaded or staged bytes do not hash to the name they were given (truncated, tampered).
    #[error("blob {expected} was rejected: its content hashes to {actual}")]
    HashMismatch { expected: String, actual: String },
    /// A resumed download must continue where the stored part ends.
    #[error(
        "partial blob {sha256}: the stored part ends at byte {expected}, the data given starts at {got}"
    )]
    PartialOffset {
        sha256: String,
        expected: u64,
        got: u64,
    },
    /// A blob's encrypted file fails authentication or has the wrong length (tampered,
    /// truncated, another blob's file, another user's key) or is missing.
    #[error(
        "blob {sha256} in the offline cache is damaged ({detail}: {}); it will be downloaded again, or clear the cache with `hologuide cache clear`",
        path.display()
    )]
    BadBlobFile {
        sha256: String,
        path: PathBuf,
        detail: String,
    },
    #[error("blob {0} is not in the cache")]
    MissingBlob(String),
    /// `commit()` found a referenced blob that was never staged and verified.
    #[error("guide {guide_id} version {version}: {path} (blob {sha256}) was not downloaded")]
    IncompleteVersion {
        guide_id: Uuid,
        version: u32,
        path: String,
        sha256: String,
    },
    #[error("guide {0} is not in the offline cache")]
    NotCached(Uuid),
    /// F13/F14: a deactivated guide or one whose permission was lost is never updated.
    #[error("guide {guide_id} is {status} and is not updated: {message}")]
    Refused {
        guide_id: Uuid,
        status: GuideStatus,
        message: String,
    },
    #[error("guide {guide_id} in the cache has an unreadable manifest: {detail}")]
    BadManifest { guide_id: Uuid, detail: String },
    #[error("offline cache database: {0}")]
    Database(#[from] rusqlite::Error),
}

impl CacheError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CacheError {
        let what = what.into();
        move |source| CacheError::Io { what, source }
    }

    /// `true` for errors that mean the file itself is damaged or not ours (so clearing it is
    /// the way out).
    pub fn is_unreadable_cache(&self) -> bool {
        matches!(
            self,
            CacheError::WrongKey { .. } | CacheError::Corrupt { .. }
        )
    }
}
