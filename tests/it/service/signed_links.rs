//! N2 on the service: each organisation's link keys, stickers' links signed with the newest,
//! rotation and retirement, and what a device is given with its session — its own
//! organisation's public keys only (N4), never a private key. The private keys are stored
//! sealed with the secret key file: never in clear in the database, usable only with that file.

use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

use hologuide::guide::GuideLink;
use hologuide::guide::link_trust::{LinkKey, LinkTrust, SigningKey};

use super::*;

const RIVAL_ORG: &str = "rival-works";

fn link_of(fixture: &Fixture, args: &[&str]) -> String {
    let mut all = vec!["guide", "link", DEMO_ID];
    all.extend_from_slice(args);
    admin_json(&fixture.data(), &all)["link"]
        .as_str()
        .expect("a link")
        .to_owned()
}

pub(super) fn key_of(link: &str) -> String {
    link.split("k=").nth(1).unwrap()[..16].to_owned()
}

#[test]
fn a_signed_link_names_the_signing_key_and_devices_get_their_organisations_keys_with_the_session() {
    let fixture = Fixture::new();
    add_user_of(&fixture.data(), RIVAL_ORG, "rival", "operator", &[]);
    admin_json(&fixture.data(), &["links", "rotate", "--org", RIVAL_ORG]);

    let first = link_of(&fixture, &["--step", "3", "--anchor", "nameplate"]);
    assert!(
        first.starts_with(&format!(
            "hologuide://{DEMO_ORG}/g/{DEMO_ID}/s/3?anchor=nameplate&k="
        )),
        "{first}"
    );
    let parsed = hologuide::guide::GuideLink::parse(&first).expect("a valid link");
    let signing = key_of(&first);

    let session = fixture.session("alice", "tablet-1");
    let keys = session["link_trust"]["keys"]
        .as_array()
        .expect("keys")
        .clone();
    assert_eq!(keys.len(), 1, "only hologuide-demo's key: {session:#}");
    assert_eq!(keys[0]["organisation"], DEMO_ORG);
    assert_eq!(keys[0]["key_id"], signing.as_str());
    assert_eq!(keys[0]["retired"], false);
    assert!(keys[0].get("private_key").is_none());
    let text = session.to_string();
    assert!(!text.contains("private"), "{text}");

    // The device's check, with what the session gave it.
    let public = hex::decode(keys[0]["public_key"].as_str().unwrap()).unwrap();
    let trust = hologuide::guide::link_trust::LinkTrust {
        keys: vec![hologuide::guide::link_trust::LinkKey {
            organisation: DEMO_ORG.into(),
            key_id: signing.clone(),
            public_key: public,
            retired: false,
        }],
        signatures_required: Vec::new(),
    };
    assert_eq!(trust.check(&parsed), Ok(()));

    // Rotation: new stickers use the new key, the old one stays valid until retired.
    let rotated = admin_json(&fixture.data(), &["links", "rotate", "--org", DEMO_ORG]);
    let second = link_of(&fixture, &[]);
    assert_eq!(key_of(&second), rotated["signing_key"].as_str().unwrap());
    admin_json(
        &fixture.data(),
        &["links", "retire", &signing, "--org", DEMO_ORG],
    );
    admin_json(
        &fixture.data(),
        &["links", "require", "signed", "--org", DEMO_ORG],
    );
    let session = fixture.session("alice", "tablet-1");
    let keys = session["link_trust"]["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2, "{session:#}");
    let retired: Vec<(&str, bool)> = keys
        .iter()
        .map(|k| {
            (
                k["key_id"].as_str().unwrap(),
                k["retired"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(retired.contains(&(signing.as_str(), true)), "{retired:?}");
    assert_eq!(
        session["link_trust"]["signatures_required"],
        serde_json::json!([DEMO_ORG])
    );

    // The rival organisation's device sees only its own key.
    let rival = fixture.session("rival", "rival-tablet");
    let keys = rival["link_trust"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["organisation"], RIVAL_ORG);
    assert_eq!(
        rival["link_trust"]["signatures_required"],
        serde_json::json!([])
    );
}

#[test]
fn a_sticker_for_a_step_or_anchor_the_guide_lacks_is_refused_with_a_clear_error() {
    let fixture = Fixture::new();
    for (args, expected) in [
        (vec!["--step", "99"], "has no step 99 (it has 10)"),
        (vec!["--anchor", "back"], "has no anchor 'back'"),
    ] {
        let mut all = vec!["guide", "link", DEMO_ID];
        all.extend(args);
        let output = admin(&fixture.data(), &all);
        assert!(!output.status.success());
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(log.contains(expected), "{log}");
    }
    let output = admin(
        &fixture.data(),
        &["links", "retire", "0123456789abcdef", "--org", DEMO_ORG],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no link key 0123456789abcdef"));
}

/// What precedes the 32-byte seed in an ed25519 PKCS#8 document: the algorithm's OID
/// (1.3.101.112), then an OCTET STRING holding the seed's OCTET STRING. Found in a store only
/// where a private key lies in clear.
const PKCS8_SEED_PREFIX: [u8; 9] = [0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// Whether `needle` is among every byte `data`'s store holds, as it is or (PostgreSQL's text
/// form of bytea) as hex.
fn stored_anywhere(data: &Path, needle: &[u8]) -> bool {
    let stored = super::database::stored_bytes(data);
    let hex = hex::encode(needle).into_bytes();
    stored.windows(needle.len()).any(|w| w == needle)
        || stored.windows(hex.len()).any(|w| w == hex.as_slice())
}

/// (organisation, key id, private_key column) of every link key, read from the database itself.
fn stored_private_keys(data: &Path) -> Vec<(String, String, Vec<u8>)> {
    const SQL: &str =
        "SELECT organisation, key_id, private_key FROM link_keys ORDER BY organisation, key_id";
    match super::database::for_folder(data) {
        Some(url) => ::postgres::Client::connect(&url, ::postgres::NoTls)
            .unwrap()
            .query(SQL, &[])
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect(),
        None => rusqlite::Connection::open(data.join(hologuide::service::DATABASE_FILE))
            .unwrap()
            .prepare(SQL)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap(),
    }
}

/// A key row as a build before sealing wrote it: the PKCS#8 document in clear.
fn insert_key_in_clear(data: &Path, organisation: &str, pkcs8: &[u8]) -> SigningKey {
    let key = SigningKey::from_pkcs8(pkcs8).unwrap();
    let (key_id, public) = (key.key_id().to_owned(), key.public_key().to_vec());
    const SQL: &str = "INSERT INTO link_keys (organisation, key_id, public_key, private_key,
                                                   created_at, retired_at)
                            VALUES (?1, ?2, ?3, ?4, 1790000000, NULL)";
    match super::database::for_folder(data) {
        Some(url) => {
            ::postgres::Client::connect(&url, ::postgres::NoTls)
                .unwrap()
                .execute(
                    &SQL.replace('?', "$"),
                    &[&organisation, &key_id, &public, &pkcs8],
                )
                .unwrap();
        }
        None => {
            rusqlite::Connection::open(data.join(hologuide::service::DATABASE_FILE))
                .unwrap()
                .execute(SQL, rusqlite::params![organisation, key_id, public, pkcs8])
                .unwrap();
        }
    }
    key
}

/// Whether `link` verifies with `public_key`, as a device checks it.
pub(super) fn verifies(link: &str, public_key: &[u8]) -> bool {
    let trust = LinkTrust {
        keys: vec![LinkKey {
            organisation: DEMO_ORG.into(),
            key_id: key_of(link),
            public_key: public_key.to_vec(),
            retired: false,
        }],
        signatures_required: Vec::new(),
    };
    trust.check(&GuideLink::parse(link).unwrap()).is_ok()
}

/// The public key the session gives alice's device for `key_id`.
fn public_key_of(fixture: &Fixture, key_id: &str) -> Vec<u8> {
    let session = fixture.session("alice", "tablet-1");
    let key = session["link_trust"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == key_id)
        .unwrap_or_else(|| panic!("{key_id} in {session:#}"))
        .clone();
    hex::decode(key["public_key"].as_str().unwrap()).unwrap()
}

/// Runs a command that must fail (within a minute: a `serve` that starts instead is killed);
/// its exit code and standard error.
fn refused(mut command: Command) -> (Option<i32>, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the command ran on instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code(), stderr)
}

/// `serve` on `data` with `extra` arguments, which must refuse to start.
fn serve_refused(data: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut command = server_cli_on(data);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra);
    refused(command)
}

/// A 0600 file of 32 random bytes: a secret key file other than the folder's.
fn other_key_file(dir: &Path) -> PathBuf {
    let path = dir.join("other.key");
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn private_link_keys_are_stored_sealed_and_a_restart_with_the_same_key_file_signs_with_them() {
    let mut fixture = Fixture::new();
    let secret = fixture.data().join("secret.key");
    let metadata = std::fs::metadata(&secret).expect("serve made the default secret key file");
    assert_eq!(metadata.len(), 32);
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    let before = std::fs::read(&secret).unwrap();

    let first = link_of(&fixture, &["--step", "3"]);
    let public = public_key_of(&fixture, &key_of(&first));
    assert!(verifies(&first, &public));
    let keys = stored_private_keys(&fixture.data());
    assert_eq!(keys.len(), 1);
    let (_, _, private) = &keys[0];
    assert!(
        SigningKey::from_pkcs8(private).is_err(),
        "the stored column is not a key"
    );
    assert_eq!(private[0], 1, "sealed, format version 1");
    assert!(
        !stored_anywhere(&fixture.data(), &PKCS8_SEED_PREFIX),
        "a private key lies in clear in the store"
    );

    fixture.restart(&[]);
    let again = link_of(&fixture, &["--step", "3"]);
    assert_eq!(key_of(&again), key_of(&first));
    assert!(verifies(&again, &public), "signed with the old key");
    assert_eq!(std::fs::read(&secret).unwrap(), before, "the file is kept");
}

#[test]
fn a_service_given_another_key_file_refuses_to_sign_by_name_and_the_store_is_unchanged() {
    let mut fixture = Fixture::new();
    let first = link_of(&fixture, &[]);
    let public = public_key_of(&fixture, &key_of(&first));
    let stored = stored_private_keys(&fixture.data());
    let other = other_key_file(fixture.dir.path());
    let other_arg = other.to_str().unwrap();
    let expected = format!(
        "the link keys cannot be opened with {other_arg}: it is not the secret key file they \
         were sealed with"
    );

    let (code, stderr) = serve_refused(&fixture.data(), &["--secret-key-file", other_arg]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(&expected), "{stderr}");
    for args in [
        vec!["guide", "link", DEMO_ID],
        vec!["links", "rotate", "--org", DEMO_ORG],
    ] {
        let data = fixture.data();
        let mut command = server_cli_on(&data);
        command
            .args(&args)
            .args(["--secret-key-file", other_arg, "--data"])
            .arg(&data);
        let (code, stderr) = refused(command);
        assert_eq!(code, Some(1), "{args:?}");
        assert!(stderr.contains(&expected), "{args:?}: {stderr}");
    }
    assert_eq!(
        stored_private_keys(&fixture.data()),
        stored,
        "nothing written"
    );

    // The right file again: the service starts and signs with the same key.
    fixture.restart(&[]);
    let again = link_of(&fixture, &[]);
    assert_eq!(key_of(&again), key_of(&first));
    assert!(verifies(&again, &public));
}

#[test]
fn a_key_file_others_may_read_of_the_wrong_length_or_missing_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    admin_json(&data, &["init"]);
    let default = data.join("secret.key");
    std::fs::write(&default, [7u8; 32]).unwrap();
    std::fs::set_permissions(&default, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stderr) = serve_refused(&data, &[]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!(
            "the secret key file {} has mode 644",
            default.display()
        )),
        "{stderr}"
    );

    let short = dir.path().join("short.key");
    std::fs::write(&short, [7u8; 16]).unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, stderr) = serve_refused(&data, &["--secret-key-file", short.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!(
            "the secret key file {} holds 16 bytes",
            short.display()
        )),
        "{stderr}"
    );

    let missing = dir.path().join("missing.key");
    let (_, stderr) = serve_refused(&data, &["--secret-key-file", missing.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!(
            "the secret key file {} does not exist",
            missing.display()
        )),
        "{stderr}"
    );
    assert!(!missing.exists(), "a given file is never made");
    assert_eq!(
        std::fs::read(&default).unwrap(),
        [7u8; 32],
        "a refused file is left as it is"
    );
}

#[test]
fn a_key_stored_in_clear_before_sealing_is_sealed_at_start_and_keeps_signing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    admin_json(&data, &["init"]);
    add_user(&data, "author", "author", &[]);
    let demo = repo().join("assets/demo");
    admin_json(
        &data,
        &["guide", "publish", demo.to_str().unwrap(), "--as", "author"],
    );
    // Two organisations' keys: the first row's old bytes would stay in the page's free space
    // if the database did not erase them (the second's are overwritten by the row it becomes).
    let pkcs8 = SigningKey::generate().unwrap();
    let rival_pkcs8 = SigningKey::generate().unwrap();
    let seeds = [&pkcs8[16..48], &rival_pkcs8[16..48]];
    let key = insert_key_in_clear(&data, DEMO_ORG, &pkcs8);
    insert_key_in_clear(&data, RIVAL_ORG, &rival_pkcs8);
    for seed in seeds {
        assert!(
            stored_anywhere(&data, seed),
            "the scan sees the keys in clear"
        );
    }

    let server = Server::start(&data, &[]);
    let keys = stored_private_keys(&data);
    assert_eq!(keys.len(), 2);
    for (_, _, private) in &keys {
        assert!(SigningKey::from_pkcs8(private).is_err(), "sealed at start");
    }
    let link = admin_json(&data, &["guide", "link", DEMO_ID, "--step", "2"])["link"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(key_of(&link), key.key_id(), "the same key signs");
    assert!(verifies(&link, key.public_key()));
    assert!(server.terminate().success());

    for seed in seeds {
        assert!(
            !stored_anywhere(&data, seed),
            "a seed is left in the database files"
        );
    }
    assert!(!stored_anywhere(&data, &PKCS8_SEED_PREFIX));
    // Started again, nothing is left to seal: the sealed bytes stay as they are.
    let server = Server::start(&data, &[]);
    assert_eq!(stored_private_keys(&data), keys);
    drop(server);
}
