//! The service's secret key file (N2): 32 random bytes, outside the database, that the
//! organisations' link-signing keys are sealed with ([`super::key_sealing`]).
//!
//! `serve` and the commands that sign or make keys read it from `--secret-key-file`, by default
//! `DATA/secret.key`. Only the default is made when missing: a path given explicitly that is not
//! there (a secret volume not mounted on one instance) must not quietly become a new key that
//! opens none of the stored ones. A file group or others may read or write, or that is not
//! exactly 32 bytes, is refused rather than repaired: either means it is not the file this
//! service made, and the operator has to look.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;
use zeroize::Zeroizing;

use super::key_sealing::{SECRET_KEY_LEN, SealingKey};

/// The default file name inside the data folder.
pub const SECRET_KEY_FILE: &str = "secret.key";

/// Why the secret key file cannot be used; every message names the file.
#[derive(Debug, Error)]
pub enum SecretKeyFileError {
    #[error(
        "the secret key file {path} does not exist: give the file the link keys were sealed with \
         (with PostgreSQL, the same file on every instance)"
    )]
    Missing { path: String },
    #[error("the secret key file {path} cannot be read")]
    Unreadable { path: String, source: io::Error },
    #[error(
        "the secret key file {path} has mode {mode:03o}: group or others may read or write it; \
         make it its owner's only (chmod 600 {path})"
    )]
    TooOpen { path: String, mode: u32 },
    #[error(
        "the secret key file {path} holds {length} bytes; a secret key file is exactly {SECRET_KEY_LEN} random bytes"
    )]
    WrongLength { path: String, length: usize },
    #[error("creating the secret key file {path}")]
    Create { path: String, source: io::Error },
    #[error("creating the secret key file {path}: no randomness: {reason}")]
    NoRandomness { path: String, reason: String },
}

/// Where the secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKeyFile {
    path: PathBuf,
    create_if_missing: bool,
}

impl SecretKeyFile {
    /// `--secret-key-file PATH`: it must exist.
    pub fn given(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            create_if_missing: false,
        }
    }

    /// `DATA/secret.key`, made the first time it is needed.
    pub fn default_in(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join(SECRET_KEY_FILE),
            create_if_missing: true,
        }
    }

    /// `--secret-key-file` when given, else the default in `data_dir`.
    pub fn given_or_default(given: Option<&Path>, data_dir: &Path) -> Self {
        given.map_or_else(|| Self::default_in(data_dir), Self::given)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sealing key the file holds; the default file is made first when missing.
    pub fn load(&self) -> Result<SealingKey, SecretKeyFileError> {
        if let Some(key) = self.read_existing()? {
            return Ok(key);
        }
        if !self.create_if_missing {
            return Err(SecretKeyFileError::Missing { path: self.name() });
        }
        self.create()?;
        self.read_existing()?
            .ok_or_else(|| SecretKeyFileError::Unreadable {
                path: self.name(),
                source: io::Error::new(io::ErrorKind::NotFound, "it vanished after creation"),
            })
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn read_existing(&self) -> Result<Option<SealingKey>, SecretKeyFileError> {
        let unreadable = |source| SecretKeyFileError::Unreadable {
            path: self.name(),
            source,
        };
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unreadable(e)),
        };
        let metadata = file.metadata().map_err(unreadable)?;
        if !metadata.is_file() {
            return Err(unreadable(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is not a file",
            )));
        }
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretKeyFileError::TooOpen {
                path: self.name(),
                mode,
            });
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(SECRET_KEY_LEN + 1));
        Read::by_ref(&mut file)
            .take(SECRET_KEY_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
        let secret: &[u8; SECRET_KEY_LEN] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| SecretKeyFileError::WrongLength {
                    path: self.name(),
                    length: file_length(&file).unwrap_or(bytes.len()),
                })?;
        Ok(Some(SealingKey::from_secret(secret)))
    }

    /// Writes 32 random bytes to a private temporary file and hard-links it to the final name:
    /// nobody ever reads a half-written file, and `link`, unlike `rename`, fails when the name
    /// exists, so of two processes starting at once (`serve` and `guide link`) exactly one
    /// secret wins and the other process reads it — a rename would replace the first one's file
    /// while it may already have sealed a key with it.
    fn create(&self) -> Result<(), SecretKeyFileError> {
        let dir = self.path.parent().unwrap_or_else(|| Path::new("."));
        let mut secret = Zeroizing::new([0u8; SECRET_KEY_LEN]);
        getrandom::fill(secret.as_mut()).map_err(|e| SecretKeyFileError::NoRandomness {
            path: self.name(),
            reason: e.to_string(),
        })?;
        let file_name = self
            .path
            .file_name()
            .map_or_else(|| SECRET_KEY_FILE.into(), |n| n.to_string_lossy());
        let temporary = dir.join(format!(".{file_name}.{}", uuid::Uuid::new_v4().simple()));
        let write = || -> io::Result<bool> {
            fs::create_dir_all(dir)?;
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(secret.as_ref())?;
            file.sync_all()?;
            match fs::hard_link(&temporary, &self.path) {
                Ok(()) => File::open(dir)?.sync_all().map(|()| true),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            }
        };
        let result = write();
        let _ = fs::remove_file(&temporary);
        let created = result.map_err(|source| SecretKeyFileError::Create {
            path: self.name(),
            source,
        })?;
        if created {
            tracing::warn!(
                "created the secret key file {} (mode 0600): the link-signing keys are sealed \
                 with it. Back it up apart from the database; without it they cannot be used. \
                 With PostgreSQL, give every instance a copy of this file.",
                self.path.display()
            );
        }
        Ok(())
    }
}

/// The file's length, for a message about a file longer than the bytes read of it.
fn file_length(file: &File) -> Option<usize> {
    usize::try_from(file.metadata().ok()?.len()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "acme";
    const KEY: &str = "0123456789abcdef";

    #[test]
    fn the_default_file_is_made_once_owner_only_and_gives_the_same_key_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = SecretKeyFile::default_in(dir.path());
        let sealed = file.load().unwrap().seal(ORG, KEY, b"private").unwrap();
        let metadata = fs::metadata(dir.path().join(SECRET_KEY_FILE)).unwrap();
        assert_eq!(metadata.len(), SECRET_KEY_LEN as u64);
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        let opened = file.load().unwrap().open(ORG, KEY, &sealed).unwrap();
        assert_eq!(opened.as_slice(), b"private");
        // Only the secret itself is left: no temporary file.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_given_file_that_does_not_exist_is_refused_not_made() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mounted/secret.key");
        let error = SecretKeyFile::given(&path).load().unwrap_err();
        assert!(
            matches!(error, SecretKeyFileError::Missing { .. }),
            "{error}"
        );
        assert!(error.to_string().contains(&path.display().to_string()));
        assert!(!path.exists());
    }

    #[test]
    fn a_file_others_may_read_or_of_the_wrong_length_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        fs::write(&path, [5u8; SECRET_KEY_LEN]).unwrap();
        for mode in [0o644, 0o640, 0o620] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let error = SecretKeyFile::given(&path).load().unwrap_err().to_string();
            assert!(
                error.contains(&format!("mode {mode:o}")) && error.contains("chmod 600"),
                "{error}"
            );
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(SecretKeyFile::given(&path).load().is_ok());
        let error = SecretKeyFile::given(dir.path()).load().unwrap_err();
        assert!(
            matches!(error, SecretKeyFileError::Unreadable { .. }),
            "a folder: {error}"
        );
        for length in [0, 31, 33, 64] {
            fs::write(&path, vec![5u8; length]).unwrap();
            let error = SecretKeyFile::default_in(dir.path()).load().unwrap_err();
            let text = error.to_string();
            assert!(
                text.contains(&format!("holds {length} bytes")) && text.contains("secret.key"),
                "{text}"
            );
        }
    }
}
