//! A glTF conformance corpus: `manifest.tsv` (path, …, expected) and the files it lists.
//! Every file is loaded as a guide would load it; the result is compared with `expected`
//! (`load`, or `reject:<reason>`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{LoadOptions, ModelError, load_model};
use crate::guide::AssetError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Load,
    Reject(String),
}

#[derive(Debug)]
pub enum Outcome {
    Loaded { triangles: usize, warnings: usize },
    Rejected(String),
    Panicked(String),
}

#[derive(Debug)]
pub struct CorpusRow {
    pub path: String,
    pub expected: Expected,
    pub outcome: Outcome,
    pub time: Duration,
}

impl CorpusRow {
    pub fn as_expected(&self) -> bool {
        matches!(
            (&self.expected, &self.outcome),
            (Expected::Load, Outcome::Loaded { .. }) | (Expected::Reject(_), Outcome::Rejected(_))
        )
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub loaded: usize,
    pub load_rows: usize,
    pub rejected: usize,
    pub reject_rows: usize,
    pub panics: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "glTF: loaded {}/{}, rejected {}/{}, panics {}",
            self.loaded, self.load_rows, self.rejected, self.reject_rows, self.panics
        )
    }
}

pub fn summarise(rows: &[CorpusRow]) -> Summary {
    let mut s = Summary::default();
    for row in rows {
        match row.expected {
            Expected::Load => s.load_rows += 1,
            Expected::Reject(_) => s.reject_rows += 1,
        }
        match (&row.expected, &row.outcome) {
            (_, Outcome::Panicked(_)) => s.panics += 1,
            (Expected::Load, Outcome::Loaded { .. }) => s.loaded += 1,
            (Expected::Reject(_), Outcome::Rejected(_)) => s.rejected += 1,
            _ => {}
        }
    }
    s
}

/// The manifest's rows: (relative path, expected).
pub fn read_manifest(dir: &Path) -> Result<Vec<(String, Expected)>, String> {
    let path = dir.join("manifest.tsv");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{}: no `{name}` column", path.display()))
    };
    let (path_col, expected_col) = (column("path")?, column("expected")?);
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (Some(file), Some(expected)) = (fields.get(path_col), fields.get(expected_col)) else {
            return Err(format!("{}: line {} is short", path.display(), n + 2));
        };
        let expected = match expected.trim() {
            "load" => Expected::Load,
            other => match other.strip_prefix("reject:") {
                Some(reason) => Expected::Reject(reason.to_owned()),
                None => {
                    return Err(format!(
                        "{}: line {}: unknown expectation {other:?}",
                        path.display(),
                        n + 2
                    ));
                }
            },
        };
        rows.push(((*file).to_owned(), expected));
    }
    Ok(rows)
}

/// Loads one file as a hologram: buffers and images resolved next to it, inside its folder.
pub fn load_file(path: &Path, max_texture_dimension: u32) -> Result<super::Model, ModelError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| ModelError::Read {
        asset: name.clone(),
        reason: e.to_string(),
    })?;
    let base: PathBuf = path.parent().map(Path::to_owned).unwrap_or_default();
    let resolve = move |uri: &str| -> Result<Vec<u8>, AssetError> {
        crate::guide::package::safe_relative_path(uri).map_err(|reason| {
            AssetError::UnsafePath {
                path: uri.to_owned(),
                reason,
            }
        })?;
        std::fs::read(base.join(uri)).map_err(|source| AssetError::File {
            path: uri.to_owned(),
            source,
        })
    };
    load_model(
        &name,
        &bytes,
        &LoadOptions {
            max_texture_dimension,
            resolve: &resolve,
        },
    )
}

/// Loads every row, timing each and catching panics (a panic is a bug to report, not a crash).
pub fn run(dir: &Path, max_texture_dimension: u32) -> Result<Vec<CorpusRow>, String> {
    let manifest = read_manifest(dir)?;
    let mut rows = Vec::new();
    for (file, expected) in manifest {
        let path = dir.join(&file);
        let started = Instant::now();
        let result = std::panic::catch_unwind(|| load_file(&path, max_texture_dimension));
        let time = started.elapsed();
        let outcome = match result {
            Ok(Ok(model)) => Outcome::Loaded {
                triangles: model.triangle_count(),
                warnings: model.warnings.len(),
            },
            Ok(Err(e)) => Outcome::Rejected(e.to_string()),
            Err(panic) => Outcome::Panicked(
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default(),
            ),
        };
        rows.push(CorpusRow {
            path: file,
            expected,
            outcome,
            time,
        });
    }
    Ok(rows)
}
