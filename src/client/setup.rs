//! A device's configuration from its data folder, as every command opens it: the key store
//! (the OS keyring or a 0600 file; `HOLOGUIDE_KEYSTORE` forces one for a new folder) and the
//! clock (`HOLOGUIDE_CLOCK_OVERRIDE`, for testers). Read in one place, so that no command
//! opens the device or its cache with another clock than the rest.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;
use time::OffsetDateTime;

use super::DeviceConfig;
use crate::cache::{CacheError, DeviceKeyStore, KeyStorePreference, SecretLocation, Store};
use crate::clock::{Clock, FixedClock, SystemClock};

/// Forces where a new data folder's device secret goes: `file` or `keyring`. Unset or empty:
/// the OS keyring when a secret service answers, else a 0600 file. An existing secret never
/// moves, whatever this says.
pub const KEYSTORE_ENV: &str = "HOLOGUIDE_KEYSTORE";
/// An RFC 3339 time the device takes as now (testers: leases, the 90 days).
pub const CLOCK_OVERRIDE_ENV: &str = "HOLOGUIDE_CLOCK_OVERRIDE";

#[derive(Debug, Error)]
pub enum SetupError {
    #[error("{KEYSTORE_ENV}='{0}' is not one of: file, keyring")]
    KeyStorePreference(String),
    #[error("{0} is not text")]
    NotText(&'static str),
    #[error("{CLOCK_OVERRIDE_ENV}='{0}' is not an RFC 3339 time (e.g. 2026-11-25T08:00:00Z)")]
    ClockOverride(String),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// The data folder of a device with its key store and clock.
pub struct DataFolder {
    dir: PathBuf,
    keys: Arc<DeviceKeyStore>,
    clock: Arc<dyn Clock>,
}

impl DataFolder {
    /// The folder's key store and the clock, with the testers' overrides from the environment.
    pub fn open(dir: &Path) -> Result<Self, SetupError> {
        let preference = match env(KEYSTORE_ENV)?.as_deref() {
            None | Some("") => KeyStorePreference::Auto,
            Some("file") => KeyStorePreference::File,
            Some("keyring") => KeyStorePreference::Keyring,
            Some(other) => return Err(SetupError::KeyStorePreference(other.to_owned())),
        };
        let clock: Arc<dyn Clock> = match env(CLOCK_OVERRIDE_ENV)? {
            Some(text) if !text.is_empty() => {
                let at =
                    OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| SetupError::ClockOverride(text.clone()))?;
                Arc::new(FixedClock::new(at))
            }
            _ => Arc::new(SystemClock),
        };
        Ok(Self {
            dir: dir.to_owned(),
            keys: Arc::new(DeviceKeyStore::for_data_dir(dir, preference)?),
            clock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the device secret is kept (`hologuide status` says it).
    pub fn secret_location(&self) -> SecretLocation {
        self.keys.location()
    }

    /// The device's configuration: this folder, its keys, its clock, default limits.
    pub fn device_config(&self) -> DeviceConfig {
        DeviceConfig::new(&self.dir, self.keys.clone(), Arc::clone(&self.clock))
    }

    /// `user`'s encrypted cache in this folder, read with the device's clock.
    pub fn open_store(&self, user: &str) -> Result<Store, CacheError> {
        Store::open(&self.dir, user, self.keys.as_ref(), Arc::clone(&self.clock))
    }
}

fn env(name: &'static str) -> Result<Option<String>, SetupError> {
    match std::env::var(name) {
        Ok(text) => Ok(Some(text)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(SetupError::NotText(name)),
    }
}
