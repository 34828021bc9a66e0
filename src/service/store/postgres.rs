//! PostgreSQL implementation of [`Storage`] (N4): several service instances on one database.
//!
//! Connections come from an r2d2 pool. Every write runs in one SERIALIZABLE transaction, retried
//! from the start when PostgreSQL reports that a concurrent transaction (from this instance or
//! another) made it unserialisable: so a publish, a profile change or a token rotation is all or
//! nothing, and two instances racing behave as if one went first — the guarantee SQLite's single
//! writer gives on one machine. Throttling counters, rotation grace and profile revisions are
//! rows here, so instances share them. Every statement binds its parameters.

use std::time::Duration;

use super::{StoreError, StoreResult};
use postgres::error::SqlState;
use postgres::{Client, IsolationLevel, NoTls, Transaction};
use r2d2::{Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;

/// Migrations in order; the table `schema_migrations` lists those that ran. Append only.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/001_initial.sql"),
    include_str!("migrations/postgres/002_link_keys.sql"),
    include_str!("migrations/postgres/003_lost_access.sql"),
    include_str!("migrations/postgres/004_step_captures.sql"),
    include_str!("migrations/postgres/005_photos.sql"),
];

/// Connections per instance. Measured: with 16, `GET /v1/me` waited for a connection behind 40
/// clients flooding sign-ins (p95 116–143 ms on the 2-core test machine, against the 100 ms of
/// `service::anonymous`); with 32 it does not. Two instances hold 64 of PostgreSQL's default 100,
/// leaving room for the admin command line.
const POOL_SIZE: u32 = 32;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries of one write transaction that keeps losing serialisation races before giving up.
const WRITE_ATTEMPTS: u32 = 20;
/// Any lock id would do; it only has to be the same for every instance migrating this schema.
const MIGRATION_LOCK: i64 = 0x686f_6c6f_6775_6964; // "hologuid"

type Manager = PostgresConnectionManager<NoTls>;

pub struct PostgresStore {
    pool: Pool<Manager>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) and creates the service's schema or brings it up to
    /// date (`init`).
    pub fn create(url: &str) -> StoreResult<Self> {
        Self::connect(url, true)
    }

    /// Connects to a database `init` ran on and brings its schema up to date; an empty database
    /// is refused, as SQLite's store refuses a folder without its database.
    pub fn open(url: &str) -> StoreResult<Self> {
        Self::connect(url, false)
    }

    fn connect(url: &str, create: bool) -> StoreResult<Self> {
        let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            StoreError::Connect(format!("the database URL is not valid: {}", chain(&e)))
        })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        // One connection first, for the migrations: a wrong URL or a server that is down is
        // reported at once, with its cause, rather than after the pool's wait.
        let mut client = config
            .connect(NoTls)
            .map_err(|e| StoreError::Connect(chain(&e)))?;
        migrate(&mut client, create)?;
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            // No `SELECT` round trip before every use (it doubled the round trips of a request);
            // a connection PostgreSQL closed (a restart) fails its statement instead, and the
            // work runs again once on a fresh one (`with_connection`).
            .test_on_check_out(false)
            .error_handler(Box::new(ConnectErrors::default()))
            // Connections are opened as needed, not all at start: an idle instance holds few.
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            .build_unchecked(PostgresConnectionManager::new(config, NoTls));
        Ok(Self { pool })
    }

    fn connection(&self) -> StoreResult<PooledConnection<Manager>> {
        self.pool
            .get()
            .map_err(|e| StoreError::Connect(e.to_string()))
    }

    pub(super) fn read<T>(
        &self,
        work: impl FnMut(&mut Client) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.with_connection(work)
    }

    /// Runs `work` on one pooled connection, never again: for work that manages its own
    /// transaction (the migration's copy), which must not be repeated behind its back.
    pub(super) fn on_one_connection<T>(
        &self,
        work: impl FnOnce(&mut Client) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut connection = self.connection()?;
        work(&mut connection)
    }

    /// Runs `work` on a pooled connection; again, once, on another when the first turned out
    /// closed (PostgreSQL restarted, or the connection was cut while it sat in the pool): nothing
    /// ran on a closed connection, so running again is safe. The pool drops closed connections.
    fn with_connection<T>(
        &self,
        mut work: impl FnMut(&mut Client) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut connection = self.connection()?;
        match work(&mut connection) {
            Err(StoreError::Postgres(e)) if e.is_closed() || connection.is_closed() => {
                drop(connection);
                let mut fresh = self.connection()?;
                work(&mut fresh)
            }
            other => other,
        }
    }

    /// Runs `work` in one SERIALIZABLE transaction, committed only if it succeeds; run again
    /// from the start (so `work` must only read and write through the transaction) when it lost
    /// a race with a concurrent transaction. For writes that read before they decide (a publish
    /// numbers its version, a profile change checks names and members).
    pub(super) fn write<T>(
        &self,
        work: impl FnMut(&mut Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.transaction(IsolationLevel::Serializable, work)
    }

    /// Runs `work` in one READ COMMITTED transaction: for writes whose every statement is atomic
    /// on the rows it touches (an upsert, an `UPDATE … WHERE` the current value): a concurrent
    /// writer of the same row waits for its lock and then sees the committed row, so nothing is
    /// lost and nothing needs running again. A rotation of a refresh token that another instance
    /// rotated a moment before matches no row; the same result stored at once by two instances is
    /// one row. Many sign-in failures at once (a flood) then cost no retries.
    pub(super) fn write_rows<T>(
        &self,
        work: impl FnMut(&mut Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.transaction(IsolationLevel::ReadCommitted, work)
    }

    fn transaction<T>(
        &self,
        isolation: IsolationLevel,
        mut work: impl FnMut(&mut Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut connection = self.connection()?;
        let mut attempt = 1;
        let mut reconnected = false;
        loop {
            // The error, and whether the transaction had begun: only one that never began may
            // run again on another connection (one cut mid-commit may have committed).
            let result = (|| {
                let mut transaction = connection
                    .build_transaction()
                    .isolation_level(isolation)
                    .start()
                    .map_err(|e| (false, StoreError::from(e)))?;
                let value = work(&mut transaction).map_err(|e| (true, e))?;
                transaction
                    .commit()
                    .map_err(|e| (true, StoreError::from(e)))?;
                Ok(value)
            })();
            match result {
                Ok(value) => return Ok(value),
                Err((false, StoreError::Postgres(e))) if !reconnected && e.is_closed() => {
                    // A pooled connection PostgreSQL closed (see `with_connection`).
                    reconnected = true;
                    connection = self.connection()?;
                }
                Err((_, StoreError::Postgres(e)))
                    if attempt < WRITE_ATTEMPTS && is_retryable(&e) =>
                {
                    attempt += 1;
                    // A little jitter, so that the same two transactions do not collide again.
                    std::thread::sleep(Duration::from_millis(u64::from(attempt) * 2));
                }
                Err((_, error)) => return Err(error),
            }
        }
    }
}

/// The pool's failed connects, logged at most once per [`ConnectErrors::EVERY`] with how many
/// were left out: while PostgreSQL restarts, the pool retries many times a second, and the
/// default handler wrote a line for each (thousands a second).
#[derive(Debug, Default)]
struct ConnectErrors {
    /// When a line was last written, and the failures since that were not.
    state: std::sync::Mutex<(Option<std::time::Instant>, u64)>,
}

impl ConnectErrors {
    const EVERY: Duration = Duration::from_secs(10);

    /// `Some(left out since the last line)` when a failure at `now` is to be written.
    fn to_log(&self, now: std::time::Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (last, left_out) = &mut *state;
        if last.is_some_and(|at| now.saturating_duration_since(at) < Self::EVERY) {
            *left_out += 1;
            return None;
        }
        *last = Some(now);
        Some(std::mem::take(left_out))
    }
}

impl r2d2::HandleError<postgres::Error> for ConnectErrors {
    fn handle_error(&self, error: postgres::Error) {
        if let Some(left_out) = self.to_log(std::time::Instant::now()) {
            tracing::error!(
                "cannot connect to PostgreSQL: {} ({left_out} more failures since the last line)",
                chain(&error)
            );
        }
    }
}

fn migrate(client: &mut Client, create: bool) -> StoreResult<()> {
    let mut transaction = client.transaction()?;
    // Two instances starting at once: the second waits here and then finds nothing to do.
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    transaction.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let found: i64 = transaction
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .try_get(0)?;
    if found == 0 && !create {
        return Err(StoreError::NotFound(
            "the PostgreSQL database holds no guide service yet; run `hologuide-server init \
             --database …` on it first"
                .into(),
        ));
    }
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew {
            path: "the PostgreSQL database".into(),
            found,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        transaction.batch_execute(sql)?;
        transaction.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&(index as i64 + 1)],
        )?;
    }
    transaction.commit()?;
    Ok(())
}

fn is_retryable(error: &postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE) | Some(&SqlState::T_R_DEADLOCK_DETECTED)
    )
}

pub(super) fn is_unique_violation(error: &postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// A count or number stored as BIGINT, read back into the width the model uses.
pub(super) fn narrow<T: TryFrom<i64>>(value: i64, what: &str) -> StoreResult<T> {
    T::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value}")))
}

/// An error with its causes, for a message read without a backtrace.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::ConnectErrors;

    #[test]
    fn a_storm_of_failed_connects_is_one_line_per_ten_seconds_with_the_count_left_out() {
        let errors = ConnectErrors::default();
        let start = Instant::now();
        assert_eq!(errors.to_log(start), Some(0));
        let written = (1..=1000u64)
            .filter_map(|ms| errors.to_log(start + Duration::from_millis(ms)))
            .count();
        assert_eq!(written, 0, "a second of failures after the first line");
        assert_eq!(errors.to_log(start + Duration::from_secs(10)), Some(1000));
        assert_eq!(errors.to_log(start + Duration::from_secs(21)), Some(0));
    }
}
