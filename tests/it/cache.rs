//! The encrypted offline cache on real files and through the real binary: what is on disk, the
//! device secret, damaged databases, a writer killed with SIGKILL (F6, F14, issue 8).

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hologuide::cache::keys::key_fingerprint;
use hologuide::cache::package::{PackagedVersion, from_package};
use hologuide::cache::{self, FileKeyStore, KeyStore, Store};
use hologuide::clock::SystemClock;

use crate::support::{hologuide, run, stderr, stdout};

fn demo(version: u32) -> PackagedVersion {
    from_package(&hologuide::demo::load().unwrap(), version, None).unwrap()
}

fn open(data_dir: &Path, user: &str) -> Result<Store, cache::CacheError> {
    Store::open(
        data_dir,
        user,
        &FileKeyStore::in_data_dir(data_dir),
        Arc::new(SystemClock),
    )
}

fn store_demo(store: &Store, version: u32) {
    let packaged = demo(version);
    let writer = store.begin_version(packaged.version.clone()).unwrap();
    for (sha, bytes) in &packaged.blobs {
        writer.put_blob(sha, bytes).unwrap();
    }
    writer.commit().unwrap();
}

/// The database, its write-ahead log and any journal, as they are on disk now.
/// The database, its journals and its blob files (`<name>.blobs/` beside it).
fn files_on_disk(db: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = ["", "-wal", "-shm", "-journal"]
        .iter()
        .filter_map(|suffix| {
            let name = format!("{}{suffix}", db.display());
            fs::read(&name).ok().map(|bytes| (name, bytes))
        })
        .collect();
    if let Ok(entries) = fs::read_dir(db.with_extension("blobs")) {
        for entry in entries {
            let path = entry.unwrap().path();
            files.push((path.display().to_string(), fs::read(&path).unwrap()));
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_database_file_contains_none_of_the_guides_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), "alice").unwrap();
    store_demo(&store, 1);
    let guide = hologuide::demo::load().unwrap().guide;
    let mut secrets: Vec<String> = vec![guide.title.clone(), "alice".to_owned()];
    for position in guide.steps() {
        secrets.push(position.step.title.clone());
        // Bodies are long; a 24-character slice of each is enough to find them.
        secrets.push(position.step.body.chars().take(24).collect());
    }
    let packaged = demo(1);
    let glb = &packaged.blobs[0].1;
    let db = store.path().to_owned();
    let check = |moment: &str| {
        let files = files_on_disk(&db);
        assert!(
            files.iter().any(|(name, _)| name.contains(".blobs/")),
            "{moment}: the guide's files are searched too"
        );
        for (name, bytes) in &files {
            for text in &secrets {
                assert!(
                    !contains(bytes, text.as_bytes()),
                    "{moment}: {name} holds \"{text}\" in the clear"
                );
            }
            assert!(
                !contains(bytes, b"glTF"),
                "{moment}: {name} holds a GLB header"
            );
            assert!(
                !contains(bytes, &glb[100..132]),
                "{moment}: {name} holds model bytes"
            );
        }
    };
    // While open, most of it is still in the write-ahead log.
    check("open");
    drop(store);
    check("closed");
    // Control: the same data in a plain SQLite file is found by the same search, so the
    // search above would have seen it.
    let plain_path = dir.path().join("plain.db");
    let plain = Store::open_unencrypted_baseline(&plain_path, Arc::new(SystemClock)).unwrap();
    store_demo(&plain, 1);
    drop(plain);
    let plain_bytes: Vec<u8> = files_on_disk(&plain_path)
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect();
    assert!(
        secrets[2..]
            .iter()
            .all(|text| contains(&plain_bytes, text.as_bytes()))
    );
    assert!(contains(&plain_bytes, &glb[100..132]));
}

#[test]
fn the_file_key_store_creates_one_private_secret_atomically_and_reuses_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/device-secret");
    // Eight starts at once on a new device: every one must end up with the same secret.
    let fingerprints: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                scope.spawn(move || {
                    let secret = FileKeyStore::new(path).device_secret().unwrap();
                    key_fingerprint(&secret, "alice")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(fingerprints.iter().all(|f| *f == fingerprints[0]));
    let metadata = fs::metadata(&path).unwrap();
    assert_eq!(metadata.len(), 32);
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("device-secret")]);
    // Reused: a later start reads the same secret.
    let again = FileKeyStore::new(&path).device_secret().unwrap();
    assert_eq!(key_fingerprint(&again, "alice"), fingerprints[0]);
    // Permissions widened by hand are narrowed again.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    FileKeyStore::new(&path).device_secret().unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_damaged_device_secret_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device-secret");
    fs::write(&path, b"short").unwrap();
    let error = FileKeyStore::new(&path).device_secret().unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("is damaged (5 bytes, expected 32)"),
        "{message}"
    );
}

#[test]
fn a_cache_opened_with_another_device_secret_says_it_belongs_to_another_user_or_device() {
    let dir = tempfile::tempdir().unwrap();
    store_demo(&open(dir.path(), "alice").unwrap(), 1);
    // The same user's cache carried to another device: another secret.
    fs::write(dir.path().join("device-secret"), [42u8; 32]).unwrap();
    let output = run(hologuide()
        .args(["cache", "info", "--user", "alice", "--data-dir"])
        .arg(dir.path()));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("this cache belongs to another user or device"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("panicked"));
}

/// What a damaged file does: open or read fails with a clear message, or verify reports it;
/// never a panic. Then `cache clear` removes it and a fresh cache opens.
fn assert_damage_is_reported_and_clearable(dir: &Path, damage: &str) {
    let info = run(hologuide()
        .args(["cache", "info", "--user", "alice", "--data-dir"])
        .arg(dir));
    let verify = run(hologuide()
        .args(["cache", "verify", "--user", "alice", "--data-dir"])
        .arg(dir));
    for output in [&info, &verify] {
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{damage}: {}",
            stderr(output)
        );
        assert!(
            !stderr(output).contains("panicked"),
            "{damage}: {}",
            stderr(output)
        );
        // One message from us, no lines from SQLCipher's own logger.
        assert!(
            !stderr(output).contains("sqlcipher"),
            "{damage}: {}",
            stderr(output)
        );
    }
    assert_eq!(verify.status.code(), Some(1), "{damage}: verify passed");
    let said = format!("{}{}", stdout(&verify), stderr(&verify));
    assert!(
        said.contains("damaged") || said.contains("another user or device"),
        "{damage}: {said}"
    );
    // One state, one message: every kind of damage names the file and the way out, never
    // SQLite's own words.
    assert!(!said.contains("SQL logic error"), "{damage}: {said}");
    assert!(
        said.contains("hologuide cache clear") || said.contains("another user or device"),
        "{damage}: {said}"
    );
    let clear = run(hologuide()
        .args(["cache", "clear", "--user", "alice", "--data-dir"])
        .arg(dir));
    assert!(clear.status.success(), "{damage}: {}", stderr(&clear));
    assert!(stdout(&clear).contains("Removed the offline cache of 'alice'"));
    let fresh = open(dir, "alice").unwrap();
    assert!(fresh.list().unwrap().is_empty());
    assert!(fresh.verify().unwrap().is_sound());
}

/// The cache's page size (`cache::schema`).
const PAGE: usize = 65536;

#[test]
fn a_corrupt_database_gives_a_clear_error_and_cache_clear_still_works() {
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 5] = [
        // A page only a full read (verify) reaches: the other commands still work.
        ("one byte flipped in the last page", |db| {
            let mut bytes = fs::read(db).unwrap();
            let at = bytes.len() - PAGE / 2;
            bytes[at] ^= 0x01;
            fs::write(db, bytes).unwrap();
        }),
        ("garbage over page 1", |db| {
            let mut bytes = fs::read(db).unwrap();
            bytes[..PAGE].fill(0x5a);
            fs::write(db, bytes).unwrap();
        }),
        ("garbage over the pages after the first", |db| {
            let mut bytes = fs::read(db).unwrap();
            let len = bytes.len();
            assert!(len > 4 * PAGE, "the demo guide fills several pages");
            for (i, b) in bytes[PAGE..len].iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(31) ^ 0xa5;
            }
            fs::write(db, bytes).unwrap();
        }),
        ("truncated to half", |db| {
            let len = fs::metadata(db).unwrap().len();
            fs::File::options()
                .write(true)
                .open(db)
                .unwrap()
                .set_len(len / 2)
                .unwrap();
        }),
        ("truncated to 100 bytes", |db| {
            fs::File::options()
                .write(true)
                .open(db)
                .unwrap()
                .set_len(100)
                .unwrap();
        }),
    ];
    for (name, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), "alice").unwrap();
        store_demo(&store, 1);
        let db = store.path().to_owned();
        drop(store);
        damage(&db);
        assert_damage_is_reported_and_clearable(dir.path(), name);
    }
}

#[test]
fn cache_clear_removes_one_guide_or_every_cache() {
    let dir = tempfile::tempdir().unwrap();
    store_demo(&open(dir.path(), "alice").unwrap(), 1);
    store_demo(&open(dir.path(), "bob").unwrap(), 1);
    let guide = hologuide::demo::GUIDE_ID.to_string();
    let cleared = run(hologuide()
        .args([
            "cache",
            "clear",
            "--user",
            "alice",
            "--guide",
            &guide,
            "--json",
            "--data-dir",
        ])
        .arg(dir.path()));
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    let value: serde_json::Value = serde_json::from_str(&stdout(&cleared)).unwrap();
    assert_eq!(value["removed"], true);
    let info = run(hologuide()
        .args(["cache", "info", "--user", "alice", "--data-dir"])
        .arg(dir.path()));
    assert!(
        stdout(&info).contains("No guides are available offline."),
        "{}",
        stdout(&info)
    );
    assert_eq!(open(dir.path(), "bob").unwrap().list().unwrap().len(), 1);
    let all = run(hologuide()
        .args(["cache", "clear", "--all", "--data-dir"])
        .arg(dir.path()));
    assert!(all.status.success(), "{}", stderr(&all));
    assert!(stdout(&all).contains("Removed the offline caches of 2 account(s)."));
    let info = run(hologuide()
        .args(["cache", "info", "--data-dir"])
        .arg(dir.path()));
    assert!(
        stdout(&info).contains("No offline cache on this device"),
        "{}",
        stdout(&info)
    );
}

/// Small reproducible random numbers for the kill delays (xorshift).
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn a_writer_killed_at_random_points_leaves_the_previous_version_readable_and_the_cache_sound() {
    // 50 in every test run; a soak run sets HOLOGUIDE_CACHE_KILL_TRIALS higher.
    let trials: usize = std::env::var("HOLOGUIDE_CACHE_KILL_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50)
        .max(50);
    let dir = tempfile::tempdir().unwrap();
    store_demo(&open(dir.path(), "alice").unwrap(), 1);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut random = Random(seed);
    let (mut interrupted, mut advanced) = (0, 0);
    let mut last_version = 1;
    for trial in 0..trials {
        let mut child = hologuide()
            .args(["dev", "cache-write-loop", "--user", "alice", "--data-dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + random.below(150)));
        child.kill().unwrap();
        child.wait().unwrap();
        let store = open(dir.path(), "alice")
            .unwrap_or_else(|e| panic!("trial {trial} (seed {seed}): {e}"));
        let current = store
            .current(hologuide::demo::GUIDE_ID)
            .unwrap()
            .unwrap_or_else(|| panic!("trial {trial} (seed {seed}): no current version"));
        assert!(current.version >= last_version, "trial {trial}: went back");
        advanced += usize::from(current.version > last_version);
        last_version = current.version;
        current.decode_guide().unwrap();
        for asset in &current.assets {
            let bytes = store.read_blob(&asset.sha256).unwrap();
            assert_eq!(
                bytes.len() as u64,
                asset.bytes,
                "trial {trial}: {}",
                asset.path
            );
        }
        let report = store.verify().unwrap();
        assert!(report.is_sound(), "trial {trial} (seed {seed}): {report:?}");
        interrupted += usize::from(store.info().unwrap().partial_blobs > 0);
    }
    // The kills landed both between and inside writes, or the test proved less than it says.
    assert!(advanced > 0, "no write ever completed (seed {seed})");
    assert!(
        interrupted > 0,
        "no kill landed inside a download (seed {seed})"
    );
}

#[test]
fn bench_cache_prints_the_throughput_and_cold_start_tables_and_leaves_nothing_behind() {
    let scratch = tempfile::tempdir().unwrap();
    let output = run(hologuide()
        .args([
            "bench",
            "cache",
            "--megabytes",
            "4",
            "--rounds",
            "1",
            "--starts",
            "2",
        ])
        .env("TMPDIR", scratch.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "plain SQLite, a BLOB row per blob",
        "unencrypted files, the cache's own layout",
        "encrypted (the cache, all cores)",
        "encrypted / plain SQLite",
        "to first step",
        "target < 300 ms",
    ] {
        assert!(
            text.contains(expected),
            "missing \"{expected}\" in:\n{text}"
        );
    }
    assert_eq!(fs::read_dir(scratch.path()).unwrap().count(), 0);
}

#[test]
fn cache_verify_passes_a_sound_cache_and_asks_whose_when_several_accounts_used_the_device() {
    let dir = tempfile::tempdir().unwrap();
    store_demo(&open(dir.path(), "alice").unwrap(), 1);
    let verify = run(hologuide()
        .args(["cache", "verify", "--json", "--data-dir"])
        .arg(dir.path()));
    assert!(verify.status.success(), "{}", stderr(&verify));
    let value: serde_json::Value = serde_json::from_str(&stdout(&verify)).unwrap();
    assert_eq!(value["sound"], true);
    assert!(value["report"]["checked_blobs"].as_u64().unwrap() > 0);
    store_demo(&open(dir.path(), "bob").unwrap(), 1);
    let ambiguous = run(hologuide()
        .args(["cache", "info", "--data-dir"])
        .arg(dir.path()));
    assert_eq!(ambiguous.status.code(), Some(1));
    assert!(
        stderr(&ambiguous).contains(
            "several accounts used this device (alice, bob); say whose cache with --user"
        ),
        "{}",
        stderr(&ambiguous)
    );
    let bad_guide = run(hologuide()
        .args([
            "cache",
            "clear",
            "--user",
            "alice",
            "--guide",
            "not-a-guide-id",
            "--data-dir",
        ])
        .arg(dir.path()));
    assert_eq!(bad_guide.status.code(), Some(2));
    assert!(stderr(&bad_guide).contains("--guide"));
    assert_eq!(open(dir.path(), "alice").unwrap().list().unwrap().len(), 1);
}

/// One device configuration for every command: `cache` opens the cache with the same clock as
/// `status` and `open` (the testers' override included; a malformed one is refused alike).
#[test]
fn cache_commands_read_the_device_clock_as_every_other_command_does() {
    let dir = tempfile::tempdir().unwrap();
    store_demo(&open(dir.path(), "alice").unwrap(), 1);
    for command in [&["cache", "info"][..], &["cache", "verify"], &["status"]] {
        let output = run(hologuide()
            .args(command)
            .args(["--user", "alice"].iter().filter(|_| command[0] == "cache"))
            .arg("--data-dir")
            .arg(dir.path())
            .env("HOLOGUIDE_CLOCK_OVERRIDE", "next tuesday"));
        assert_eq!(
            output.status.code(),
            Some(1),
            "{command:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output)
                .contains("HOLOGUIDE_CLOCK_OVERRIDE='next tuesday' is not an RFC 3339 time"),
            "{command:?}: {}",
            stderr(&output)
        );
    }
    let output = run(hologuide()
        .args(["cache", "verify", "--user", "alice", "--data-dir"])
        .arg(dir.path())
        .env("HOLOGUIDE_CLOCK_OVERRIDE", "2027-01-01T00:00:00Z"));
    assert!(output.status.success(), "{}", stderr(&output));
}
