//! Guide packages on disk: a directory, or one zip archive, holding `guide.json` and its assets.
//!
//! Loading checks the whole package — the JSON, then every file the guide refers to — and reports
//! every problem found. A package that loads can be read from without further checks.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use thiserror::Error;
use zip::ZipArchive;

use super::assets::{AssetKind, AssetUse, check_asset, read_head};
use super::decode::decode;
use super::model::Guide;
use super::problem::{JsonPath, Problem, Problems, Rule, Severity};
use serde_json::Value;

pub const GUIDE_FILE: &str = "guide.json";
/// A guide description is text; anything larger is not one.
pub const MAX_GUIDE_JSON_BYTES: u64 = 4 * 1024 * 1024;
/// One asset (a glTF model, a picture) — larger files do not belong on a headset.
pub const MAX_ASSET_BYTES: u64 = 256 * 1024 * 1024;
/// Entries in an archive; a zip bomb made of millions of empty files is refused up front.
pub const MAX_ARCHIVE_ENTRIES: usize = 10_000;
/// How many times its compressed size an archive entry may expand to. Pictures, video and
/// models barely compress; text does up to about 10×; deflate's ceiling is about 1,000×. An
/// entry past this is a zip bomb, however honest its declared size.
pub const MAX_EXPANSION: u64 = 100;
/// Entries up to this size are not held to [`MAX_EXPANSION`]: small text files compress well.
pub const EXPANSION_FREE_BYTES: u64 = 1024 * 1024;
/// All the entries of an archive together, uncompressed.
pub const MAX_PACKAGE_BYTES: u64 = 1024 * 1024 * 1024;

#[derive(Debug, Error)]
pub enum PackageError {
    #[error("cannot read guide package {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path} is not a guide package (expected a directory or a .zip archive holding guide.json)"
    )]
    NotAPackage { path: PathBuf },
    #[error(
        "guide package {path} has {} error(s):\n{}",
        count_errors(problems),
        list(problems)
    )]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("cannot read '{name}' from guide package {path}: {reason}")]
    Asset {
        path: PathBuf,
        name: String,
        reason: String,
    },
}

impl PackageError {
    /// The message without the package's location: for a package that came over the network,
    /// kept in a temporary file whose path means nothing to its sender and must not be shown.
    pub fn reason(&self) -> String {
        match self {
            PackageError::Io { source, .. } => format!("cannot read the guide package: {source}"),
            PackageError::NotAPackage { .. } => {
                "this is not a guide package (expected a .zip archive holding guide.json)".into()
            }
            PackageError::Invalid { problems, .. } => format!(
                "the guide package has {} error(s):\n{}",
                count_errors(problems),
                list(problems)
            ),
            PackageError::Asset { name, reason, .. } => {
                format!("cannot read '{name}' from the guide package: {reason}")
            }
        }
    }
}

fn count_errors(problems: &[Problem]) -> usize {
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count()
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The outcome of checking a package: the guide if it has no errors, and everything found.
#[derive(Debug)]
pub struct Report {
    pub guide: Option<Guide>,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Warning)
    }
}

/// A loaded, valid package.
#[derive(Debug)]
pub struct GuidePackage {
    pub guide: Guide,
    pub warnings: Vec<Problem>,
    source: Source,
}

impl GuidePackage {
    /// Loads and validates; any error refuses the package (warnings are kept on it).
    pub fn load(path: &Path) -> Result<Self, PackageError> {
        let source = Source::open(path)?;
        let report = check(&source);
        match report.guide {
            Some(guide) => Ok(Self {
                guide,
                warnings: report.problems,
                source,
            }),
            None => Err(PackageError::Invalid {
                path: path.to_owned(),
                problems: report.problems,
            }),
        }
    }

    /// Reads an asset the guide refers to, by the path written in `guide.json`.
    pub fn read_asset(&self, name: &str) -> Result<Vec<u8>, PackageError> {
        self.source
            .read(name, MAX_ASSET_BYTES)
            .map_err(|reason| PackageError::Asset {
                path: self.source.path().to_owned(),
                name: name.to_owned(),
                reason,
            })
    }

    /// Streams an asset the guide refers to into `use_reader` (at most [`MAX_ASSET_BYTES`]),
    /// so that publishing a large asset never holds it in memory. Errors `use_reader` meets
    /// reading are the package's; its own it reports in `T`.
    pub fn stream_asset<T>(
        &self,
        name: &str,
        use_reader: impl FnOnce(&mut dyn Read) -> T,
    ) -> Result<T, PackageError> {
        self.source
            .stream(name, |reader| {
                Ok(use_reader(&mut reader.take(MAX_ASSET_BYTES)))
            })
            .map_err(|reason| PackageError::Asset {
                path: self.source.path().to_owned(),
                name: name.to_owned(),
                reason,
            })
    }

    pub fn path(&self) -> &Path {
        self.source.path()
    }
}

/// Checks a package and reports every problem; never fails except when the path is unreadable.
pub fn validate(path: &Path) -> Result<Report, PackageError> {
    Ok(check(&Source::open(path)?))
}

fn check(source: &Source) -> Report {
    let mut problems = Problems::default();
    source.archive_problems(&mut problems);
    let guide = read_guide_json(source, &mut problems).and_then(|document| {
        let guide = decode(&document, &mut problems);
        check_files(&document, source, &mut problems);
        guide
    });
    let guide = guide.filter(|_| !problems.has_errors());
    let mut problems = problems.into_vec();
    problems.sort_by_key(|p| std::cmp::Reverse(p.severity));
    Report { guide, problems }
}

fn read_guide_json(source: &Source, problems: &mut Problems) -> Option<serde_json::Value> {
    let bytes = match source.read(GUIDE_FILE, MAX_GUIDE_JSON_BYTES) {
        Ok(bytes) => bytes,
        Err(reason) => {
            problems.error(Rule::Package, GUIDE_FILE, reason);
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(document) => Some(document),
        Err(e) => {
            problems.error(Rule::Syntax, GUIDE_FILE, format!("not valid JSON: {e}"));
            None
        }
    }
}

/// Every media file and hologram the guide names must be inside the package, present, sane in size
/// and of a format the app shows. Walks the document rather than the decoded guide, so that file
/// problems are reported even when the JSON has errors of its own.
fn check_files(document: &Value, source: &Source, problems: &mut Problems) {
    let tasks_path = JsonPath::root().key("tasks");
    for (ti, task) in elements(document.get("tasks")) {
        let steps_path = tasks_path.index(ti).key("steps");
        for (si, step) in elements(task.get("steps")) {
            let step_path = steps_path.index(si);
            if let Some(name) = step.pointer("/media/path").and_then(Value::as_str) {
                let media_use = AssetUse {
                    kind: AssetKind::Media,
                    animation: None,
                };
                let path = step_path.key("media").key("path");
                check_file(source, name, media_use, &path, problems);
            }
            for (hi, hologram) in elements(step.get("holograms")) {
                let Some(name) = hologram.get("asset").and_then(Value::as_str) else {
                    continue;
                };
                let model_use = AssetUse {
                    kind: AssetKind::Model,
                    animation: hologram.get("animation").and_then(Value::as_str),
                };
                let path = step_path.key("holograms").index(hi).key("asset");
                check_file(source, name, model_use, &path, problems);
            }
        }
    }
}

fn elements(value: Option<&Value>) -> impl Iterator<Item = (usize, &Value)> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

fn check_file(
    source: &Source,
    name: &str,
    asset_use: AssetUse<'_>,
    path: &JsonPath,
    problems: &mut Problems,
) {
    if let Err(reason) = safe_relative_path(name) {
        problems.error(
            Rule::PathEscapesPackage,
            path,
            format!(
                "'{name}' {reason}; asset paths are relative to the package, with '/' separators"
            ),
        );
        return;
    }
    match source.size(name) {
        Err(reason) => {
            problems.error(Rule::MissingAsset, path, format!("'{name}' {reason}"));
        }
        Ok(size) if size > MAX_ASSET_BYTES => problems.error(
            Rule::AssetTooLarge,
            path,
            format!("'{name}' is {size} bytes; assets are at most {MAX_ASSET_BYTES} bytes"),
        ),
        Ok(size) => match source.stream(name, |reader| read_head(name, reader)) {
            Ok(head) => check_asset(name, &head, size, asset_use, path, problems, &|sibling| {
                source.size(sibling).is_ok()
            }),
            Err(reason) => problems.error(Rule::MissingAsset, path, format!("'{name}' {reason}")),
        },
    }
}

/// Asset paths as written in `guide.json`: relative, '/'-separated, never leaving the package.
pub fn safe_relative_path(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.contains('\\') {
        return Err("contains '\\'");
    }
    if name.starts_with('/') || Path::new(name).has_root() {
        return Err("is an absolute path");
    }
    if name.contains('\0') {
        return Err("contains a NUL byte");
    }
    for segment in name.split('/') {
        match segment {
            "" => return Err("has an empty path segment"),
            "." | ".." => return Err("leaves the package through '.' or '..'"),
            s if s.contains(':') => {
                return Err("contains ':' (drive letters and URLs are not allowed)");
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where a package's files come from.
#[derive(Debug)]
enum Source {
    Directory {
        root: PathBuf,
        canonical_root: PathBuf,
    },
    Archive {
        path: PathBuf,
        zip: Mutex<ZipArchive<File>>,
        /// Entry name → index, for the entries whose names are safe.
        entries: BTreeMap<String, usize>,
        /// Entry names that would escape the package if extracted (zip-slip).
        unsafe_entries: Vec<String>,
        /// Compressed and uncompressed size of each entry, as the archive declares them.
        sizes: BTreeMap<String, (u64, u64)>,
    },
}

/// The most an entry of `compressed` bytes may expand to (see [`MAX_EXPANSION`]).
fn expansion_limit(compressed: u64) -> u64 {
    compressed
        .saturating_mul(MAX_EXPANSION)
        .max(EXPANSION_FREE_BYTES)
}

impl Source {
    fn open(path: &Path) -> Result<Self, PackageError> {
        let io_error = |source| PackageError::Io {
            path: path.to_owned(),
            source,
        };
        let metadata = std::fs::metadata(path).map_err(io_error)?;
        if metadata.is_dir() {
            let canonical_root = path.canonicalize().map_err(io_error)?;
            return Ok(Source::Directory {
                root: path.to_owned(),
                canonical_root,
            });
        }
        let mut file = File::open(path).map_err(io_error)?;
        if !is_zip(&mut file).map_err(io_error)? {
            return Err(PackageError::NotAPackage {
                path: path.to_owned(),
            });
        }
        let zip = ZipArchive::new(file).map_err(|e| {
            io_error(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("damaged zip archive: {e}"),
            ))
        })?;
        if zip.len() > MAX_ARCHIVE_ENTRIES {
            return Err(io_error(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} entries in the archive; at most {MAX_ARCHIVE_ENTRIES} are allowed",
                    zip.len()
                ),
            )));
        }
        let mut entries = BTreeMap::new();
        let mut unsafe_entries = Vec::new();
        let mut sizes = BTreeMap::new();
        let mut zip = zip;
        for index in 0..zip.len() {
            let name = match zip.name_for_index(index) {
                Some(Ok(name)) => name.into_owned(),
                None => continue,
                Some(Err(e)) => {
                    return Err(io_error(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("damaged zip archive: {e}"),
                    )));
                }
            };
            if name.ends_with('/') {
                continue; // a directory entry holds no data
            }
            let size = zip
                .by_index_raw(index)
                .map(|entry| (entry.compressed_size(), entry.size()))
                .map_err(|e| {
                    io_error(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("damaged zip archive: {e}"),
                    ))
                })?;
            sizes.insert(name.clone(), size);
            match safe_relative_path(&name) {
                Ok(()) => {
                    entries.insert(name, index);
                }
                Err(_) => unsafe_entries.push(name),
            }
        }
        Ok(Source::Archive {
            path: path.to_owned(),
            zip: Mutex::new(zip),
            entries,
            unsafe_entries,
            sizes,
        })
    }

    fn path(&self) -> &Path {
        match self {
            Source::Directory { root, .. } => root,
            Source::Archive { path, .. } => path,
        }
    }

    fn archive_problems(&self, problems: &mut Problems) {
        let Source::Archive {
            unsafe_entries,
            sizes,
            ..
        } = self
        else {
            return;
        };
        for name in unsafe_entries {
            problems.error(
                Rule::PathEscapesPackage,
                format!("archive entry '{name}'"),
                "the entry's name leaves the package; the archive is unsafe to extract",
            );
        }
        for (name, &(compressed, size)) in sizes {
            if size > expansion_limit(compressed) {
                problems.error(
                    Rule::AssetTooLarge,
                    format!("archive entry '{name}'"),
                    format!(
                        "expands from {compressed} to {size} bytes, more than {MAX_EXPANSION} times its compressed size; the archive is refused as a zip bomb"
                    ),
                );
            }
        }
        let total = sizes
            .values()
            .fold(0u64, |sum, &(_, size)| sum.saturating_add(size));
        if total > MAX_PACKAGE_BYTES {
            problems.error(
                Rule::AssetTooLarge,
                "archive",
                format!(
                    "its entries hold {total} bytes uncompressed; a package holds at most {MAX_PACKAGE_BYTES}"
                ),
            );
        }
    }

    /// Size of a file in the package, or why it is not there.
    fn size(&self, name: &str) -> Result<u64, String> {
        match self {
            Source::Directory { .. } => {
                let file = self.resolve_in_directory(name)?;
                let metadata = std::fs::metadata(&file).map_err(|e| describe_io(&e))?;
                if !metadata.is_file() {
                    return Err("is not a file".to_owned());
                }
                Ok(metadata.len())
            }
            Source::Archive { .. } => self.with_archive_entry(name, |entry| Ok(entry.size())),
        }
    }

    /// Reads a whole file, refusing more than `limit` bytes whatever the headers claim.
    fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>, String> {
        safe_relative_path(name).map_err(str::to_owned)?;
        let too_large = || format!("is larger than {limit} bytes");
        match self {
            Source::Directory { .. } => {
                let file =
                    File::open(self.resolve_in_directory(name)?).map_err(|e| describe_io(&e))?;
                read_limited(file, limit)
                    .map_err(|e| describe_io(&e))?
                    .ok_or_else(too_large)
            }
            Source::Archive { .. } => self.with_archive_entry(name, |entry| {
                // Whatever the entry declares, it never yields more than its compressed size
                // allows.
                let allowed = expansion_limit(entry.compressed_size());
                read_limited(entry, limit.min(allowed))
                    .map_err(|e| format!("is damaged in the archive: {e}"))?
                    .ok_or_else(|| {
                        if allowed < limit {
                            format!(
                                "expands to more than {MAX_EXPANSION} times its compressed size"
                            )
                        } else {
                            too_large()
                        }
                    })
            }),
        }
    }

    /// Hands a file of the package to `use_reader` as a stream: never more of an archive entry
    /// than its compressed size allows ([`MAX_EXPANSION`]), nothing held in memory here.
    fn stream<T>(
        &self,
        name: &str,
        use_reader: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> Result<T, String> {
        safe_relative_path(name).map_err(str::to_owned)?;
        match self {
            Source::Directory { .. } => {
                let mut file =
                    File::open(self.resolve_in_directory(name)?).map_err(|e| describe_io(&e))?;
                use_reader(&mut file).map_err(|e| describe_io(&e))
            }
            Source::Archive { .. } => self.with_archive_entry(name, |mut entry| {
                let allowed = expansion_limit(entry.compressed_size());
                use_reader(&mut (&mut entry).take(allowed))
                    .map_err(|e| format!("is damaged in the archive: {e}"))
            }),
        }
    }

    /// Opens an archive entry by name; only for `Source::Archive`.
    fn with_archive_entry<T>(
        &self,
        name: &str,
        use_entry: impl FnOnce(zip::read::ZipFile<'_, File>) -> Result<T, String>,
    ) -> Result<T, String> {
        let Source::Archive { zip, entries, .. } = self else {
            unreachable!("only called for archives");
        };
        let index = *entries.get(name).ok_or("is not in the archive")?;
        let mut zip = zip.lock().map_err(|_| "archive reader failed earlier")?;
        let entry = zip
            .by_index(index)
            .map_err(|e| format!("cannot be read: {e}"))?;
        use_entry(entry)
    }

    /// The file's real location, refusing symbolic links that point outside the package.
    fn resolve_in_directory(&self, name: &str) -> Result<PathBuf, String> {
        let Source::Directory {
            root,
            canonical_root,
        } = self
        else {
            unreachable!("only called for directories");
        };
        let joined = root.join(name);
        debug_assert!(joined.components().all(|c| c != Component::ParentDir));
        let real = joined.canonicalize().map_err(|e| describe_io(&e))?;
        if !real.starts_with(canonical_root) {
            return Err("links to a file outside the package".to_owned());
        }
        Ok(real)
    }
}

fn is_zip(file: &mut File) -> io::Result<bool> {
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic)?;
    file.rewind()?;
    Ok(n == 4 && magic == *b"PK\x03\x04")
}

/// `Ok(None)` when the data runs past `limit`.
fn read_limited(reader: impl Read, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

fn describe_io(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "does not exist in the package".to_owned(),
        io::ErrorKind::PermissionDenied => "cannot be read (permission denied)".to_owned(),
        _ => format!("cannot be read: {error}"),
    }
}

#[cfg(test)]
mod tests;
