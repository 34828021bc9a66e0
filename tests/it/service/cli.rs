//! The admin command line: `--json` output, exit codes, refusals that say why.

use super::*;

const EXIT_INVALID: i32 = 2;

fn data_with_users() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    admin_json(&data, &["init"]);
    add_user(&data, "admin", "admin", &[]);
    add_user(&data, "alice", "operator", &[]);
    (dir, data)
}

#[test]
fn adding_a_user_twice_is_refused_with_exit_code_2() {
    let (_dir, data) = data_with_users();
    let output = admin(
        &data,
        &["user", "add", "alice", "--password", "another-password"],
    );
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
}

#[test]
fn a_password_is_read_from_standard_input() {
    use std::io::Write;
    let (_dir, data) = data_with_users();
    let mut child = server_cli_on(&data)
        .args([
            "user",
            "add",
            "carol",
            "--role",
            "author",
            "--password-stdin",
            "--json",
            "--data",
        ])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"carols-password\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let user: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(user["role"], "author");
    let server = Server::start(&data, &[]);
    let response = client()
        .post(server.url("/v1/session"))
        .json(&serde_json::json!({ "username": "carol", "password": "carols-password", "device_id": "d" }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[test]
fn publishing_an_invalid_package_lists_the_problem_and_exits_2() {
    let (_dir, data) = data_with_users();
    let broken = crate::support::data("broken/asset-escapes-package");
    let output = admin(
        &data,
        &[
            "guide",
            "publish",
            broken.to_str().unwrap(),
            "--as",
            "admin",
        ],
    );
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    assert!(String::from_utf8_lossy(&output.stderr).contains("path-escapes-package"));
    assert_eq!(admin_json(&data, &["stats"])["versions"], 0);
}

#[test]
fn an_operator_cannot_publish_from_the_command_line_either() {
    let (_dir, data) = data_with_users();
    let demo = repo().join("assets/demo");
    let output = admin(
        &data,
        &["guide", "publish", demo.to_str().unwrap(), "--as", "alice"],
    );
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    assert!(String::from_utf8_lossy(&output.stderr).contains("may not publish"));
}

#[test]
fn grant_revoke_deactivate_and_profiles_work_from_the_command_line() {
    let (_dir, data) = data_with_users();
    let demo = repo().join("assets/demo");
    let manifest = admin_json(
        &data,
        &["guide", "publish", demo.to_str().unwrap(), "--as", "admin"],
    );
    assert_eq!(manifest["version"], 1);
    let grants = admin_json(&data, &["guide", "grant", DEMO_ID, "--group", "line-1"]);
    assert_eq!(
        grants,
        serde_json::json!([{ "kind": "group", "name": "line-1" }])
    );
    let grants = admin_json(&data, &["guide", "revoke", DEMO_ID, "--group", "line-1"]);
    assert_eq!(grants, serde_json::json!([]));
    let output = admin(&data, &["guide", "revoke", DEMO_ID, "--group", "line-1"]);
    assert_eq!(
        output.status.code(),
        Some(EXIT_INVALID),
        "nothing to revoke"
    );
    let summary = admin_json(&data, &["guide", "deactivate", DEMO_ID]);
    assert_eq!(summary["active"], false);
    let summary = admin_json(&data, &["guide", "reactivate", DEMO_ID]);
    assert_eq!(summary["active"], true);

    let profile = admin_json(
        &data,
        &[
            "profile",
            "create",
            "night",
            "--guide",
            DEMO_ID,
            "--description",
            "Night shift",
        ],
    );
    assert_eq!(profile["guide_ids"], serde_json::json!([DEMO_ID]));
    admin_json(&data, &["profile", "create", "day"]);
    admin_json(&data, &["profile", "add-member", "night", "alice"]);
    let output = admin(&data, &["profile", "add-member", "day", "alice"]);
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("'night'"),
        "S4 names the first profile"
    );
    let updated = admin_json(
        &data,
        &["profile", "update", "night", "--modified-within-days", "30"],
    );
    assert_eq!(updated["modified_within_days"], 30);
    assert_eq!(updated["members"], serde_json::json!(["alice"]));
    let list = admin_json(&data, &["profile", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    admin_json(&data, &["profile", "delete", "day"]);
    assert_eq!(
        admin_json(&data, &["profile", "list"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn serve_refuses_a_folder_that_was_never_initialised() {
    let dir = tempfile::tempdir().unwrap();
    let output = admin(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    assert!(String::from_utf8_lossy(&output.stderr).contains("init"));
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let (_dir, data) = data_with_users();
    let server = Server::start(&data, &[]);
    let response = client().get(server.url("/v1/health")).send().unwrap();
    assert_eq!(response.status(), 200);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

/// The benchmark runs end to end and stops by itself; the numbers are for people, not asserted.
#[test]
fn bench_measures_requests_and_blob_throughput_and_stops_by_itself() {
    let output = server_cli()
        .args([
            "bench",
            "--seconds",
            "0.3",
            "--clients",
            "4",
            "--blob-mib",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["measurement"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "GET /v1/guides",
            "POST /v1/session",
            "POST /v1/session busy (503)",
            "GET /v1/blobs/{sha256}",
            "plain file copy",
            "blob download / file copy"
        ]
    );
    // Every rate was measured; busy refusals happen only when the clients outnumber the
    // password pool and its queue.
    assert!(rows.as_array().unwrap().iter().all(|r| {
        let value = r["value"].as_f64().unwrap();
        value > 0.0 || (r["measurement"] == "POST /v1/session busy (503)" && value == 0.0)
    }));
}

/// N4's comparison: the same requests on SQLite, PostgreSQL and two PostgreSQL instances.
#[test]
fn bench_with_a_database_compares_sqlite_with_one_and_two_postgres_instances() {
    let database = super::database::ScratchDatabase::new();
    let output = server_cli()
        .args([
            "bench",
            "--seconds",
            "0.3",
            "--clients",
            "4",
            "--blob-mib",
            "1",
            "--json",
            "--database",
            &database.url,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Value = serde_json::from_slice(&output.stdout).unwrap();
    let value_of = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["measurement"] == name)
            .unwrap_or_else(|| panic!("{name} in {rows:#}"))["value"]
            .as_f64()
            .unwrap()
    };
    for what in ["GET /v1/guides", "GET manifest", "GET blob"] {
        for store in ["SQLite ×1", "PostgreSQL ×1", "PostgreSQL ×2"] {
            assert!(
                value_of(&format!("{what}, {store}")) > 0.0,
                "{what}, {store}"
            );
        }
        assert!(value_of(&format!("{what}: PostgreSQL ×1 / SQLite")) > 0.0);
    }
    assert!(value_of("GET manifest: PostgreSQL ×2 / ×1") > 0.0);
    // The benchmark's own database is gone again.
    assert_eq!(
        database.count("SELECT COUNT(*) FROM pg_database WHERE datname LIKE 'hg_bench_%'"),
        0
    );
}

#[test]
fn a_new_user_joins_the_only_organisation_unless_there_are_several() {
    let (_dir, data) = data_with_users();
    let carol = admin_json(
        &data,
        &["user", "add", "carol", "--password", "carols-password"],
    );
    assert_eq!(carol["organisation"], DEMO_ORG);
    add_user_of(&data, "rival-works", "rival", "admin", &[]);
    let output = admin(
        &data,
        &["user", "add", "dave", "--password", "daves-password"],
    );
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--organisation") && stderr.contains("rival-works"),
        "{stderr}"
    );
}
