//! Guides: the model, `guide.json` decoding with every problem reported, packages and guide links.
//!
//! Pure: no rendering, XR or network code here; the only I/O is reading a package from disk.

mod assets;
pub mod capture;
mod decode;
pub mod link;
pub mod link_trust;
mod model;
pub mod package;
pub mod payload;
mod problem;

pub use assets::AssetKind;
pub use decode::{decode, limits};
pub use link::{GuideLink, LinkError};
pub use model::{
    Anchor, Guide, Hologram, Media, OLDEST_SCHEMA_VERSION, SCHEMA_VERSION, Step, StepPosition,
    Task, Transform,
};
pub use package::{GuidePackage, PackageError, Report, validate};
pub use problem::{JsonPath, Problem, Problems, Rule, Severity};

impl Guide {
    /// `guide.json` as authors and the service write it: pretty, stable field order.
    pub fn to_json_pretty(&self) -> String {
        // The model holds only strings, numbers, arrays and RFC 3339 timestamps: it cannot fail.
        serde_json::to_string_pretty(self).expect("a guide always serialises")
    }
}

/// Why a file a guide names cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// From a package on disk: missing, too large, unreadable.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The guide names a file its version does not have.
    #[error("'{0}' is not a file of this guide version")]
    NotInVersion(String),
    /// A path that would leave the guide's folder.
    #[error("'{path}' {reason}")]
    UnsafePath { path: String, reason: &'static str },
    /// A file in a folder (models beside a `.gltf`, tests).
    #[error("reading '{path}': {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// This device's encrypted cache could not give the file back.
    #[error("reading '{path}' from the offline cache: {source}")]
    OfflineCache {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Where a guide's files come from: a package on disk, or this device's encrypted cache. Front
/// ends read holograms through it without knowing which.
pub trait AssetSource {
    /// The bytes of the file `guide.json` names `path`, or why they cannot be read.
    fn read(&self, path: &str) -> Result<Vec<u8>, AssetError>;
}

impl AssetSource for GuidePackage {
    fn read(&self, path: &str) -> Result<Vec<u8>, AssetError> {
        Ok(self.read_asset(path)?)
    }
}

/// A package shared between front ends (`demo --backend auto` tries the window, then
/// headless).
impl<T: AssetSource + ?Sized> AssetSource for std::sync::Arc<T> {
    fn read(&self, path: &str) -> Result<Vec<u8>, AssetError> {
        (**self).read(path)
    }
}
