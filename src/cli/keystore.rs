//! Which key store the CLI gives the device: `DeviceKeyStore`'s rules, with
//! `HOLOGUIDE_KEYSTORE=file|keyring` to force one for a new data folder (testers).

use std::path::Path;

use anyhow::bail;

use hologuide::cache::{DeviceKeyStore, KeyStorePreference};

/// Forces where a new data folder's device secret goes: `file` or `keyring`. Unset or empty:
/// the OS keyring when a secret service answers, else a 0600 file. An existing secret never
/// moves, whatever this says.
pub const KEYSTORE_ENV: &str = "HOLOGUIDE_KEYSTORE";

pub fn device_key_store(data_dir: &Path) -> anyhow::Result<DeviceKeyStore> {
    let preference = match std::env::var(KEYSTORE_ENV) {
        Err(std::env::VarError::NotPresent) => KeyStorePreference::Auto,
        Ok(text) => match text.as_str() {
            "" => KeyStorePreference::Auto,
            "file" => KeyStorePreference::File,
            "keyring" => KeyStorePreference::Keyring,
            other => bail!("{KEYSTORE_ENV}='{other}' is not one of: file, keyring"),
        },
        Err(std::env::VarError::NotUnicode(_)) => {
            bail!("{KEYSTORE_ENV} is not text; use file or keyring")
        }
    };
    Ok(DeviceKeyStore::for_data_dir(data_dir, preference)?)
}
