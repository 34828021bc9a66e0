//! Where a data folder's device secret is kept, decided once and then never moved: moving it
//! would mean a new secret, and every cache keyed by the old one would be lost.
//!
//! - a secret file (`device-secret`, mode 0600) in the folder → that file;
//! - a keyring marker (`device-secret.keyring`, naming the entry, no secret in it) → the OS
//!   keyring; if the secret service does not answer, an error, never a new secret;
//! - neither (a new device) → the OS keyring when a secret service answers with an unlocked
//!   keyring, else the file. [`Preference`] forces one (testers).
//!
//! The secret is created lazily (a `status` creates nothing) under an exclusive lock on
//! `.device-secret.lock`, so two processes starting together agree on one secret and one place.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::CacheError;
use super::keyring_store::{KEYRING_SERVICE, KeyringKeyStore, keyring_user_for};
use super::keys::{DeviceSecret, FileKeyStore, KeyStore, SECRET_FILE};

/// The marker that says "this folder's device secret is in the OS keyring".
pub const KEYRING_MARKER_FILE: &str = "device-secret.keyring";
const LOCK_FILE: &str = ".device-secret.lock";
const MARKER_HEADER: &str = "# hologuide: this data folder's device secret is kept in the OS \
                             keyring (Secret Service), not here";

/// Which store a new data folder gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// The keyring when a secret service answers, else the file.
    Auto,
    File,
    /// The keyring, or an error when no secret service answers.
    Keyring,
}

/// Where the device secret is (or, before first use, will be) kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLocation {
    Keyring { service: String, user: String },
    File(PathBuf),
}

impl std::fmt::Display for SecretLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretLocation::Keyring { service, user } => {
                write!(
                    f,
                    "keyring (secret service; service {service}, user {user})"
                )
            }
            SecretLocation::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// The device secret of one data folder, wherever the rules above put it.
#[derive(Debug, Clone)]
pub struct DeviceKeyStore {
    data_dir: PathBuf,
    place: Place,
}

#[derive(Debug, Clone)]
enum Place {
    File(FileKeyStore),
    /// `recorded`: the marker exists, so the entry must exist too.
    Keyring {
        store: KeyringKeyStore,
        recorded: bool,
    },
}

impl DeviceKeyStore {
    /// Applies the rules of this module's header to `data_dir`. Asks the session bus only when
    /// the folder's secret is (or may go) in the keyring.
    pub fn for_data_dir(data_dir: &Path, preference: Preference) -> Result<Self, CacheError> {
        let file = FileKeyStore::in_data_dir(data_dir);
        let has_file = exists(file.path())?;
        let marker = read_marker(data_dir)?;
        let place = match (has_file, marker, preference) {
            (true, Some(_), _) => {
                return Err(CacheError::KeyStore(format!(
                    "{} has both a device secret file and a keyring marker ({}); remove the one \
                     that is not in use, or clear the cache",
                    data_dir.display(),
                    KEYRING_MARKER_FILE
                )));
            }
            (true, None, Preference::Keyring) => {
                return Err(CacheError::KeyStore(format!(
                    "HOLOGUIDE_KEYSTORE=keyring, but this data folder's device secret is the \
                     file {}; it stays there so the offline caches stay readable",
                    file.path().display()
                )));
            }
            (true, None, _) => Place::File(file),
            (false, Some(_), Preference::File) => {
                return Err(CacheError::KeyStore(format!(
                    "HOLOGUIDE_KEYSTORE=file, but this data folder's device secret is in the OS \
                     keyring ({}); it stays there so the offline caches stay readable",
                    data_dir.join(KEYRING_MARKER_FILE).display()
                )));
            }
            (false, Some(user), _) => Place::Keyring {
                store: KeyringKeyStore::new(user),
                recorded: true,
            },
            (false, None, Preference::File) => Place::File(file),
            (false, None, preference) => {
                match super::keyring_store::probe_secret_service(
                    super::keyring_store::PROBE_TIMEOUT,
                ) {
                    Ok(()) => {
                        fs::create_dir_all(data_dir).map_err(|e| {
                            CacheError::KeyStore(format!("creating {}: {e}", data_dir.display()))
                        })?;
                        Place::Keyring {
                            store: KeyringKeyStore::new(keyring_user_for(data_dir)?),
                            recorded: false,
                        }
                    }
                    Err(reason) if preference == Preference::Keyring => {
                        return Err(CacheError::KeyStore(format!(
                            "HOLOGUIDE_KEYSTORE=keyring, but no OS keyring answers: {reason}"
                        )));
                    }
                    Err(reason) => {
                        tracing::debug!("device secret in a file: {reason}");
                        Place::File(file)
                    }
                }
            }
        };
        Ok(Self {
            data_dir: data_dir.to_owned(),
            place,
        })
    }

    pub fn location(&self) -> SecretLocation {
        match &self.place {
            Place::File(file) => SecretLocation::File(file.path().to_owned()),
            Place::Keyring { store, .. } => SecretLocation::Keyring {
                service: KEYRING_SERVICE.to_owned(),
                user: store.user().to_owned(),
            },
        }
    }

    fn lock(&self) -> Result<File, CacheError> {
        fs::create_dir_all(&self.data_dir).map_err(|e| {
            CacheError::KeyStore(format!("creating {}: {e}", self.data_dir.display()))
        })?;
        let path = self.data_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CacheError::KeyStore(format!("opening {}: {e}", path.display())))?;
        file.lock()
            .map_err(|e| CacheError::KeyStore(format!("locking {}: {e}", path.display())))?;
        Ok(file)
    }

    /// First use of a new folder's keyring place: the entry is stored, then the marker written,
    /// both under the lock. An entry left by an earlier run that died before its marker is
    /// reused (nothing was keyed by another secret since).
    fn create_in_keyring(&self, store: &KeyringKeyStore) -> Result<DeviceSecret, CacheError> {
        let _lock = self.lock()?;
        if exists(&self.data_dir.join(SECRET_FILE))? {
            // Another process chose the file meanwhile (its secret service check failed).
            return FileKeyStore::in_data_dir(&self.data_dir).device_secret();
        }
        let secret = match store.read()? {
            Some(secret) => secret,
            None => {
                store.store(&DeviceSecret::random()?)?;
                store.device_secret()?
            }
        };
        write_marker(&self.data_dir, store.user())?;
        Ok(secret)
    }

    fn create_file(&self, file: &FileKeyStore) -> Result<DeviceSecret, CacheError> {
        let _lock = self.lock()?;
        if let Some(user) = read_marker(&self.data_dir)? {
            // Another process put it in the keyring meanwhile.
            return KeyringKeyStore::new(user).device_secret();
        }
        file.device_secret()
    }
}

impl KeyStore for DeviceKeyStore {
    fn device_secret(&self) -> Result<DeviceSecret, CacheError> {
        match &self.place {
            Place::File(file) if exists(file.path())? => file.device_secret(),
            Place::File(file) => self.create_file(file),
            Place::Keyring {
                store,
                recorded: true,
            } => store.read()?.ok_or_else(|| {
                CacheError::KeyStore(format!(
                    "the OS keyring has no device secret for this data folder (service \
                     {KEYRING_SERVICE}, user {}) although {} says it is kept there: the offline \
                     caches cannot be read; clear them with `hologuide cache clear --all \
                     --forget-device` and sign in online again",
                    store.user(),
                    self.data_dir.join(KEYRING_MARKER_FILE).display()
                ))
            }),
            Place::Keyring {
                store,
                recorded: false,
            } => self.create_in_keyring(store),
        }
    }
}

/// Removes the device secret of `data_dir`, wherever it is kept: the device gets a new identity
/// at its next start. Returns where it was, or `None` if it had none.
pub fn forget_device_secret(data_dir: &Path) -> Result<Option<SecretLocation>, CacheError> {
    let file = FileKeyStore::in_data_dir(data_dir);
    let mut forgotten = None;
    if let Some(user) = read_marker(data_dir)? {
        // The entry goes first: a marker without its entry still says where the secret was.
        let store = KeyringKeyStore::new(user.clone());
        store.delete()?;
        remove_if_present(&data_dir.join(KEYRING_MARKER_FILE))?;
        forgotten = Some(SecretLocation::Keyring {
            service: KEYRING_SERVICE.to_owned(),
            user,
        });
    }
    if remove_if_present(file.path())? {
        forgotten = Some(SecretLocation::File(file.path().to_owned()));
    }
    Ok(forgotten)
}

fn exists(path: &Path) -> Result<bool, CacheError> {
    path.try_exists()
        .map_err(|e| CacheError::KeyStore(format!("looking at {}: {e}", path.display())))
}

fn remove_if_present(path: &Path) -> Result<bool, CacheError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CacheError::KeyStore(format!(
            "removing {}: {e}",
            path.display()
        ))),
    }
}

/// The keyring user recorded in the folder's marker, if there is one.
fn read_marker(data_dir: &Path) -> Result<Option<String>, CacheError> {
    let path = data_dir.join(KEYRING_MARKER_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CacheError::KeyStore(format!(
                "reading {}: {e}",
                path.display()
            )));
        }
    };
    let mut service = None;
    let mut user = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        match line.split_once('=') {
            Some(("service", value)) => service = Some(value),
            Some(("user", value)) => user = Some(value),
            _ => {}
        }
    }
    match (service, user) {
        (Some(KEYRING_SERVICE), Some(user)) if !user.is_empty() => Ok(Some(user.to_owned())),
        _ => Err(CacheError::KeyStore(format!(
            "{} is damaged (expected the lines service={KEYRING_SERVICE} and user=…); it says \
             which OS keyring entry holds the device secret",
            path.display()
        ))),
    }
}

/// Written atomically (a private temporary file hard-linked to the final name) so a reader sees
/// a whole marker or none.
fn write_marker(data_dir: &Path, user: &str) -> Result<(), CacheError> {
    let path = data_dir.join(KEYRING_MARKER_FILE);
    let temporary = data_dir.join(format!(".{KEYRING_MARKER_FILE}.{}", uuid::Uuid::new_v4()));
    let text = format!("{MARKER_HEADER}\nservice={KEYRING_SERVICE}\nuser={user}\n");
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        match fs::hard_link(&temporary, &path) {
            Ok(()) => File::open(data_dir)?.sync_all(),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    };
    let result = write();
    let _ = fs::remove_file(&temporary);
    result.map_err(|e| CacheError::KeyStore(format!("writing {}: {e}", path.display())))
}

/// The rules that need no session bus; the keyring itself is tested against a real secret
/// service in `tests/it/keyring.rs`.
#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<DeviceKeyStore, CacheError>) -> String {
        match result {
            Ok(store) => panic!("expected a refusal, got {:?}", store.location()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_new_data_folder_forced_to_file_gets_a_0600_secret_file_on_first_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = DeviceKeyStore::for_data_dir(dir.path(), Preference::File).unwrap();
        let path = dir.path().join(SECRET_FILE);
        assert_eq!(store.location(), SecretLocation::File(path.clone()));
        assert!(!path.exists(), "choosing creates nothing");
        let first = store.device_secret().unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = DeviceKeyStore::for_data_dir(dir.path(), Preference::Auto)
            .unwrap()
            .device_secret()
            .unwrap();
        assert_eq!(first.expose(), again.expose());
        assert!(!dir.path().join(KEYRING_MARKER_FILE).exists());
    }

    #[test]
    fn an_existing_secret_file_is_used_whatever_the_bus_offers() {
        let dir = tempfile::tempdir().unwrap();
        let secret = FileKeyStore::in_data_dir(dir.path())
            .device_secret()
            .unwrap();
        // Auto would ask the bus for a new folder; with a file it must not matter.
        let store = DeviceKeyStore::for_data_dir(dir.path(), Preference::Auto).unwrap();
        assert_eq!(
            store.location(),
            SecretLocation::File(dir.path().join(SECRET_FILE))
        );
        assert_eq!(store.device_secret().unwrap().expose(), secret.expose());
    }

    #[test]
    fn forcing_the_other_store_on_an_existing_secret_is_refused_and_nothing_moves() {
        let dir = tempfile::tempdir().unwrap();
        FileKeyStore::in_data_dir(dir.path())
            .device_secret()
            .unwrap();
        let refused = message(DeviceKeyStore::for_data_dir(
            dir.path(),
            Preference::Keyring,
        ));
        assert!(refused.contains("HOLOGUIDE_KEYSTORE=keyring"), "{refused}");

        let keyring_dir = tempfile::tempdir().unwrap();
        write_marker(keyring_dir.path(), "/some/device").unwrap();
        let refused = message(DeviceKeyStore::for_data_dir(
            keyring_dir.path(),
            Preference::File,
        ));
        assert!(refused.contains("HOLOGUIDE_KEYSTORE=file"), "{refused}");
        assert!(!keyring_dir.path().join(SECRET_FILE).exists());
    }

    #[test]
    fn a_marker_names_its_keyring_entry_and_holds_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        write_marker(dir.path(), "/data/device one").unwrap();
        assert_eq!(
            read_marker(dir.path()).unwrap().as_deref(),
            Some("/data/device one")
        );
        // Written once: a second writer (a process that lost the race) changes nothing.
        write_marker(dir.path(), "/elsewhere").unwrap();
        assert_eq!(
            read_marker(dir.path()).unwrap().as_deref(),
            Some("/data/device one")
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [KEYRING_MARKER_FILE], "no temporary files left");
    }

    #[test]
    fn a_damaged_marker_or_both_stores_at_once_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEYRING_MARKER_FILE), "garbage\n").unwrap();
        let refused = message(DeviceKeyStore::for_data_dir(dir.path(), Preference::Auto));
        assert!(refused.contains("is damaged"), "{refused}");

        let both = tempfile::tempdir().unwrap();
        write_marker(both.path(), "/a").unwrap();
        FileKeyStore::in_data_dir(both.path())
            .device_secret()
            .unwrap();
        let refused = message(DeviceKeyStore::for_data_dir(both.path(), Preference::Auto));
        assert!(
            refused.contains("both a device secret file and a keyring marker"),
            "{refused}"
        );
    }

    #[test]
    fn forgetting_a_file_secret_removes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(forget_device_secret(dir.path()).unwrap(), None);
        FileKeyStore::in_data_dir(dir.path())
            .device_secret()
            .unwrap();
        assert_eq!(
            forget_device_secret(dir.path()).unwrap(),
            Some(SecretLocation::File(dir.path().join(SECRET_FILE)))
        );
        assert!(!dir.path().join(SECRET_FILE).exists());
    }
}
