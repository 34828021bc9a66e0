//! `accounts.json`: the small, unencrypted index of who used this device.
//!
//! Started offline, the app must know the last account used online (F4) before it can open any
//! per-user database, since the key of that database depends on the user. The index holds only
//! what is needed for that and for telling a wrong key from a damaged file: user id, display
//! name, server URL, database file name, the key fingerprint. Never tokens or guide data.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::CacheError;

pub const INDEX_FILE: &str = "accounts.json";
/// Per-user databases live in this folder of the data folder.
pub const CACHE_DIR: &str = "cache";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceIndex {
    /// The user id of the account last signed in online (F4).
    #[serde(default)]
    pub last_account: Option<String>,
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountEntry {
    pub user_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub server_url: Option<String>,
    /// File name inside `<data>/cache/`.
    pub db_file: String,
    /// Fingerprint of the key this device derives for this user (not the key; see
    /// [`super::keys::Purpose::KeyCheck`]).
    pub key_check: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_online_at: Option<OffsetDateTime>,
}

/// The database file name of a user: a hash of the id, so any id is a safe file name and the
/// folder listing does not show who uses the device.
pub fn db_file_name(user_id: &str) -> String {
    let digest = Sha256::digest(user_id.as_bytes());
    format!("user-{}.db", hex::encode(&digest[..12]))
}

impl DeviceIndex {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(INDEX_FILE)
    }

    /// Reads the index; a missing file is an empty index (a new device).
    pub fn load(data_dir: &Path) -> Result<Self, CacheError> {
        let path = Self::path(data_dir);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(CacheError::Index {
                    path,
                    detail: e.to_string(),
                });
            }
        };
        serde_json::from_slice(&text).map_err(|e| CacheError::Index {
            path,
            detail: format!("not a valid account index ({e}); delete it to start afresh"),
        })
    }

    /// Like [`DeviceIndex::load`], but a damaged index does not lock the user out of their
    /// cache: it is moved aside to `accounts.json.damaged` (kept, not deleted) and an empty
    /// index is used, losing only "who was last online" until the next online sign-in.
    pub fn load_or_set_aside(data_dir: &Path) -> Result<Self, CacheError> {
        match Self::load(data_dir) {
            Ok(index) => Ok(index),
            Err(CacheError::Index { path, detail }) if path.is_file() => {
                let aside = data_dir.join(format!("{INDEX_FILE}.damaged"));
                tracing::warn!(
                    "{}: {detail}; moved to {} and starting a new one",
                    path.display(),
                    aside.display()
                );
                fs::rename(&path, &aside)
                    .map_err(CacheError::io(format!("moving {} aside", path.display())))?;
                Ok(Self::default())
            }
            Err(other) => Err(other),
        }
    }

    /// Reads, changes and writes the index while holding an exclusive lock on
    /// `.accounts.lock`, so two processes of this device (the 3D app and a CLI command, say)
    /// signing in at the same moment both keep their entry. A damaged index is set aside as in
    /// [`DeviceIndex::load_or_set_aside`].
    pub fn update<T>(
        data_dir: &Path,
        change: impl FnOnce(&mut DeviceIndex) -> T,
    ) -> Result<T, CacheError> {
        let _lock = IndexLock::acquire(data_dir)?;
        let mut index = Self::load_or_set_aside(data_dir)?;
        let before = index.clone();
        let result = change(&mut index);
        if index != before {
            index.save(data_dir)?;
        }
        Ok(result)
    }

    /// Deletes the index (every account forgotten), under the same lock as
    /// [`DeviceIndex::update`].
    pub fn delete(data_dir: &Path) -> Result<(), CacheError> {
        let _lock = IndexLock::acquire(data_dir)?;
        let path = Self::path(data_dir);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CacheError::Io {
                what: format!("removing {}", path.display()),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Writes the index atomically (temporary file, flush, rename). Callers that read the index
    /// first go through [`DeviceIndex::update`], which holds the lock.
    pub fn save(&self, data_dir: &Path) -> Result<(), CacheError> {
        fs::create_dir_all(data_dir)
            .map_err(CacheError::io(format!("creating {}", data_dir.display())))?;
        let path = Self::path(data_dir);
        let temporary = data_dir.join(format!(".{INDEX_FILE}.{}", uuid::Uuid::new_v4()));
        // Serialising strings and timestamps cannot fail.
        let text = serde_json::to_vec_pretty(self).unwrap_or_default();
        let write = || -> std::io::Result<()> {
            // Not secret, but it names the people who use this device: theirs only.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(&text)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            File::open(data_dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&temporary);
            CacheError::Io {
                what: format!("writing {}", path.display()),
                source: e,
            }
        })
    }

    pub fn account(&self, user_id: &str) -> Option<&AccountEntry> {
        self.accounts.iter().find(|a| a.user_id == user_id)
    }

    pub fn account_by_file(&self, db_file: &str) -> Option<&AccountEntry> {
        self.accounts.iter().find(|a| a.db_file == db_file)
    }

    /// The last account used online, if its entry is still there (F4).
    pub fn last(&self) -> Option<&AccountEntry> {
        self.last_account.as_deref().and_then(|id| self.account(id))
    }

    /// Adds or updates the entry of `entry.user_id`, keeping its other fields when `entry`
    /// leaves them empty.
    pub fn upsert(&mut self, entry: AccountEntry) {
        match self
            .accounts
            .iter_mut()
            .find(|a| a.user_id == entry.user_id)
        {
            Some(existing) => {
                existing.db_file = entry.db_file;
                existing.key_check = entry.key_check;
                if entry.display_name.is_some() {
                    existing.display_name = entry.display_name;
                }
                if entry.server_url.is_some() {
                    existing.server_url = entry.server_url;
                }
                if entry.last_online_at.is_some() {
                    existing.last_online_at = entry.last_online_at;
                }
            }
            None => self.accounts.push(entry),
        }
    }

    /// Forgets a user (their cache was cleared).
    pub fn remove(&mut self, user_id: &str) {
        self.accounts.retain(|a| a.user_id != user_id);
        if self.last_account.as_deref() == Some(user_id) {
            self.last_account = None;
        }
    }
}

/// An exclusive `flock` on `<data>/.accounts.lock`, released when dropped (closing the file).
/// Advisory: only our own processes take it, which is all that writes the index.
struct IndexLock {
    _file: File,
}

impl IndexLock {
    fn acquire(data_dir: &Path) -> Result<IndexLock, CacheError> {
        use std::os::fd::AsRawFd;
        fs::create_dir_all(data_dir)
            .map_err(CacheError::io(format!("creating {}", data_dir.display())))?;
        let path = data_dir.join(".accounts.lock");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(CacheError::io(format!("opening {}", path.display())))?;
        loop {
            // SAFETY: a plain system call on a descriptor `file` keeps open; no memory passed.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(IndexLock { _file: file });
            }
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::Interrupted {
                return Err(CacheError::Io {
                    what: format!("locking {}", path.display()),
                    source: error,
                });
            }
        }
    }
}
