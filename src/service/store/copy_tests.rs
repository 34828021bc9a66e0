//! Tests of `store::copy` that need no PostgreSQL (the copy itself: tests/it/service/migrate.rs).

use super::*;

#[test]
fn every_table_of_the_sqlite_schema_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("service.db")).unwrap();
    let tables: Vec<String> = store
        .read(|c| {
            let mut statement =
                c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
            let names = statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(names)
        })
        .unwrap();
    let mut copied: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    copied.sort_unstable();
    assert_eq!(
        tables, copied,
        "a table added to the schema must be added to TABLES"
    );
    // And every column of each, under its SQLite name.
    for table in TABLES {
        let columns: Vec<String> = store
            .read(|c| {
                let mut statement = c.prepare(&format!("PRAGMA table_info({})", table.name))?;
                let names = statement
                    .query_map([], |row| row.get(1))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(names)
            })
            .unwrap();
        let listed: Vec<&str> = table.columns.iter().map(|c| c.sqlite_name).collect();
        assert_eq!(columns, listed, "columns of {}", table.name);
    }
}

#[test]
fn the_digest_does_not_depend_on_row_order_but_on_every_value() {
    let a = vec![Cell::Int(1), Cell::Text("a".into())];
    let b = vec![Cell::Int(2), Cell::Null(Kind::Text)];
    let (mut one, mut other) = (TableDigest::default(), TableDigest::default());
    one.add(&a);
    one.add(&b);
    other.add(&b);
    other.add(&a);
    assert_eq!(one, other);
    let mut changed = TableDigest::default();
    changed.add(&a);
    changed.add(&[Cell::Int(2), Cell::Text(String::new())]);
    assert_ne!(one, changed, "NULL and an empty text differ");
}
