//! Guides: the model, `guide.json` decoding with every problem reported, packages and guide links.
//!
//! Pure: no rendering, XR or network code here; the only I/O is reading a package from disk.

mod assets;
mod decode;
pub mod link;
mod model;
pub mod package;
mod problem;

pub use assets::AssetKind;
pub use decode::{decode, limits};
pub use link::{GuideLink, LinkError};
pub use model::{
    Anchor, Guide, Hologram, Media, SCHEMA_VERSION, Step, StepPosition, Task, Transform,
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

/// Where a guide's files come from: a package on disk, or this device's encrypted cache. Front
/// ends read holograms through it without knowing which.
pub trait AssetSource {
    /// The bytes of the file `guide.json` names `path`, or why they cannot be read.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
}

impl AssetSource for GuidePackage {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.read_asset(path).map_err(|e| e.to_string())
    }
}

/// A package shared between front ends (`demo --backend auto` tries the window, then
/// headless).
impl<T: AssetSource + ?Sized> AssetSource for std::sync::Arc<T> {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        (**self).read(path)
    }
}
