//! The bundled demo guide (F8: no network, no account) and the generator of its holograms.

pub mod glb;
pub mod models;

use std::path::PathBuf;

use thiserror::Error;
use uuid::{Uuid, uuid};

use crate::guide::{GuideLink, GuidePackage, PackageError};

/// The demo guide's id and organisation, so that a printed demo sticker opens it.
pub const GUIDE_ID: Uuid = uuid!("5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d");
pub const ORGANISATION: &str = "hologuide-demo";
/// Overrides where the demo package is looked for.
pub const DIR_ENV: &str = "HOLOGUIDE_DEMO_DIR";

#[derive(Debug, Error)]
pub enum DemoError {
    #[error("the demo guide is not installed next to this program (looked in: {})", .0.join(", "))]
    NotFound(Vec<String>),
    #[error("the bundled demo guide is damaged: {0}")]
    Invalid(#[from] PackageError),
}

pub fn is_demo_link(link: &GuideLink) -> bool {
    link.guide == GUIDE_ID && link.organisation == ORGANISATION
}

/// Where the demo package is: `$HOLOGUIDE_DEMO_DIR`, beside an installed binary
/// (`<prefix>/share/hologuide/demo`), or in the source tree the binary was built from.
pub fn package_dir() -> Result<PathBuf, DemoError> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os(DIR_ENV) {
        candidates.push(PathBuf::from(dir));
    }
    if let Some(prefix) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_owned()))
    {
        candidates.push(prefix.join("share/hologuide/demo"));
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo"));
    candidates
        .iter()
        .find(|dir| dir.join(crate::guide::package::GUIDE_FILE).is_file())
        .cloned()
        .ok_or_else(|| {
            DemoError::NotFound(candidates.iter().map(|c| c.display().to_string()).collect())
        })
}

/// The demo's room for the virtual camera (`--camera virtual`): its sticker on the pump's
/// nameplate, the pump as a grey box.
pub fn room_path() -> Result<PathBuf, DemoError> {
    let path = package_dir()?.join("room.json");
    if path.is_file() {
        Ok(path)
    } else {
        Err(DemoError::NotFound(vec![path.display().to_string()]))
    }
}

pub fn load() -> Result<GuidePackage, DemoError> {
    Ok(GuidePackage::load(&package_dir()?)?)
}
