//! Where the cache key comes from: a per-device secret behind [`KeyStore`], and HKDF-SHA256 over
//! it with the user id, so each (user, device) pair gets its own key (F6).
//!
//! Stores: [`FileKeyStore`] (a 0600 file in the data folder), the OS keyring
//! ([`super::keyring_store::KeyringKeyStore`], the Secret Service over libdbus) and
//! [`MemoryKeyStore`] (tests). A device uses [`super::device_keys::DeviceKeyStore`], which picks
//! the keyring for a new data folder when a secret service answers, else the file, and never
//! moves a secret once made (that would orphan every cache keyed by it).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::CacheError;

pub const SECRET_LEN: usize = 32;

/// 32 random bytes that never leave the device; wiped from memory when dropped.
pub struct DeviceSecret([u8; SECRET_LEN]);

impl DeviceSecret {
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self(bytes)
    }

    pub fn random() -> Result<Self, CacheError> {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes)
            .map_err(|e| CacheError::KeyStore(format!("no randomness: {e}")))?;
        Ok(Self(bytes))
    }

    pub(crate) fn expose(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }
}

impl Drop for DeviceSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecret(…)")
    }
}

/// Gives the device secret, creating it the first time.
pub trait KeyStore: Send + Sync {
    fn device_secret(&self) -> Result<DeviceSecret, CacheError>;
}

/// What a derived key is for; part of the HKDF info so keys for different uses never coincide.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    /// The SQLCipher key of the user's database.
    Database,
    /// A fingerprint kept in the (non-secret) account index to tell "wrong key" from "damaged
    /// file": derived separately, so it reveals nothing about the database key.
    KeyCheck,
    /// The AES-256-GCM key of the user's blob files (and, through HMAC, their names).
    Blobs,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Database => "cache-database",
            Purpose::KeyCheck => "cache-key-check",
            Purpose::Blobs => "blobs",
        }
    }
}

const HKDF_SALT: &[u8] = b"hologuide offline cache v1";

/// HKDF-SHA256(device secret, salt, info = user id ‖ 0 ‖ purpose).
pub fn derive_key(secret: &DeviceSecret, user_id: &str, purpose: Purpose) -> Zeroizing<[u8; 32]> {
    let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), secret.expose());
    let mut info = Vec::with_capacity(user_id.len() + 32);
    info.extend_from_slice(user_id.as_bytes());
    info.push(0);
    info.extend_from_slice(purpose.label().as_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 255 × 32, so expand cannot fail.
    hkdf.expand(&info, key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    key
}

/// Hex of the first 16 bytes of the key-check key: stored in the clear beside the database.
pub fn key_fingerprint(secret: &DeviceSecret, user_id: &str) -> String {
    let key = derive_key(secret, user_id, Purpose::KeyCheck);
    hex::encode(&key[..16])
}

/// Keeps the secret in memory only: tests, and "another device" in tests.
pub struct MemoryKeyStore(std::sync::Mutex<Option<[u8; SECRET_LEN]>>);

impl MemoryKeyStore {
    /// A store that makes a random secret on first use.
    pub fn new() -> Self {
        Self(std::sync::Mutex::new(None))
    }

    pub fn with_secret(bytes: [u8; SECRET_LEN]) -> Self {
        Self(std::sync::Mutex::new(Some(bytes)))
    }
}

impl Default for MemoryKeyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for MemoryKeyStore {
    fn drop(&mut self) {
        if let Some(bytes) = self
            .0
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            bytes.zeroize();
        }
    }
}

impl KeyStore for MemoryKeyStore {
    fn device_secret(&self) -> Result<DeviceSecret, CacheError> {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bytes) = *slot {
            return Ok(DeviceSecret(bytes));
        }
        let secret = DeviceSecret::random()?;
        *slot = Some(*secret.expose());
        Ok(secret)
    }
}

/// The secret in a file readable by this user only (mode 0600).
///
/// Created atomically: the bytes go to a private temporary file, which is then hard-linked to
/// the final name. `link` fails if the name exists, so when two processes start at once exactly
/// one secret wins and the other process reads it, never a half-written or second secret.
#[derive(Debug, Clone)]
pub struct FileKeyStore {
    path: PathBuf,
}

/// The file name of the device secret inside the data folder.
pub const SECRET_FILE: &str = "device-secret";

impl FileKeyStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The device secret of the app data folder `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join(SECRET_FILE))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_existing(&self) -> Result<Option<DeviceSecret>, CacheError> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(CacheError::KeyStore(format!(
                    "reading {}: {e}",
                    self.path.display()
                )));
            }
        };
        let mode = file
            .metadata()
            .map(|m| m.permissions().mode())
            .unwrap_or(0o600);
        if mode & 0o077 != 0 {
            // Someone widened the permissions; narrow them again rather than refuse to start.
            tracing::warn!(
                "{} was readable by others (mode {:o}); setting it to 0600",
                self.path.display(),
                mode & 0o777
            );
            fs::set_permissions(&self.path, fs::Permissions::from_mode(0o600)).map_err(|e| {
                CacheError::KeyStore(format!("restricting {}: {e}", self.path.display()))
            })?;
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(SECRET_LEN + 1));
        Read::by_ref(&mut file)
            .take(SECRET_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| CacheError::KeyStore(format!("reading {}: {e}", self.path.display())))?;
        let array: [u8; SECRET_LEN] = bytes.as_slice().try_into().map_err(|_| {
            CacheError::KeyStore(format!(
                "{} is damaged ({} bytes, expected {SECRET_LEN}); without it the offline cache \
                 cannot be read: clear the cache and sign in online again",
                self.path.display(),
                bytes.len()
            ))
        })?;
        Ok(Some(DeviceSecret(array)))
    }

    fn create(&self) -> Result<(), CacheError> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        fs::create_dir_all(dir)
            .map_err(|e| CacheError::KeyStore(format!("creating {}: {e}", dir.display())))?;
        let temporary = dir.join(format!(".{SECRET_FILE}.{}", uuid::Uuid::new_v4()));
        let secret = DeviceSecret::random()?;
        let write = || -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(secret.expose())?;
            file.sync_all()?;
            match fs::hard_link(&temporary, &self.path) {
                Ok(()) => File::open(dir)?.sync_all(),
                // Another process won the race: its secret is the device's secret.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(e),
            }
        };
        let result = write();
        let _ = fs::remove_file(&temporary);
        result.map_err(|e| CacheError::KeyStore(format!("creating {}: {e}", self.path.display())))
    }
}

impl KeyStore for FileKeyStore {
    fn device_secret(&self) -> Result<DeviceSecret, CacheError> {
        if let Some(secret) = self.read_existing()? {
            return Ok(secret);
        }
        self.create()?;
        self.read_existing()?.ok_or_else(|| {
            CacheError::KeyStore(format!("{} vanished after creation", self.path.display()))
        })
    }
}
