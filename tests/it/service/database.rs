//! Which store the service suite runs against. Without `$HOLOGUIDE_TEST_DATABASE`: each data
//! folder's own SQLite database, as a plant runs it. With it (a PostgreSQL URL naming a database
//! its user may create databases from; `scripts/test` starts a throwaway server and sets it):
//! every data folder gets a PostgreSQL database of its own on that server, so that tests running
//! at once share nothing, exactly as with their folders.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The suite's PostgreSQL server, if it runs against one.
pub fn server_url() -> Option<String> {
    std::env::var("HOLOGUIDE_TEST_DATABASE")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The URL of `data`'s own database (created the first time), or `None` on SQLite.
pub fn for_folder(data: &Path) -> Option<String> {
    let server = server_url()?;
    // The folder's path names its database: every command on the folder finds the same one.
    let digest = super::sha256_hex(data.as_os_str().as_encoded_bytes());
    let name = format!("hg_{}", &digest[..24]);
    let (base, _) = server
        .rsplit_once('/')
        .expect("$HOLOGUIDE_TEST_DATABASE is a URL ending in /DATABASE");
    static CREATED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut created = CREATED.lock().unwrap_or_else(|e| e.into_inner());
    if created
        .get_or_insert_with(HashSet::new)
        .insert(name.clone())
    {
        let mut client = ::postgres::Client::connect(&server, ::postgres::NoTls)
            .expect("the test PostgreSQL server answers at $HOLOGUIDE_TEST_DATABASE");
        // The name is made here from hex digits; a statement cannot bind a database name.
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("creating a test database");
    }
    Some(format!("{base}/{name}"))
}

/// The columns `sessions, events, by_kind, duration_ms` of the one telemetry summary `data`'s
/// store holds, read from the database itself rather than through the service.
pub fn stored_summary(data: &Path) -> (i64, i64, String, i64) {
    const SQL: &str = "SELECT sessions, events, by_kind, duration_ms FROM telemetry_summaries";
    match for_folder(data) {
        Some(url) => {
            let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
            let row = client.query_one(SQL, &[]).unwrap();
            (row.get(0), row.get(1), row.get(2), row.get(3))
        }
        None => rusqlite::Connection::open(data.join(hologuide::service::DATABASE_FILE))
            .unwrap()
            .query_row(SQL, [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap(),
    }
}

/// Every byte `data`'s store holds: on SQLite the folder's files (database and write-ahead log);
/// on PostgreSQL every row of every table, as text (where bytea columns show as hex: a scan for a
/// secret must look for its hex form too).
pub fn stored_bytes(data: &Path) -> Vec<u8> {
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            stored.extend(std::fs::read(path).unwrap());
        }
    }
    if let Some(url) = for_folder(data) {
        let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        let tables = client
            .query(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .unwrap();
        for table in tables {
            let table: String = table.get(0);
            for row in client
                .query(&format!("SELECT t::text FROM {table} t"), &[])
                .unwrap()
            {
                stored.extend(row.get::<_, String>(0).into_bytes());
            }
        }
    }
    stored
}

/// A new, empty PostgreSQL database for a test that needs one whichever store the suite runs
/// on (a migration from SQLite): on the suite's server, or else on a throwaway server of the
/// test's own (`scripts/postgres start`), stopped when this is dropped.
pub struct ScratchDatabase {
    pub url: String,
    own_server: Option<PathBuf>,
}

impl ScratchDatabase {
    pub fn new() -> ScratchDatabase {
        Self::create(server_url())
    }

    /// On a server of its own even when the suite has one: a test that restarts it must not
    /// disturb the others.
    pub fn on_own_server() -> ScratchDatabase {
        Self::create(None)
    }

    /// Restarts the database's own server (fast: every connection is cut).
    pub fn restart_server(&self) {
        let dir = self
            .own_server
            .as_ref()
            .expect("only a server of the test's own is restarted");
        let output = Command::new(crate::support::repo().join("scripts/postgres"))
            .arg("restart")
            .arg(dir)
            .output()
            .expect("scripts/postgres runs");
        assert!(
            output.status.success(),
            "scripts/postgres restart: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn create(suite_server: Option<String>) -> ScratchDatabase {
        let (server, own_server) = match suite_server {
            Some(url) => (url, None),
            None => {
                // Under /tmp itself: the server's own user must reach the folder.
                let dir = std::env::temp_dir().join(format!(
                    "hologuide-pg-test.{}",
                    uuid::Uuid::new_v4().simple()
                ));
                let output = Command::new(crate::support::repo().join("scripts/postgres"))
                    .arg("start")
                    .arg(&dir)
                    .output()
                    .expect("scripts/postgres runs");
                assert!(
                    output.status.success(),
                    "scripts/postgres start: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                let url = String::from_utf8(output.stdout)
                    .expect("a URL")
                    .trim()
                    .to_owned();
                (url, Some(dir))
            }
        };
        let name = format!("hg_scratch_{}", uuid::Uuid::new_v4().simple());
        let mut client = ::postgres::Client::connect(&server, ::postgres::NoTls)
            .expect("the test PostgreSQL server answers");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("creating a scratch database");
        let (base, _) = server.rsplit_once('/').expect("a URL ending in /DATABASE");
        ScratchDatabase {
            url: format!("{base}/{name}"),
            own_server,
        }
    }

    /// A statement's single BIGINT answer (a count), read from the database itself.
    pub fn count(&self, sql: &str) -> i64 {
        let mut client = ::postgres::Client::connect(&self.url, ::postgres::NoTls).unwrap();
        client.query_one(sql, &[]).unwrap().get(0)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.own_server {
            let _ = Command::new(crate::support::repo().join("scripts/postgres"))
                .arg("stop")
                .arg(dir)
                .output();
        }
    }
}
