//! `hologuide-server migrate`: a plant's SQLite folder into PostgreSQL (N4), on real servers.
//! The source is always a SQLite folder and the target a new PostgreSQL database, whichever
//! store the rest of the suite runs on.

use super::database::ScratchDatabase;
use super::*;

/// The server binary on the folder's own SQLite database, whatever the suite runs on.
fn on_sqlite() -> Command {
    let mut command = server_cli();
    command.env_remove("HOLOGUIDE_DATABASE_URL");
    command
}

fn migrate(from: &Path, to: &str, blobs: &Path) -> Output {
    on_sqlite()
        .args(["migrate", "--json", "--to", to, "--from"])
        .arg(from)
        .arg("--blobs")
        .arg(blobs)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn rows_of(report: &Value, table: &str) -> u64 {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("{table} in {report:#}"))["rows"]
        .as_u64()
        .unwrap()
}

/// A SQLite folder as a plant has it after some use: users, the demo guide granted to alice,
/// alice signed in on her headset with one result uploaded. Returns alice's refresh token.
fn used_plant(plant: &Path) -> Value {
    let admin = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--data", plant.to_str().unwrap()]);
        json_of(on_sqlite(), &all)
    };
    admin(&["init"]);
    for (name, role) in [
        ("admin", "admin"),
        ("author", "author"),
        ("alice", "operator"),
    ] {
        let password = password(name);
        admin(&[
            "user",
            "add",
            name,
            "--role",
            role,
            "--organisation",
            DEMO_ORG,
            "--password",
            &password,
        ]);
    }
    let demo = repo().join("assets/demo");
    admin(&["guide", "publish", demo.to_str().unwrap(), "--as", "author"]);
    admin(&["guide", "grant", DEMO_ID, "--user", "alice"]);
    let server = Server::start_with(on_sqlite(), plant, "127.0.0.1:0", &[]);
    let http = client();
    let session: Value = http
        .post(server.url("/v1/session"))
        .json(&json!({ "username": "alice", "password": password("alice"), "device_id": "hl2-7" }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let results = json!({ "results": [{ "id": "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "guide_id": DEMO_ID, "version": 1, "step_id": "lock-out",
        "completed_at": "2026-11-24T08:05:00Z", "value": "12.5 Nm" }] });
    let response = http
        .post(server.url("/v1/results"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&results)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    server.terminate();
    session["refresh_token"].clone()
}

#[test]
fn a_plant_folder_migrated_to_postgres_serves_the_same_guides_tokens_and_results() {
    let dir = tempfile::tempdir().unwrap();
    let (plant, shared_blobs, instance) = (
        dir.path().join("plant"),
        dir.path().join("shared-blobs"),
        dir.path().join("instance"),
    );
    let refresh_token = used_plant(&plant);
    let database = ScratchDatabase::new();

    let output = migrate(&plant, &database.url, &shared_blobs);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows_of(&report, "users"), 3);
    assert_eq!(rows_of(&report, "guides"), 1);
    assert_eq!(rows_of(&report, "sessions"), 1);
    assert_eq!(rows_of(&report, "results"), 1);
    assert_eq!(
        report["blobs"], 7,
        "the demo guide's seven models: {report:#}"
    );
    assert_eq!(report["blobs_copied"], 7);

    // The same counts on both sides, read by the service itself.
    std::fs::create_dir_all(&instance).unwrap();
    let sqlite_stats = json_of(on_sqlite(), &["stats", "--data", plant.to_str().unwrap()]);
    let postgres_stats = json_of(
        on_postgres(&database.url),
        &[
            "stats",
            "--data",
            instance.to_str().unwrap(),
            "--blobs",
            shared_blobs.to_str().unwrap(),
        ],
    );
    assert_eq!(sqlite_stats, postgres_stats);

    // An instance on PostgreSQL and the shared blobs: alice's headset refreshes the token it
    // had before the move (only its hash was copied), sees her guide, and every blob arrives
    // whole.
    let server = Server::start_with(
        on_postgres(&database.url),
        &instance,
        "127.0.0.1:0",
        &["--blobs", shared_blobs.to_str().unwrap()],
    );
    let http = client();
    let response = http
        .post(server.url("/v1/session/refresh"))
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .unwrap();
    let (status, pair) = status_json(response);
    assert_eq!(status, 200, "{pair:#}");
    let token = pair["access_token"].as_str().unwrap();
    let (status, manifest) = status_json(
        http.get(server.url(&format!("/v1/guides/{DEMO_ID}/versions/1")))
            .bearer_auth(token)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{manifest:#}");
    for asset in manifest["assets"].as_array().unwrap() {
        let sha = asset["sha256"].as_str().unwrap();
        let bytes = http
            .get(server.url(&format!("/v1/blobs/{sha}")))
            .bearer_auth(token)
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        assert_eq!(sha256_hex(&bytes), sha);
    }
    let (status, results) = status_json(
        http.get(server.url("/v1/me/results"))
            .bearer_auth(token)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{results:#}");
    assert!(results.to_string().contains("12.5 Nm"), "{results:#}");
    drop(server);

    // Again: nothing to copy, the same verified rows.
    let again = migrate(&plant, &database.url, &shared_blobs);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["blobs_copied"], 0);
    assert_eq!(again["tables"], report["tables"]);
}

#[test]
fn a_migration_into_a_database_that_holds_other_data_or_from_a_damaged_blob_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (plant, shared_blobs) = (dir.path().join("plant"), dir.path().join("shared-blobs"));
    used_plant(&plant);

    // A database another service already uses (a user the folder does not have).
    let database = ScratchDatabase::new();
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    json_of(
        on_postgres(&database.url),
        &["init", "--data", other.to_str().unwrap()],
    );
    let password = password("zoe");
    json_of(
        on_postgres(&database.url),
        &[
            "user",
            "add",
            "zoe",
            "--role",
            "operator",
            "--organisation",
            "elsewhere",
            "--password",
            &password,
            "--data",
            other.to_str().unwrap(),
        ],
    );
    let output = migrate(&plant, &database.url, &shared_blobs);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("table users holds 4 rows")
            && message.contains("the SQLite folder holds 3")
            && message.contains("nothing was committed"),
        "{message}"
    );
    assert_eq!(database.count("SELECT COUNT(*) FROM users"), 1, "only zoe");
    assert_eq!(database.count("SELECT COUNT(*) FROM guides"), 0);

    // A blob damaged in the folder: refused before any row is written.
    let fresh = ScratchDatabase::new();
    let blob = walk_files(&plant.join("blobs"))
        .into_iter()
        .find(|path| !path.starts_with(plant.join("blobs/tmp")))
        .expect("the plant holds blobs");
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let output = migrate(&plant, &fresh.url, &dir.path().join("fresh-blobs"));
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    let name = blob.file_name().unwrap().to_str().unwrap();
    assert!(
        message.contains("is damaged") && message.contains(name),
        "{message}"
    );
    assert_eq!(fresh.count("SELECT COUNT(*) FROM users"), 0);
}

#[test]
fn link_keys_are_sealed_before_the_copy_and_sign_on_postgres_only_with_the_folders_key_file() {
    use super::signed_links::{key_of, verifies};
    use hologuide::guide::link_trust::SigningKey;

    let dir = tempfile::tempdir().unwrap();
    let (plant, shared_blobs, instance) = (
        dir.path().join("plant"),
        dir.path().join("shared-blobs"),
        dir.path().join("instance"),
    );
    let admin = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--data", plant.to_str().unwrap()]);
        json_of(on_sqlite(), &all)
    };
    admin(&["init"]);
    let password = password("author");
    admin(&[
        "user",
        "add",
        "author",
        "--role",
        "author",
        "--organisation",
        DEMO_ORG,
        "--password",
        &password,
    ]);
    let demo = repo().join("assets/demo");
    admin(&["guide", "publish", demo.to_str().unwrap(), "--as", "author"]);
    // A folder from before keys were sealed: its key in clear (written on SQLite: the source
    // is a SQLite folder whatever store the suite runs on).
    let pkcs8 = SigningKey::generate().unwrap();
    let key = {
        let key = SigningKey::from_pkcs8(&pkcs8).unwrap();
        rusqlite::Connection::open(plant.join(hologuide::service::DATABASE_FILE))
            .unwrap()
            .execute(
                "INSERT INTO link_keys (organisation, key_id, public_key, private_key, created_at)
                 VALUES (?1, ?2, ?3, ?4, 1790000000)",
                rusqlite::params![DEMO_ORG, key.key_id(), key.public_key(), pkcs8],
            )
            .unwrap();
        key
    };
    let database = ScratchDatabase::new();

    let output = migrate(&plant, &database.url, &shared_blobs);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let secret = plant.join("secret.key");
    assert_eq!(report["secret_key_file"], secret.to_str().unwrap());
    assert_eq!(rows_of(&report, "link_keys"), 1);
    let sqlite_private: Vec<u8> =
        rusqlite::Connection::open(plant.join(hologuide::service::DATABASE_FILE))
            .unwrap()
            .query_row("SELECT private_key FROM link_keys", [], |r| r.get(0))
            .unwrap();
    let postgres_private: Vec<u8> = ::postgres::Client::connect(&database.url, ::postgres::NoTls)
        .unwrap()
        .query_one("SELECT private_key FROM link_keys", &[])
        .unwrap()
        .get(0);
    assert!(
        SigningKey::from_pkcs8(&sqlite_private).is_err(),
        "sealed in the folder first"
    );
    assert_eq!(postgres_private, sqlite_private, "copied as it is");

    // An instance given the folder's key file signs with the key; one with a key file of its
    // own (the default, made in its new data folder) is refused.
    std::fs::create_dir_all(&instance).unwrap();
    let link = |secret_args: &[&str]| {
        on_postgres(&database.url)
            .args(["guide", "link", DEMO_ID, "--json", "--data"])
            .arg(&instance)
            .args(["--blobs", shared_blobs.to_str().unwrap()])
            .args(secret_args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let output = link(&[]);
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains(&format!(
            "the link keys cannot be opened with {}: it is not the secret key file",
            instance.join("secret.key").display()
        )),
        "{message}"
    );
    let output = link(&["--secret-key-file", secret.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let signed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let signed = signed["link"].as_str().unwrap();
    assert_eq!(key_of(signed), key.key_id());
    assert!(verifies(signed, key.public_key()));
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}
