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
    include_str!("migrations/003_link_trust.sql"),
    include_str!("migrations/004_profile_sync.sql"),
    include_str!("migrations/005_sent_results.sql"),
    include_str!("migrations/006_photos.sql"),
];

/// Bytes per page. SQLCipher encrypts and authenticates each page separately, with a fixed cost
/// per page on top of the cost per byte: 64 KiB pages read guide files about 2–4× faster than
/// SQLCipher's default 4 KiB (measured with `hologuide bench cache`), and a guide's files are
/// large. Small writes (an outbox event) cost one 64 KiB page, which is fine at human rates.
const PAGE_SIZE: u32 = 65536;

/// Part of the file format: SQLCipher does not record these in the file, so every open must
/// use the same ones (changing them needs a migration through `sqlcipher_export`).
/// HMAC-SHA256 rather than the default SHA-512: CPUs with SHA extensions compute it about twice
/// as fast, and it is as strong a page authenticator here.
const CIPHER_SETTINGS: &str = "PRAGMA cipher_page_size = 65536;
     PRAGMA cipher_hmac_algorithm = HMAC_SHA256;";

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
        // SQLCipher writes its own lines to stderr (a wrong key is an "hmac check failed"); we
        // report such cases ourselves, once, in words. Set after the key: the first key turns
        // SQLCipher's default logging on.
        let _ = connection.query_row("PRAGMA cipher_log_level = NONE", [], |_| Ok(()));
        connection
            .execute_batch(CIPHER_SETTINGS)
            .map_err(CacheError::Database)?;
        // Not part of the format, only speed: SQLCipher's memory security locks and wipes every
        // buffer it frees, which costs more than the encryption on large reads. Keys live in
        // `Zeroizing` buffers on our side; page HMACs (tamper detection) are unaffected.
        let _ = connection.query_row("PRAGMA cipher_memory_security = OFF", [], |_| Ok(()));
    } else {
        // The baseline differs from the cache only by the key: same page size.
        connection
            .execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE};"))
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
        // 32 MiB of decrypted pages (the default is 2 MiB): re-reading a model or an image does
        // not decrypt and authenticate its pages again.
        connection.pragma_update(None, "cache_size", -32768)?;
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
