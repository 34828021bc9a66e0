//! Opening the SQLCipher file and bringing its schema up to date.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use zeroize::Zeroizing;

use super::CacheError;

/// Migrations in order; `PRAGMA user_version` holds how many have run. Append only.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_guides.sql"),
    include_str!("migrations/002_outbox.sql"),
];

/// Why a file could not be read: the caller decides between "wrong key" and "damaged" with the
/// fingerprint it knows.
pub(super) enum OpenFailure {
    Unreadable(String),
    Other(CacheError),
}

impl From<CacheError> for OpenFailure {
    fn from(error: CacheError) -> Self {
        OpenFailure::Other(error)
    }
}

/// Opens `path` (creating it if absent); with `key`, as SQLCipher with that raw 256-bit key (no
/// passphrase stretching: the key is already a uniform HKDF output, and it keeps a cold start
/// fast). Without a key, a plain SQLite file — only for the benchmark's baseline.
pub(super) fn connect(path: &Path, key: Option<&[u8; 32]>) -> Result<Connection, OpenFailure> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| CacheError::Io {
        what: format!("opening {}", path.display()),
        source: std::io::Error::other(e),
    })?;
    if let Some(key) = key {
        let literal = Zeroizing::new(format!("x'{}'", hex::encode(key)));
        connection
            .pragma_update(None, "key", literal.as_str())
            .map_err(CacheError::Database)?;
    }
    // The first read of page 1 is where a wrong key or a damaged header shows.
    match connection.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    }) {
        Ok(_) => {}
        Err(e) if is_corruption(&e) => return Err(OpenFailure::Unreadable(e.to_string())),
        Err(e) => return Err(CacheError::Database(e).into()),
    }
    let setup = || -> rusqlite::Result<()> {
        connection.busy_timeout(Duration::from_secs(10))?;
        // WAL: readers do not block the writer, and a commit is one append. NORMAL sync keeps
        // every committed transaction across a killed process (only power loss may lose the
        // last ones, never consistency).
        let _: String = connection.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    };
    match setup() {
        Ok(()) => Ok(connection),
        Err(e) if is_corruption(&e) => Err(OpenFailure::Unreadable(e.to_string())),
        Err(e) => Err(CacheError::Database(e).into()),
    }
}

/// `true` for SQLite's "this is not (or no longer) a database" answers.
pub(super) fn is_corruption(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

pub(super) fn schema_version(connection: &Connection) -> rusqlite::Result<i64> {
    connection.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Runs the migrations not yet run, up to `target`, in one transaction.
pub(super) fn migrate_to(
    connection: &mut Connection,
    path: &Path,
    target: usize,
) -> Result<(), CacheError> {
    let found = schema_version(connection)?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(CacheError::NewerSchema {
            path: path.to_owned(),
            found,
            known,
        });
    }
    if found >= target as i64 {
        return Ok(());
    }
    let transaction = connection.transaction()?;
    for migration in &MIGRATIONS[found as usize..target] {
        transaction.execute_batch(migration)?;
    }
    transaction.pragma_update(None, "user_version", target as i64)?;
    transaction.commit()?;
    Ok(())
}

pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<(), CacheError> {
    migrate_to(connection, path, MIGRATIONS.len())
}
