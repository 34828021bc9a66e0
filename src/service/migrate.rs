//! `hologuide-server migrate --from DIR --to postgres://…` (N4): a plant's SQLite data folder
//! becomes a PostgreSQL database that several instances share.
//!
//! Blobs first: each one a version names is read from the folder, its sha256 and size checked
//! against its name and the database, and copied to `--blobs` (when given; otherwise it stays in
//! the folder, which the instances then serve with `--data`). Then the metadata, in one
//! transaction verified table by table before it commits (`store::copy`). So a failure anywhere
//! leaves PostgreSQL as it was, a PostgreSQL service never names a blob that is not there, and a
//! second run does again only what is not already right.
//!
//! Link-signing keys travel sealed (N2): any the folder still holds in clear are sealed first
//! with its secret key file, as `serve` would at start, and the sealed bytes are copied as they
//! are. So the PostgreSQL instances need that same file, and nothing else about keys changes.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::blobs::{BlobStore, PutError, copy_hashing_into};
use super::core::{BLOBS_DIR, DATABASE_FILE, seal_stored_link_keys};
use super::error::ServiceError;
use super::secret_key_file::SecretKeyFile;
use super::store::{PostgresStore, SqliteStore, TableCopy, copy_sqlite_to_postgres};

/// What a migration did.
#[derive(Debug, Clone)]
pub struct MigrationReport {
    pub tables: Vec<TableCopy>,
    pub blobs: usize,
    pub blob_bytes: u64,
    /// Blobs written to `--blobs` this run (the rest were there already, and verified).
    pub blobs_copied: usize,
    /// Where the blobs are now.
    pub blobs_dir: PathBuf,
    /// The secret key file the copied link keys are sealed with: every instance needs it.
    pub secret_key_file: PathBuf,
}

/// What the migration is doing, for a progress bar.
#[derive(Debug)]
pub enum MigrationProgress<'a> {
    /// About to check (and copy) this many blobs of this many bytes.
    BlobsStart {
        count: usize,
        bytes: u64,
    },
    /// One blob checked (and copied when needed).
    Blob {
        bytes: u64,
    },
    Table(&'a TableCopy),
}

/// Copies the data folder `from` into the PostgreSQL database at `to` (created or brought up to
/// date first) and, when `blobs_to` is given, its blobs into that folder. `secret` is the
/// folder's secret key file: its link keys are checked against it, and sealed with it where
/// they are still in clear, before anything is copied.
pub fn migrate_sqlite_to_postgres(
    from: &Path,
    to: &str,
    blobs_to: Option<&Path>,
    secret: &SecretKeyFile,
    progress: &mut dyn FnMut(MigrationProgress<'_>),
) -> Result<MigrationReport, ServiceError> {
    let database = from.join(DATABASE_FILE);
    if !database.is_file() {
        return Err(ServiceError::Invalid(format!(
            "{} holds no service database ({DATABASE_FILE}): give the data folder `serve --data` uses",
            from.display()
        )));
    }
    // Opening brings an older folder's schema up to date, as `serve` would: the copy is of the
    // schema this build knows.
    let source = SqliteStore::open(&database)?;
    seal_stored_link_keys(&source, &secret.load()?, secret.path())?;
    let target = PostgresStore::create(to)?;
    let source_blobs = from.join(BLOBS_DIR);
    let blobs_dir = blobs_to.map_or_else(|| source_blobs.clone(), Path::to_owned);

    let blobs = super::store::referenced_blobs(&source)?;
    let total: u64 = blobs.iter().map(|(_, bytes)| bytes).sum();
    progress(MigrationProgress::BlobsStart {
        count: blobs.len(),
        bytes: total,
    });
    let copy_into = match blobs_to {
        Some(dir) if !same_folder(dir, &source_blobs) => Some(BlobStore::open(dir)?),
        _ => None,
    };
    let source_store = BlobStore::open(&source_blobs)?;
    let mut blobs_copied = 0;
    for (sha256, bytes) in &blobs {
        let source_path = source_store
            .path(sha256)
            .ok_or_else(|| not_a_blob(sha256))?;
        let copied = match &copy_into {
            Some(store) => copy_blob(&source_path, store, sha256, *bytes)?,
            None => {
                check_blob(&source_path, sha256, *bytes)?;
                false
            }
        };
        blobs_copied += usize::from(copied);
        progress(MigrationProgress::Blob { bytes: *bytes });
    }

    let tables = copy_sqlite_to_postgres(&source, &target, &mut |table| {
        progress(MigrationProgress::Table(table));
    })?;
    Ok(MigrationReport {
        tables,
        blobs: blobs.len(),
        blob_bytes: total,
        blobs_copied,
        blobs_dir,
        secret_key_file: secret.path().to_owned(),
    })
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A name in the database that is not a sha256 (a tampered database): no path to read.
fn not_a_blob(sha256: &str) -> ServiceError {
    ServiceError::Invalid(format!(
        "the database names a blob {sha256:?}, which is not a sha256; nothing was migrated"
    ))
}

/// Copies one blob unless the target holds it already, whole and right; `true` when copied.
fn copy_blob(
    source: &Path,
    target: &BlobStore,
    sha256: &str,
    bytes: u64,
) -> Result<bool, ServiceError> {
    let existing = target.path(sha256).ok_or_else(|| not_a_blob(sha256))?;
    if existing.is_file() && check_blob(&existing, sha256, bytes).is_ok() {
        return Ok(false);
    }
    let mut file = open_blob(source, sha256)?;
    let (written, written_bytes) = target
        .put_reader(&mut file)
        .map_err(|e| read_error(source, e))?;
    if written != sha256 || written_bytes != bytes {
        return Err(damaged(source, sha256, bytes, &written, written_bytes));
    }
    Ok(true)
}

/// Reads the blob at `path` whole and checks its sha256 and size.
fn check_blob(path: &Path, sha256: &str, bytes: u64) -> Result<(), ServiceError> {
    let mut file = open_blob(path, sha256)?;
    let (found, read) =
        copy_hashing_into(&mut file, &mut std::io::sink()).map_err(|e| read_error(path, e))?;
    if found != sha256 || read != bytes {
        return Err(damaged(path, sha256, bytes, &found, read));
    }
    Ok(())
}

fn read_error(path: &Path, error: PutError) -> ServiceError {
    match error {
        PutError::Store(e) => e,
        PutError::Source(e) => ServiceError::Io {
            what: format!("reading blob {}", path.display()),
            source: e,
        },
    }
}

fn open_blob(path: &Path, sha256: &str) -> Result<impl Read, ServiceError> {
    File::open(path).map_err(|e| {
        ServiceError::Invalid(format!(
            "blob {sha256}, which a guide version names, cannot be read at {}: {e}; nothing was \
             migrated",
            path.display()
        ))
    })
}

fn damaged(path: &Path, sha256: &str, bytes: u64, found: &str, read: u64) -> ServiceError {
    ServiceError::Invalid(format!(
        "blob {} is damaged: {read} bytes with sha256 {found}, where its name and the database \
         say {bytes} bytes with sha256 {sha256}; nothing was migrated",
        path.display()
    ))
}
