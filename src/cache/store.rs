//! [`Store`]: opening a user's database, the session, the clock's high-water mark, `info`,
//! `verify` and clearing. Guides and blobs are in `guides.rs`, the outbox in `outbox.rs`.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::blobfile::BlobKey;
use super::index::{AccountEntry, CACHE_DIR, DeviceIndex, db_file_name};
use super::keys::{KeyStore, Purpose, derive_key, key_fingerprint};
use super::schema::{self, OpenFailure};
use super::{CacheError, DEFAULT_TELEMETRY_SESSIONS, Session};
use crate::clock::Clock;

/// The offline cache of one user on this device. Cheap to share (`Arc<Store>`): one connection
/// behind a mutex, since SQLite writes one transaction at a time anyway.
pub struct Store {
    pub(super) connection: Mutex<Connection>,
    pub(super) path: PathBuf,
    /// Where `accounts.json` lives; `None` for the benchmark's plain baseline.
    pub(super) data_dir: Option<PathBuf>,
    user_id: String,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) telemetry_sessions: AtomicUsize,
    /// Blobs a [`super::VersionWriter`] in this process is staging: garbage collection leaves
    /// them alone even when no committed version references them yet.
    pub(super) pinned: Mutex<HashMap<String, usize>>,
    /// sha256 state of each partial blob appended to in this process, with the length it has
    /// hashed: finishing a download then costs no second read of everything it wrote. A resumed
    /// partial (no state here) has its stored prefix hashed once, at its first append.
    pub(super) partials: Mutex<HashMap<String, super::blobs::Partial>>,
    /// Where the blob files live (beside the database) and their key.
    pub(super) blob_dir: PathBuf,
    pub(super) blob_key: BlobKey,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// The folder of a database's blob files: `user-<hash>.blobs` beside `user-<hash>.db`.
pub(super) fn blob_dir(database: &Path) -> PathBuf {
    database.with_extension("blobs")
}

/// Where `user_id`'s database lives in the data folder.
pub fn database_path(data_dir: &Path, user_id: &str) -> PathBuf {
    data_dir.join(CACHE_DIR).join(db_file_name(user_id))
}

pub(super) fn format_time(time: OffsetDateTime) -> String {
    // Every OffsetDateTime within years 0–9999 formats as RFC 3339.
    time.format(&Rfc3339).unwrap_or_default()
}

pub(super) fn parse_time(text: &str) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

pub(super) fn parse_optional_time(
    text: Option<String>,
) -> rusqlite::Result<Option<OffsetDateTime>> {
    text.as_deref().map(parse_time).transpose()
}

impl Store {
    /// Opens (creating on first use) `user_id`'s cache in the data folder `data_dir`, with the
    /// key this device derives for that user.
    ///
    /// Errors: [`CacheError::WrongKey`] when the file was made by another device secret (or
    /// belongs to another user), [`CacheError::Corrupt`] when it is damaged,
    /// [`CacheError::NewerSchema`] when a newer hologuide wrote it.
    pub fn open(
        data_dir: &Path,
        user_id: &str,
        keys: &dyn KeyStore,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, CacheError> {
        Self::open_at(
            data_dir,
            &database_path(data_dir, user_id),
            user_id,
            keys,
            clock,
        )
    }

    /// Opens the database file `path` as `user_id`'s cache; `data_dir` holds the account index.
    /// [`Store::open`] picks the path; this is for tools and tests that point at a file.
    pub fn open_at(
        data_dir: &Path,
        path: &Path,
        user_id: &str,
        keys: &dyn KeyStore,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, CacheError> {
        let secret = keys.device_secret()?;
        let key = derive_key(&secret, user_id, Purpose::Database);
        let fingerprint = key_fingerprint(&secret, user_id);
        let blob_key = BlobKey::new(&derive_key(&secret, user_id, Purpose::Blobs));
        drop(secret);
        let index = DeviceIndex::update(data_dir, |index| index.clone())?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let recorded = index
            .account_by_file(&file_name)
            .map(|a| a.key_check.clone());
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        // Encrypted anyway; private too, so other local users do not even see its size change.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(CacheError::io(format!("creating {}", dir.display())))?;
        let existing_len = fs::metadata(path).map(|m| m.len()).ok();
        if existing_len == Some(0) && recorded.is_some() {
            return Err(CacheError::Corrupt {
                path: path.to_owned(),
                detail: "the file is empty".to_owned(),
            });
        }
        let unreadable = |detail: String| -> CacheError {
            if recorded.as_deref() == Some(fingerprint.as_str()) {
                CacheError::Corrupt {
                    path: path.to_owned(),
                    detail,
                }
            } else if starts_like_plain_sqlite(path) {
                CacheError::Corrupt {
                    path: path.to_owned(),
                    detail: "it is a plain SQLite file, not an encrypted cache".to_owned(),
                }
            } else {
                CacheError::WrongKey {
                    path: path.to_owned(),
                }
            }
        };
        let mut connection = match schema::connect(path, Some(&key)) {
            Ok(connection) => connection,
            Err(OpenFailure::Unreadable(detail)) => return Err(unreadable(detail)),
            Err(OpenFailure::Other(error)) => return Err(error),
        };
        schema::migrate(&mut connection, path).map_err(|e| match e {
            CacheError::Database(e) if schema::is_corruption(&e) => unreadable(e.to_string()),
            other => other,
        })?;
        let store =
            Store::from_connection(connection, path, Some(data_dir), user_id, clock, blob_key);
        store.claim_owner()?;
        store.migrate_blob_chunks()?;
        if recorded.as_deref() != Some(fingerprint.as_str()) {
            DeviceIndex::update(data_dir, |index| {
                index.upsert(AccountEntry {
                    user_id: user_id.to_owned(),
                    display_name: None,
                    server_url: None,
                    db_file: file_name,
                    key_check: fingerprint,
                    last_online_at: None,
                });
            })?;
        }
        Ok(store)
    }

    /// The benchmark's baseline: the same schema and code in a plain, unencrypted SQLite file.
    /// Never for user data.
    #[doc(hidden)]
    pub fn open_unencrypted_baseline(
        path: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, CacheError> {
        let mut connection = match schema::connect(path, None) {
            Ok(connection) => connection,
            Err(OpenFailure::Unreadable(detail)) => {
                return Err(CacheError::Corrupt {
                    path: path.to_owned(),
                    detail,
                });
            }
            Err(OpenFailure::Other(error)) => return Err(error),
        };
        schema::migrate(&mut connection, path)?;
        Ok(Store::from_connection(
            connection,
            path,
            None,
            "baseline",
            clock,
            BlobKey::plain(),
        ))
    }

    pub(super) fn from_connection(
        connection: Connection,
        path: &Path,
        data_dir: Option<&Path>,
        user_id: &str,
        clock: Arc<dyn Clock>,
        blob_key: BlobKey,
    ) -> Store {
        Store {
            connection: Mutex::new(connection),
            path: path.to_owned(),
            data_dir: data_dir.map(Path::to_owned),
            user_id: user_id.to_owned(),
            clock,
            telemetry_sessions: AtomicUsize::new(DEFAULT_TELEMETRY_SESSIONS),
            pinned: Mutex::new(HashMap::new()),
            partials: Mutex::new(HashMap::new()),
            blob_dir: blob_dir(path),
            blob_key,
        }
    }

    /// A database decrypts only with its owner's key, so a different owner here means the
    /// file was renamed by hand: refuse it the same way as a wrong key.
    fn claim_owner(&self) -> Result<(), CacheError> {
        let owner = self.run(|c| {
            let owner: Option<String> = c
                .query_row("SELECT value FROM meta WHERE key = 'owner'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(owner) = owner {
                return Ok(owner);
            }
            // Only the first open writes: a cold start stays read-only.
            c.execute(
                "INSERT INTO meta (key, value) VALUES ('owner', ?1)",
                [&self.user_id],
            )?;
            Ok(self.user_id.clone())
        })?;
        if owner != self.user_id {
            return Err(CacheError::WrongKey {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Runs `work` on the connection; SQLite's "damaged file" answers become
    /// [`CacheError::Corrupt`] naming this file.
    pub(super) fn run<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, CacheError>,
    ) -> Result<T, CacheError> {
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut connection).map_err(|e| match e {
            CacheError::Database(e) if schema::is_corruption(&e) => CacheError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            },
            other => other,
        })
    }

    /// The session kept for this user (empty when never signed in or signed out).
    pub fn session(&self) -> Result<Session, CacheError> {
        self.run(|c| {
            let session = c
                .query_row(
                    "SELECT refresh_token, refresh_expires_at, access_token, access_expires_at,
                            last_online_sign_in FROM session WHERE id = 1",
                    [],
                    |r| {
                        Ok(Session {
                            refresh_token: r.get(0)?,
                            refresh_expires_at: parse_optional_time(r.get(1)?)?,
                            access_token: r.get(2)?,
                            access_expires_at: parse_optional_time(r.get(3)?)?,
                            last_online_sign_in: parse_optional_time(r.get(4)?)?,
                        })
                    },
                )
                .optional()?;
            Ok(session.unwrap_or_default())
        })
    }

    /// Replaces the session (after an online sign-in or refresh).
    pub fn save_session(&self, session: &Session) -> Result<(), CacheError> {
        self.run(|c| {
            c.execute(
                "INSERT OR REPLACE INTO session (id, refresh_token, refresh_expires_at,
                     access_token, access_expires_at, last_online_sign_in)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)",
                params![
                    session.refresh_token,
                    session.refresh_expires_at.map(format_time),
                    session.access_token,
                    session.access_expires_at.map(format_time),
                    session.last_online_sign_in.map(format_time),
                ],
            )?;
            Ok(())
        })
    }

    /// Sign-out (allowed offline, F5): the tokens go; guides and the outbox stay.
    pub fn sign_out(&self) -> Result<(), CacheError> {
        self.run(|c| {
            c.execute(
                "UPDATE session SET refresh_token = NULL, refresh_expires_at = NULL,
                     access_token = NULL, access_expires_at = NULL WHERE id = 1",
                [],
            )?;
            Ok(())
        })
    }

    /// Records in the device index that this user signed in online now, so a start offline
    /// signs in as them (F4). Names and URL are shown at start-up; no secret goes there.
    pub fn remember_as_last_account(
        &self,
        display_name: Option<&str>,
        server_url: Option<&str>,
    ) -> Result<(), CacheError> {
        let Some(data_dir) = &self.data_dir else {
            return Ok(());
        };
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        DeviceIndex::update(data_dir, |index| {
            let key_check = index
                .account_by_file(&file_name)
                .map(|a| a.key_check.clone())
                .unwrap_or_default();
            index.upsert(AccountEntry {
                user_id: self.user_id.clone(),
                display_name: display_name.map(str::to_owned),
                server_url: server_url.map(str::to_owned),
                db_file: file_name,
                key_check,
                last_online_at: Some(self.clock.now()),
            });
            index.last_account = Some(self.user_id.clone());
        })
    }

    /// Moves the latest time this cache has seen (N1's high-water mark) up to now; never down,
    /// and written at most once a minute (callers may ask often, and a roll-back worth
    /// detecting is hours or days). Whether the clock was set back is the one rule
    /// [`crate::app::access::clock_rolled_back`] applied to [`Self::time_high_water`].
    pub fn advance_time_seen(&self) -> Result<(), CacheError> {
        let now = self.clock.now();
        self.run(|c| {
            let last: Option<String> = c
                .query_row(
                    "SELECT value FROM meta WHERE key = 'time_high_water'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let last = last.as_deref().map(parse_time).transpose()?;
            if last.is_none_or(|last| now - last >= time::Duration::minutes(1)) {
                set_high_water(c, now)?;
            }
            Ok(())
        })
    }

    /// The latest time this cache has seen, if any.
    pub fn time_high_water(&self) -> Result<Option<OffsetDateTime>, CacheError> {
        self.run(|c| {
            let last: Option<String> = c
                .query_row(
                    "SELECT value FROM meta WHERE key = 'time_high_water'",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(parse_optional_time(last)?)
        })
    }

    /// The service confirmed the time (online): accept the device clock as it reads now, even
    /// if earlier than the high-water mark.
    pub fn confirm_clock(&self) -> Result<(), CacheError> {
        let now = self.clock.now();
        self.run(|c| Ok(set_high_water(c, now)?))
    }

    /// How many app sessions keep their telemetry event by event (F9); older ones are
    /// summarised when a new session begins.
    pub fn set_telemetry_session_limit(&self, sessions: usize) {
        self.telemetry_sessions
            .store(sessions.max(1), Ordering::Relaxed);
    }
}

fn set_high_water(c: &Connection, now: OffsetDateTime) -> rusqlite::Result<()> {
    c.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('time_high_water', ?1)",
        [format_time(now)],
    )?;
    Ok(())
}

fn starts_like_plain_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok_and(|()| &header == b"SQLite format 3\0")
}

/// Removes `user_id`'s database (and its WAL and shared-memory files) and their index entry.
/// Needs no key and works on a damaged file (F14). Returns whether there was anything to
/// remove.
pub fn clear_user(data_dir: &Path, user_id: &str) -> Result<bool, CacheError> {
    let removed = remove_database_files(&database_path(data_dir, user_id))?;
    let had_entry = DeviceIndex::update(data_dir, |index| {
        let had_entry = index.account(user_id).is_some();
        index.remove(user_id);
        had_entry
    })?;
    Ok(removed || had_entry)
}

/// Removes every user's database and the account index (the device secret stays, so the
/// device keeps its identity). Returns how many database files were removed.
pub fn clear_all_users(data_dir: &Path) -> Result<usize, CacheError> {
    let dir = data_dir.join(CACHE_DIR);
    let mut removed = 0;
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("user-") && name.ends_with(".db") {
                removed += usize::from(remove_database_files(&entry.path())?);
            }
        }
    }
    DeviceIndex::delete(data_dir)?;
    Ok(removed)
}

fn remove_database_files(path: &Path) -> Result<bool, CacheError> {
    let mut removed = false;
    let blobs = blob_dir(path);
    match fs::remove_dir_all(&blobs) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(CacheError::Io {
                what: format!("removing {}", blobs.display()),
                source: e,
            });
        }
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        match fs::remove_file(&file) {
            Ok(()) => removed |= suffix.is_empty(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CacheError::Io {
                    what: format!("removing {}", file.display()),
                    source: e,
                });
            }
        }
    }
    Ok(removed)
}
