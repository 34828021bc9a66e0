//! Where the app keeps its data: the device secret, the account index, the offline caches.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

/// Overrides the data folder (tests, several app instances on one machine).
pub const DATA_DIR_ENV: &str = "HOLOGUIDE_DATA_DIR";

#[derive(Debug, Clone, Default, Args)]
pub struct DataDirArg {
    /// The app's data folder: device secret, account index, offline caches. Default:
    /// $HOLOGUIDE_DATA_DIR, else the XDG data folder (~/.local/share/hologuide).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataDirArg {
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        resolve(self.data_dir.as_deref())
    }
}

/// `--data-dir`, else `$HOLOGUIDE_DATA_DIR`, else `$XDG_DATA_HOME/hologuide`.
pub fn resolve(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir.to_owned());
    }
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "hologuide")
        .map(|dirs| dirs.data_dir().to_owned())
        .context("no home folder to keep data in: pass --data-dir or set HOLOGUIDE_DATA_DIR")
}
