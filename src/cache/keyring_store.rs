//! The device secret in the OS keyring: the freedesktop Secret Service (gnome-keyring, KWallet,
//! KeePassXC…) on the session D-Bus, through the `keyring` crate.
//!
//! One entry per data folder (service [`KEYRING_SERVICE`], user = the data folder's canonical
//! path), so two data folders on one machine are two devices. The secret is 32 raw bytes.
//!
//! Every call into the service is preceded by [`probe_secret_service`], which answers within a
//! bounded time: the `keyring` crate waits without limit for an unlock prompt, and a locked
//! keyring on a headless machine has nobody to answer it.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use dbus::blocking::Connection;
use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
use keyring::Entry;
use keyring::secret_service::SsCredential;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::CacheError;
use super::keys::{DeviceSecret, KeyStore, SECRET_LEN};

/// The keyring service name of every hologuide device secret.
pub const KEYRING_SERVICE: &str = "hologuide";

/// How long one D-Bus question may take before the service counts as not answering.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

const SECRETS_BUS_NAME: &str = "org.freedesktop.secrets";
const SECRETS_PATH: &str = "/org/freedesktop/secrets";
const SERVICE_INTERFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION_INTERFACE: &str = "org.freedesktop.Secret.Collection";

/// Whether a secret service answers on the session bus with an unlocked default keyring, i.e.
/// whether a secret can be stored and read now without a prompt. `Err` says why not.
///
/// Never starts a bus: with no `DBUS_SESSION_BUS_ADDRESS` and no `$XDG_RUNTIME_DIR/bus`, libdbus
/// would try X11 autolaunch, which spawns a bus daemon that outlives us. The D-Bus exchange runs
/// on its own thread so that a bus that accepts the connection and then says nothing (a stopped
/// daemon) costs `timeout` plus a second, not a hang.
pub fn probe_secret_service(timeout: Duration) -> Result<(), String> {
    let address = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").filter(|a| !a.is_empty());
    if address.is_none() {
        let user_bus = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| !d.is_empty())
            .map(|dir| PathBuf::from(dir).join("bus"));
        if !user_bus.is_some_and(|bus| bus.exists()) {
            return Err("there is no session bus (DBUS_SESSION_BUS_ADDRESS is not set)".to_owned());
        }
    }
    let (send, receive) = mpsc::channel();
    std::thread::Builder::new()
        .name("secret-service-probe".to_owned())
        .spawn(move || {
            // The receiver may have given up already; then nobody needs the answer.
            let _ = send.send(ask_secret_service(timeout));
        })
        .map_err(|e| format!("cannot start the secret service probe: {e}"))?;
    receive
        .recv_timeout(timeout + Duration::from_secs(1))
        .unwrap_or_else(|_| {
            Err(format!(
                "the session bus did not answer within {} s",
                timeout.as_secs()
            ))
        })
}

fn ask_secret_service(timeout: Duration) -> Result<(), String> {
    let connection = Connection::new_session()
        .map_err(|e| format!("cannot connect to the session bus: {}", dbus_message(&e)))?;
    let service = connection.with_proxy(SECRETS_BUS_NAME, SECRETS_PATH, timeout);
    let (collection,): (dbus::Path<'static>,) = service
        .method_call(SERVICE_INTERFACE, "ReadAlias", ("default",))
        .map_err(|e| {
            format!(
                "no secret service on the session bus ({})",
                dbus_message(&e)
            )
        })?;
    if &*collection == "/" {
        return Err("the secret service has no default keyring".to_owned());
    }
    let locked: bool = connection
        .with_proxy(SECRETS_BUS_NAME, collection, timeout)
        .get(COLLECTION_INTERFACE, "Locked")
        .map_err(|e| {
            format!(
                "the secret service does not say whether its keyring is locked ({})",
                dbus_message(&e)
            )
        })?;
    if locked {
        return Err(
            "the default keyring is locked (unlock it, e.g. by signing in to the desktop)"
                .to_owned(),
        );
    }
    Ok(())
}

fn dbus_message(error: &dbus::Error) -> String {
    error
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| error.name().unwrap_or("unknown D-Bus error").to_owned())
}

/// The keyring user name of the data folder `data_dir` (which must exist): its canonical path,
/// or a hash of it where the path is not UTF-8 text (the Secret Service stores attributes as
/// text).
pub fn keyring_user_for(data_dir: &Path) -> Result<String, CacheError> {
    let canonical = data_dir.canonicalize().map_err(|e| {
        CacheError::KeyStore(format!("resolving the path of {}: {e}", data_dir.display()))
    })?;
    // A newline would break the marker file's lines; such paths are hashed like non-UTF-8 ones.
    Ok(
        match canonical.to_str().filter(|text| !text.contains('\n')) {
            Some(text) => text.to_owned(),
            None => {
                use std::os::unix::ffi::OsStrExt;
                let digest = Sha256::digest(canonical.as_os_str().as_bytes());
                format!("sha256:{}", hex::encode(digest))
            }
        },
    )
}

/// One device secret in the Secret Service. Reads, stores and deletes; choosing whether a
/// data folder uses it, and creating its secret exactly once, is [`super::device_keys`]'s job.
#[derive(Debug, Clone)]
pub struct KeyringKeyStore {
    user: String,
}

impl KeyringKeyStore {
    pub fn new(user: impl Into<String>) -> Self {
        Self { user: user.into() }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    fn entry(&self) -> Result<Entry, CacheError> {
        // An explicit Secret Service credential, whatever the crate's default store is.
        let credential = SsCredential::new_with_target(None, KEYRING_SERVICE, &self.user)
            .map_err(|e| self.failure("naming the keyring entry", &e))?;
        Ok(Entry::new_with_credential(Box::new(credential)))
    }

    fn failure(&self, doing: &str, error: &keyring::Error) -> CacheError {
        CacheError::KeyStore(format!(
            "{doing} (OS keyring, service {KEYRING_SERVICE}, user {}): {error}",
            self.user
        ))
    }

    fn ensure_service(&self) -> Result<(), CacheError> {
        probe_secret_service(PROBE_TIMEOUT).map_err(|reason| {
            CacheError::KeyStore(format!(
                "the device secret is kept in the OS keyring (secret service), which does not \
                 answer: {reason}"
            ))
        })
    }

    /// The secret, or `None` when the keyring has no entry for this data folder.
    pub fn read(&self) -> Result<Option<DeviceSecret>, CacheError> {
        self.ensure_service()?;
        let bytes = match self.entry()?.get_secret() {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(keyring::Error::NoEntry) => return Ok(None),
            Err(e) => return Err(self.failure("reading the device secret", &e)),
        };
        let array: [u8; SECRET_LEN] = bytes.as_slice().try_into().map_err(|_| {
            CacheError::KeyStore(format!(
                "the device secret in the OS keyring (service {KEYRING_SERVICE}, user {}) is \
                 damaged ({} bytes, expected {SECRET_LEN}); without it the offline cache cannot \
                 be read: clear the cache and sign in online again",
                self.user,
                bytes.len()
            ))
        })?;
        Ok(Some(DeviceSecret::from_bytes(array)))
    }

    /// Stores `secret`, replacing an entry of the same data folder.
    pub fn store(&self, secret: &DeviceSecret) -> Result<(), CacheError> {
        self.ensure_service()?;
        self.entry()?
            .set_secret(secret.expose())
            .map_err(|e| self.failure("storing the device secret", &e))
    }

    /// Deletes the entry; `false` when there was none.
    pub fn delete(&self) -> Result<bool, CacheError> {
        self.ensure_service()?;
        match self.entry()?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.failure("deleting the device secret", &e)),
        }
    }
}

/// Reading only: an existing entry. A missing one is an error here, since creating a secret is
/// [`super::device_keys::DeviceKeyStore`]'s decision, not this store's.
impl KeyStore for KeyringKeyStore {
    fn device_secret(&self) -> Result<DeviceSecret, CacheError> {
        self.read()?.ok_or_else(|| {
            CacheError::KeyStore(format!(
                "the OS keyring has no device secret for this data folder (service \
                 {KEYRING_SERVICE}, user {})",
                self.user
            ))
        })
    }
}
