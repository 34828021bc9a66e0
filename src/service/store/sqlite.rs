//! SQLite implementation of [`Storage`]: connections, migrations, shared helpers.
//!
//! One writer connection (SQLite allows one writer at a time anyway; `BEGIN IMMEDIATE` makes a
//! writer wait for the lock rather than fail halfway) and a few reader connections, which WAL
//! lets run next to the writer. Every statement binds its parameters; none is built from input.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// Migrations in order; `PRAGMA user_version` holds how many have run. Append only.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_sign_in_failures.sql"),
    include_str!("migrations/003_refresh_grace.sql"),
    include_str!("migrations/004_telemetry_summaries.sql"),
    include_str!("migrations/005_guide_leases.sql"),
    include_str!("migrations/006_organisations.sql"),
    include_str!("migrations/007_link_keys.sql"),
    include_str!("migrations/008_lost_access.sql"),
    include_str!("migrations/009_step_captures.sql"),
    include_str!("migrations/010_photos.sql"),
];

const READERS: usize = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut writer = connect(path)?;
        migrate(&mut writer, path)?;
        let readers = (0..READERS)
            .map(|_| connect(path).map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Self {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    pub(super) fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let index = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        // A panic while a connection was held leaves no half-done transaction behind (rusqlite
        // rolls back on drop), so the connection is still fine to use.
        let connection = self.readers[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&connection)
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction, committed only if it succeeds.
    pub(super) fn write<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut connection = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        in_transaction(&mut connection, work)
    }

    /// As [`Self::write`], for replacing secrets (link keys sealed in place): with
    /// `secure_delete` on, the bytes a row no longer holds are overwritten with zeros instead of
    /// staying in the page's free space; then the write-ahead log is checkpointed into the
    /// database file and emptied, so the page as it was is overwritten there and no longer kept
    /// in the log either.
    pub(super) fn write_erasing<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut connection = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let before: i64 = connection.pragma_query_value(None, "secure_delete", |r| r.get(0))?;
        connection.pragma_update(None, "secure_delete", 1)?;
        let result = in_transaction(&mut connection, work);
        connection.pragma_update(None, "secure_delete", before)?;
        let value = result?;
        let busy: i64 =
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        if busy != 0 {
            // Another process (an admin command) is reading: the log is checkpointed, and the
            // old page overwritten, at a later write once it is done.
            tracing::info!("the write-ahead log was not emptied: another process reads it");
        }
        Ok(value)
    }
}

/// Runs `work` in one `BEGIN IMMEDIATE` transaction on `connection`, committed only if it
/// succeeds.
fn in_transaction<T>(
    connection: &mut Connection,
    work: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = work(&transaction)?;
    transaction.commit()?;
    Ok(value)
}

fn connect(path: &Path) -> StoreResult<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers never block the writer; a crash mid-write loses only uncommitted work.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit that returned survives power loss, not only a process kill.
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(connection)
}

fn migrate(connection: &mut Connection, path: &Path) -> StoreResult<()> {
    let known = MIGRATIONS.len() as i64;
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let found: i64 = transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > known {
        return Err(StoreError::SchemaTooNew {
            path: path.display().to_string(),
            found,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    transaction.commit()?;
    Ok(())
}

pub(super) fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

pub(super) fn from_unix(seconds: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|_| StoreError::Corrupt(format!("timestamp {seconds}")))
}

pub(super) fn uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("uuid '{text}'")))
}

pub(super) fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::store::{AccountStore, GuideStore, ProfileStore};

    #[test]
    fn migrations_run_once_and_a_reopen_keeps_the_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.db");
        SqliteStore::open(&path).unwrap();
        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .read(|c| Ok(c.pragma_query_value(None, "user_version", |row| row.get(0))?))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let mode: String = store
            .read(|c| Ok(c.pragma_query_value(None, "journal_mode", |row| row.get(0))?))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_database_of_schema_1_is_brought_up_to_date_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(MIGRATIONS[0]).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        old.execute(
            "INSERT INTO users (id, username, password_hash, role, created_at)
             VALUES ('5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d', 'alice', 'x', 'operator', 0)",
            [],
        )
        .unwrap();
        drop(old);
        let store = SqliteStore::open(&path).unwrap();
        let (version, users, failures): (i64, i64, i64) = store
            .read(|c| {
                Ok((
                    c.pragma_query_value(None, "user_version", |row| row.get(0))?,
                    c.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))?,
                    c.query_row("SELECT COUNT(*) FROM sign_in_failures", [], |row| {
                        row.get(0)
                    })?,
                ))
            })
            .unwrap();
        assert_eq!((version, users, failures), (MIGRATIONS.len() as i64, 1, 0));
        // Schema 3 added the refresh grace columns to existing sessions; 4 and 5 their tables.
        let (summaries, leases): (i64, i64) = store
            .read(|c| {
                Ok((
                    c.query_row("SELECT COUNT(*) FROM telemetry_summaries", [], |r| r.get(0))?,
                    c.query_row("SELECT COUNT(*) FROM guide_leases", [], |r| r.get(0))?,
                ))
            })
            .unwrap();
        assert_eq!((summaries, leases), (0, 0));
    }

    /// A database at schema 5 with `rows` (SQL) run on it, then opened by this build.
    fn upgraded_from_schema_5(rows: &str) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.db");
        let old = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..5] {
            old.execute_batch(sql).unwrap();
        }
        old.pragma_update(None, "user_version", 5).unwrap();
        old.execute_batch(rows).unwrap();
        drop(old);
        let store = SqliteStore::open(&path).unwrap();
        (dir, store)
    }

    const ALICE: &str = "5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d";
    const GUIDE_A: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c41";
    const GUIDE_B: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c42";
    const GUIDE_C: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c43";

    fn guide_rows(id: &str, organisation: &str, title: &str) -> String {
        format!(
            "INSERT INTO guides (id, organisation, active, latest_version, created_by, created_at,
                                 updated_at)
             VALUES ('{id}', '{organisation}', 1, 1, '{ALICE}', 0, 0);
             INSERT INTO guide_versions (guide_id, version, title, description, content_hash,
                                         guide_json, total_bytes, published_by, published_at)
             VALUES ('{id}', 1, '{title}', '', 'h', '{{}}', 0, '{ALICE}', 0);"
        )
    }

    #[test]
    fn schema_6_moves_users_and_profiles_into_the_organisation_most_guides_belong_to() {
        let rows = format!(
            "INSERT INTO users (id, username, password_hash, role, created_at)
                 VALUES ('{ALICE}', 'alice', 'x', 'admin', 0);
             INSERT INTO group_members (group_name, user_id) VALUES ('line-1', '{ALICE}');
             {}{}{}
             INSERT INTO profiles (id, name, description, modified_within_days, revision,
                                   created_at, updated_at)
                 VALUES ('9a1b2c3d-0000-4000-8000-000000000001', 'line-1', '', 10, 3, 0, 0);
             INSERT INTO profile_guides (profile_id, guide_id) VALUES ('9a1b2c3d-0000-4000-8000-000000000001', '{GUIDE_A}');
             INSERT INTO profile_members (user_id, profile_id) VALUES ('{ALICE}', '9a1b2c3d-0000-4000-8000-000000000001');",
            guide_rows(GUIDE_A, "acme", "Pump"),
            guide_rows(GUIDE_B, "acme", "Valve"),
            guide_rows(GUIDE_C, "other-co", "Press"),
        );
        let (_dir, store) = upgraded_from_schema_5(&rows);
        let alice = store.user_by_name("alice").unwrap().unwrap();
        assert_eq!(
            (alice.organisation.as_str(), alice.all_organisations),
            ("acme", false),
            "into the organisation of most guides, and no server-wide admin by upgrading"
        );
        assert_eq!(alice.groups, ["line-1"]);
        let profile = store.profile("acme", "line-1").unwrap().unwrap();
        assert_eq!(profile.organisation, "acme");
        assert_eq!((profile.revision, profile.members.len()), (3, 1));
        assert_eq!(profile.guide_ids.len(), 1);
        // Guides keep their own organisation, titles and versions.
        let mut guides: Vec<(String, String, u32)> = store
            .guides(None)
            .unwrap()
            .into_iter()
            .map(|g| (g.organisation, g.title, g.latest_version))
            .collect();
        guides.sort();
        assert_eq!(
            guides,
            [
                ("acme".into(), "Pump".into(), 1),
                ("acme".into(), "Valve".into(), 1),
                ("other-co".into(), "Press".into(), 1)
            ]
        );
        assert_eq!(store.guides(Some("other-co")).unwrap().len(), 1);
    }

    #[test]
    fn schema_6_puts_the_users_of_a_service_without_guides_into_default() {
        let (_dir, store) = upgraded_from_schema_5(&format!(
            "INSERT INTO users (id, username, password_hash, role, created_at)
                 VALUES ('{ALICE}', 'alice', 'x', 'operator', 0);"
        ));
        let alice = store.user_by_name("alice").unwrap().unwrap();
        assert_eq!(alice.organisation, "default");
        assert_eq!(store.organisations().unwrap(), ["default"]);
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused_with_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("service.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let error = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(error.contains("schema version 99"), "{error}");
    }
}
