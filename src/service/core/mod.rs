//! The service's rules, shared by the HTTP API and the admin command line.
//!
//! Methods are synchronous (SQLite, file writes, argon2); the HTTP layer runs them on tokio's
//! blocking pool. Time comes from the [`Clock`], never from the system directly.

mod accounts;
mod guides;
mod ingest;
mod link_keys;
mod orphans;
mod photos;
mod profiles;
mod runs;
mod sign_in;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::Duration;

pub use accounts::Membership;
pub use guides::{LinkTarget, PackageOrigin};
pub use link_keys::LinkKeyInfo;
pub(crate) use link_keys::seal_stored_link_keys;
pub use orphans::{ORPHAN_AGE, OrphanCollection};
pub use photos::MAX_PHOTO_BYTES;
pub use runs::{RunExport, runs_csv};

use super::blobs::BlobStore;
use super::clock::Clock;
use super::error::ServiceError;
use super::passwords::{self, PasswordPool};
use super::store::{PostgresStore, SqliteStore, Storage};

pub const DATABASE_FILE: &str = "service.db";
pub const BLOBS_DIR: &str = "blobs";
/// Temporary files older than this belong to no publish still running.
const STALE_TEMPORARY_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct Config {
    /// Lifetime of an access token: short, so a stolen one is worth little.
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token, renewed at every refresh (F10: rolling 90 days).
    pub refresh_token_ttl: Duration,
    /// Largest guide package accepted by `POST /v1/guides`.
    pub max_upload_bytes: u64,
    /// How long a device may open a guide offline after it last fetched its manifest (N1).
    /// Every online open renews it; a device that never comes back loses the guide after this.
    pub offline_lease: Duration,
    /// Threads checking passwords at once; each holds argon2's 19 MiB (issue 13).
    pub password_workers: usize,
    /// Password checks allowed to wait for a worker; more are refused with 503 at once.
    pub password_queue: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::minutes(15),
            refresh_token_ttl: Duration::days(90),
            max_upload_bytes: 512 * 1024 * 1024,
            offline_lease: Duration::days(30),
            password_workers: passwords::default_workers(),
            password_queue: passwords::default_workers() * passwords::DEFAULT_QUEUE_PER_WORKER,
        }
    }
}

/// Where the service keeps what it holds.
#[derive(Debug, Clone)]
pub struct DataLocation {
    /// The data folder: the SQLite database and, unless `blobs_dir` says otherwise, the blobs.
    pub data_dir: PathBuf,
    /// `postgres://…`: the metadata in that PostgreSQL database instead of the folder's SQLite
    /// database, so that several instances can share it (N4).
    pub database_url: Option<String>,
    /// The blobs in this folder instead; with several instances, one that all of them reach.
    pub blobs_dir: Option<PathBuf>,
}

impl DataLocation {
    /// Everything in one folder, on SQLite: the default.
    pub fn folder(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            database_url: None,
            blobs_dir: None,
        }
    }

    fn blobs(&self) -> PathBuf {
        self.blobs_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join(BLOBS_DIR))
    }

    /// The store, created when `create` (for `init`), else one `init` made.
    fn open_store(&self, create: bool) -> Result<Arc<dyn Storage>, ServiceError> {
        Ok(match &self.database_url {
            Some(url) if create => Arc::new(PostgresStore::create(url)?),
            Some(url) => Arc::new(PostgresStore::open(url)?),
            None => Arc::new(SqliteStore::open(&self.data_dir.join(DATABASE_FILE))?),
        })
    }
}

pub struct Service {
    store: Arc<dyn Storage>,
    blobs: BlobStore,
    clock: Arc<dyn Clock>,
    config: Config,
    data_dir: PathBuf,
    passwords: PasswordPool,
    /// What the link keys are sealed with; `None` until [`Service::unlock_link_keys`], so that
    /// commands that neither sign nor make keys never need the secret key file.
    link_key_secret: Option<link_keys::LinkKeySecret>,
}

impl Service {
    /// Creates the data folder and the database (or brings an existing one up to date).
    pub fn init(location: &DataLocation) -> Result<(), ServiceError> {
        let data_dir = &location.data_dir;
        std::fs::create_dir_all(data_dir)
            .map_err(ServiceError::io(format!("creating {}", data_dir.display())))?;
        // Password hashes, token hashes and results: for the service's account only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)).map_err(
                ServiceError::io(format!("restricting {}", data_dir.display())),
            )?;
        }
        location.open_store(true)?;
        BlobStore::open(&location.blobs())?;
        Ok(())
    }

    /// Opens an initialised data folder (or PostgreSQL database); one `init` never ran on is
    /// refused.
    pub fn open(
        location: &DataLocation,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServiceError> {
        let data_dir = &location.data_dir;
        if location.database_url.is_none() && !data_dir.join(DATABASE_FILE).is_file() {
            return Err(ServiceError::NotFound(format!(
                "{} holds no service database; run `hologuide-server init --data {}` first",
                data_dir.display(),
                data_dir.display()
            )));
        }
        let blobs = BlobStore::open(&location.blobs())?;
        let removed = blobs.remove_stale_temporaries(STALE_TEMPORARY_AGE);
        if removed > 0 {
            tracing::info!("removed {removed} temporary files left by an interrupted publish");
        }
        let passwords = PasswordPool::start(config.password_workers, config.password_queue)?;
        Ok(Self {
            store: location.open_store(false)?,
            blobs,
            clock,
            passwords,
            config,
            data_dir: data_dir.to_owned(),
            link_key_secret: None,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn stats(&self) -> Result<super::model::Stats, ServiceError> {
        Ok(self.store.stats()?)
    }
}

/// Names of users, groups, tags and profiles: short, printable, no surprises in URLs or logs.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), ServiceError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "'{}' is not a valid {what} name (1–64 characters of letters, digits, '-', '_', '.', '@')",
            name.chars().take(80).collect::<String>()
        )))
    }
}
