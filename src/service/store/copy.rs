//! Copying the metadata of a SQLite data folder into PostgreSQL (`hologuide-server migrate`,
//! N4): every table, row for row, in one PostgreSQL transaction that is committed only once
//! every table's row count and content hash there match the SQLite folder's.
//!
//! Safe to run again: a row already copied is overwritten with the folder's current value (so a
//! second run after the plant kept working brings the copy up to date), and the checks then
//! refuse a database that holds rows the folder does not (another service's, or one that has
//! served since): nothing is committed and the message says which table differs. Both schemas
//! hold the same values (times as Unix seconds); only the column types differ — UUIDs are text
//! in SQLite, booleans integers — and one name (`sign_in_failures.username` is `key` here).

use rusqlite::types::Value as SqliteValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{PostgresStore, SqliteStore, StoreError, StoreResult};

/// How a column is held in PostgreSQL (and so how SQLite's value converts).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Uuid,
    Text,
    Int,
    Bool,
    Bytes,
}

struct Column {
    /// The name in PostgreSQL.
    name: &'static str,
    /// The name in SQLite, where it differs.
    sqlite_name: &'static str,
    kind: Kind,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        sqlite_name: name,
        kind,
    }
}

struct Table {
    name: &'static str,
    columns: &'static [Column],
    /// Primary-key columns, for `ON CONFLICT`.
    key: &'static [&'static str],
}

use Kind::{Bool, Bytes, Int, Text, Uuid as Id};

/// Every table of the schema (SQLite 7, PostgreSQL 2), parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[
            col("id", Id),
            col("username", Text),
            col("password_hash", Text),
            col("role", Text),
            col("created_at", Int),
            col("organisation", Text),
            col("all_organisations", Bool),
        ],
        key: &["id"],
    },
    Table {
        name: "group_members",
        columns: &[col("group_name", Text), col("user_id", Id)],
        key: &["group_name", "user_id"],
    },
    Table {
        name: "devices",
        columns: &[
            col("user_id", Id),
            col("device_id", Text),
            col("first_seen", Int),
            col("last_seen", Int),
        ],
        key: &["user_id", "device_id"],
    },
    Table {
        name: "sessions",
        columns: &[
            col("id", Id),
            col("user_id", Id),
            col("device_id", Text),
            col("access_hash", Bytes),
            col("access_expires_at", Int),
            col("refresh_hash", Bytes),
            col("refresh_expires_at", Int),
            col("created_at", Int),
            col("revoked_at", Int),
            col("previous_refresh_hash", Bytes),
            col("rotated_at", Int),
            col("rotation_nonce", Bytes),
        ],
        key: &["id"],
    },
    Table {
        name: "sign_in_failures",
        columns: &[
            Column {
                name: "key",
                sqlite_name: "username",
                kind: Text,
            },
            col("failures", Int),
            col("last_failure_at", Int),
        ],
        key: &["key"],
    },
    Table {
        name: "guides",
        columns: &[
            col("id", Id),
            col("organisation", Text),
            col("active", Bool),
            col("latest_version", Int),
            col("created_by", Id),
            col("created_at", Int),
            col("updated_at", Int),
        ],
        key: &["id"],
    },
    Table {
        name: "guide_versions",
        columns: &[
            col("guide_id", Id),
            col("version", Int),
            col("title", Text),
            col("description", Text),
            col("content_hash", Text),
            col("guide_json", Text),
            col("total_bytes", Int),
            col("published_by", Id),
            col("published_at", Int),
        ],
        key: &["guide_id", "version"],
    },
    Table {
        name: "version_assets",
        columns: &[
            col("guide_id", Id),
            col("version", Int),
            col("path", Text),
            col("sha256", Text),
            col("bytes", Int),
        ],
        key: &["guide_id", "version", "path"],
    },
    Table {
        name: "version_steps",
        columns: &[
            col("guide_id", Id),
            col("version", Int),
            col("step_id", Text),
            col("capture", Text),
        ],
        key: &["guide_id", "version", "step_id"],
    },
    Table {
        name: "guide_tags",
        columns: &[col("guide_id", Id), col("tag", Text)],
        key: &["guide_id", "tag"],
    },
    Table {
        name: "guide_leases",
        columns: &[col("guide_id", Id), col("seconds", Int)],
        key: &["guide_id"],
    },
    Table {
        name: "permissions",
        columns: &[
            col("guide_id", Id),
            col("principal_kind", Text),
            col("principal", Text),
            col("granted_at", Int),
        ],
        key: &["guide_id", "principal_kind", "principal"],
    },
    Table {
        name: "profiles",
        columns: &[
            col("id", Id),
            col("organisation", Text),
            col("name", Text),
            col("description", Text),
            col("modified_within_days", Int),
            col("revision", Int),
            col("created_at", Int),
            col("updated_at", Int),
        ],
        key: &["id"],
    },
    Table {
        name: "profile_guides",
        columns: &[col("profile_id", Id), col("guide_id", Id)],
        key: &["profile_id", "guide_id"],
    },
    Table {
        name: "profile_tags",
        columns: &[col("profile_id", Id), col("tag", Text)],
        key: &["profile_id", "tag"],
    },
    Table {
        name: "profile_members",
        columns: &[col("user_id", Id), col("profile_id", Id)],
        key: &["user_id"],
    },
    Table {
        name: "telemetry",
        columns: &[
            col("id", Id),
            col("user_id", Id),
            col("device_id", Text),
            col("kind", Text),
            col("at", Int),
            col("guide_id", Id),
            col("step_id", Text),
            col("duration_ms", Int),
            col("received_at", Int),
        ],
        key: &["id"],
    },
    Table {
        name: "telemetry_summaries",
        columns: &[
            col("id", Id),
            col("user_id", Id),
            col("device_id", Text),
            col("sessions", Int),
            col("events", Int),
            col("by_kind", Text),
            col("duration_ms", Int),
            col("first_at", Int),
            col("last_at", Int),
            col("received_at", Int),
        ],
        key: &["id"],
    },
    Table {
        name: "results",
        columns: &[
            col("id", Id),
            col("user_id", Id),
            col("device_id", Text),
            col("guide_id", Id),
            col("version", Int),
            col("step_id", Text),
            col("completed_at", Int),
            col("value", Text),
            col("received_at", Int),
        ],
        key: &["id"],
    },
    Table {
        name: "link_keys",
        columns: &[
            col("organisation", Text),
            col("key_id", Text),
            col("public_key", Bytes),
            col("private_key", Bytes),
            col("created_at", Int),
            col("retired_at", Int),
        ],
        key: &["organisation", "key_id"],
    },
    Table {
        name: "signed_links_required",
        columns: &[col("organisation", Text)],
        key: &["organisation"],
    },
    Table {
        name: "lost_access_policies",
        columns: &[col("organisation", Text), col("policy", Text)],
        key: &["organisation"],
    },
    Table {
        name: "photos",
        columns: &[
            col("sha256", Text),
            col("organisation", Text),
            col("user_id", Id),
            col("jpeg", Bytes),
            col("received_at", Int),
        ],
        key: &["sha256"],
    },
];

/// Rows per `INSERT`: 12 columns at most, well under PostgreSQL's 65,535 parameters.
const BATCH_ROWS: usize = 500;

/// One value as both databases hold it, after conversion.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null(Kind),
    Uuid(Uuid),
    Text(String),
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl Cell {
    /// The value back when it is not of the column's kind (a damaged or hand-edited database).
    fn from_sqlite(value: SqliteValue, kind: Kind) -> Result<Self, SqliteValue> {
        Ok(match (kind, value) {
            (_, SqliteValue::Null) => Cell::Null(kind),
            (Kind::Uuid, SqliteValue::Text(text)) => match Uuid::parse_str(&text) {
                Ok(id) => Cell::Uuid(id),
                Err(_) => return Err(SqliteValue::Text(text)),
            },
            (Kind::Text, SqliteValue::Text(text)) => Cell::Text(text),
            (Kind::Int, SqliteValue::Integer(n)) => Cell::Int(n),
            (Kind::Bool, SqliteValue::Integer(n)) => Cell::Bool(n != 0),
            (Kind::Bytes, SqliteValue::Blob(bytes)) => Cell::Bytes(bytes),
            (_, other) => return Err(other),
        })
    }

    fn from_postgres(row: &postgres::Row, index: usize, kind: Kind) -> StoreResult<Self> {
        Ok(match kind {
            Kind::Uuid => row.try_get::<_, Option<Uuid>>(index)?.map(Cell::Uuid),
            Kind::Text => row.try_get::<_, Option<String>>(index)?.map(Cell::Text),
            Kind::Int => row.try_get::<_, Option<i64>>(index)?.map(Cell::Int),
            Kind::Bool => row.try_get::<_, Option<bool>>(index)?.map(Cell::Bool),
            Kind::Bytes => row.try_get::<_, Option<Vec<u8>>>(index)?.map(Cell::Bytes),
        }
        .unwrap_or(Cell::Null(kind)))
    }

    fn to_sql(&self) -> Box<dyn postgres::types::ToSql + Sync> {
        match self {
            Cell::Null(Kind::Uuid) => Box::new(None::<Uuid>),
            Cell::Null(Kind::Text) => Box::new(None::<String>),
            Cell::Null(Kind::Int) => Box::new(None::<i64>),
            Cell::Null(Kind::Bool) => Box::new(None::<bool>),
            Cell::Null(Kind::Bytes) => Box::new(None::<Vec<u8>>),
            Cell::Uuid(id) => Box::new(*id),
            Cell::Text(text) => Box::new(text.clone()),
            Cell::Int(n) => Box::new(*n),
            Cell::Bool(b) => Box::new(*b),
            Cell::Bytes(bytes) => Box::new(bytes.clone()),
        }
    }

    /// An unambiguous encoding, for the content hash: a tag, then a length where one is needed.
    fn digest_into(&self, hasher: &mut Sha256) {
        match self {
            Cell::Null(_) => hasher.update([0]),
            Cell::Uuid(id) => {
                hasher.update([1]);
                hasher.update(id.as_bytes());
            }
            Cell::Text(text) => {
                hasher.update([2]);
                hasher.update((text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
            }
            Cell::Int(n) => {
                hasher.update([3]);
                hasher.update(n.to_le_bytes());
            }
            Cell::Bool(b) => hasher.update([4, u8::from(*b)]),
            Cell::Bytes(bytes) => {
                hasher.update([5]);
                hasher.update((bytes.len() as u64).to_le_bytes());
                hasher.update(bytes);
            }
        }
    }
}

/// A table's rows as a count and an order-independent hash: the sum (per 64-bit lane, wrapping)
/// of every row's sha256. Each side reads its rows in its own order and the results still
/// compare; a row changed, missing or extra changes the sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableDigest {
    pub rows: u64,
    lanes: [u64; 4],
}

impl TableDigest {
    fn add(&mut self, row: &[Cell]) {
        let mut hasher = Sha256::new();
        for cell in row {
            cell.digest_into(&mut hasher);
        }
        let hash = hasher.finalize();
        for (lane, chunk) in self.lanes.iter_mut().zip(hash.chunks_exact(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            *lane = lane.wrapping_add(u64::from_le_bytes(word));
        }
        self.rows += 1;
    }

    /// The hash as hex, for the report.
    pub fn hex(&self) -> String {
        self.lanes
            .iter()
            .map(|lane| format!("{lane:016x}"))
            .collect()
    }
}

/// What was copied, table by table (each verified equal on both sides).
#[derive(Debug, Clone)]
pub struct TableCopy {
    pub table: &'static str,
    pub digest: TableDigest,
}

/// Copies every table of `from` into `to` in one transaction, verifies each, and commits; or
/// commits nothing and says which table differs. `progress` hears each table as it is done.
pub fn copy_sqlite_to_postgres(
    from: &SqliteStore,
    to: &PostgresStore,
    progress: &mut dyn FnMut(&TableCopy),
) -> StoreResult<Vec<TableCopy>> {
    from.read(|sqlite| {
        // One read transaction: a service still writing to the folder cannot make the copy
        // inconsistent (the copy is of one moment).
        let snapshot = sqlite.unchecked_transaction()?;
        to.on_one_connection(|client| {
            let mut transaction = client.transaction()?;
            let mut copied = Vec::with_capacity(TABLES.len());
            for table in TABLES {
                let digest = copy_table(&snapshot, &mut transaction, table)?;
                let target = digest_postgres(&mut transaction, table)?;
                if target != digest {
                    return Err(StoreError::Conflict(format!(
                        "after copying, PostgreSQL's table {} holds {} rows (content hash {}) \
                         where the SQLite folder holds {} (hash {}): the database holds data \
                         that is not in the folder; nothing was committed — migrate into a new, \
                         empty database",
                        table.name,
                        target.rows,
                        target.hex(),
                        digest.rows,
                        digest.hex()
                    )));
                }
                let done = TableCopy {
                    table: table.name,
                    digest,
                };
                progress(&done);
                copied.push(done);
            }
            transaction.commit()?;
            Ok(copied)
        })
    })
}

/// Reads `table` from SQLite and upserts it into PostgreSQL in batches; returns SQLite's digest.
fn copy_table(
    sqlite: &rusqlite::Connection,
    postgres: &mut postgres::Transaction<'_>,
    table: &Table,
) -> StoreResult<TableDigest> {
    let select = format!(
        "SELECT {} FROM {}",
        table
            .columns
            .iter()
            .map(|c| c.sqlite_name)
            .collect::<Vec<_>>()
            .join(", "),
        table.name
    );
    let mut statement = sqlite.prepare(&select)?;
    let mut rows = statement.query([])?;
    let mut digest = TableDigest::default();
    let mut batch: Vec<Vec<Cell>> = Vec::with_capacity(BATCH_ROWS);
    while let Some(row) = rows.next()? {
        let cells = table
            .columns
            .iter()
            .enumerate()
            .map(|(index, column)| {
                Cell::from_sqlite(row.get::<_, SqliteValue>(index)?, column.kind).map_err(|value| {
                    StoreError::Corrupt(format!(
                        "{}.{} holds {value:?}, not a {:?}",
                        table.name, column.name, column.kind
                    ))
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        digest.add(&cells);
        batch.push(cells);
        if batch.len() == BATCH_ROWS {
            upsert(postgres, table, &batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        upsert(postgres, table, &batch)?;
    }
    Ok(digest)
}

fn upsert(
    postgres: &mut postgres::Transaction<'_>,
    table: &Table,
    rows: &[Vec<Cell>],
) -> StoreResult<()> {
    let width = table.columns.len();
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let tuples: Vec<String> = (0..rows.len())
        .map(|r| {
            let placeholders: Vec<String> =
                (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    let updates: Vec<String> = names
        .iter()
        .filter(|name| !table.key.contains(name))
        .map(|name| format!("{name} = EXCLUDED.{name}"))
        .collect();
    let on_conflict = if updates.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!("DO UPDATE SET {}", updates.join(", "))
    };
    // Names and placeholders only: every value is bound.
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) {}",
        table.name,
        names.join(", "),
        tuples.join(", "),
        table.key.join(", "),
        on_conflict
    );
    let values: Vec<Box<dyn postgres::types::ToSql + Sync>> =
        rows.iter().flatten().map(Cell::to_sql).collect();
    let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
        values.iter().map(|value| value.as_ref()).collect();
    postgres.execute(&sql, &params)?;
    Ok(())
}

/// The digest of `table` as PostgreSQL holds it (within the copying transaction).
fn digest_postgres(
    postgres: &mut postgres::Transaction<'_>,
    table: &Table,
) -> StoreResult<TableDigest> {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let select = format!("SELECT {} FROM {}", names.join(", "), table.name);
    let portal = postgres.bind(&select, &[])?;
    let mut digest = TableDigest::default();
    loop {
        let rows = postgres.query_portal(&portal, BATCH_ROWS as i32)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let cells = table
                .columns
                .iter()
                .enumerate()
                .map(|(index, column)| Cell::from_postgres(row, index, column.kind))
                .collect::<StoreResult<Vec<_>>>()?;
            digest.add(&cells);
        }
    }
    Ok(digest)
}

/// Distinct blobs the folder's versions name, with their sizes: what the migration copies.
pub fn referenced_blobs(from: &SqliteStore) -> StoreResult<Vec<(String, u64)>> {
    from.read(|sqlite| {
        let mut statement =
            sqlite.prepare("SELECT DISTINCT sha256, bytes FROM version_assets ORDER BY sha256")?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(sha, bytes)| {
                u64::try_from(bytes)
                    .map(|bytes| (sha.clone(), bytes))
                    .map_err(|_| StoreError::Corrupt(format!("blob {sha} has size {bytes}")))
            })
            .collect()
    })
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
