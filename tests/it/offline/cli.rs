//! The `hologuide` binary as testers and scripts use it: login, open, guides, status, logout
//! with `--json`, refusals on standard error with a non-zero exit; and SIGKILLs during
//! downloads that must leave the previous version readable and the cache sound.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use hologuide::cache::{DeviceIndex, FileKeyStore, Store};
use hologuide::clock::SystemClock;

use super::*;
use crate::support::{hologuide, stderr, stdout};

/// `hologuide ARGS --data-dir DATA`, with none of the environment that changes what it does.
pub(super) fn client(data: &Path, args: &[&str]) -> Command {
    let mut command = hologuide();
    command
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("HOLOGUIDE_DATA_DIR")
        .env_remove("HOLOGUIDE_CLOCK_OVERRIDE")
        .env_remove("HOLOGUIDE_MAX_DOWNLOAD_RATE")
        .env_remove("HOLOGUIDE_DOWNLOAD_DEADLINE")
        .env_remove("HOLOGUIDE_DOWNLOAD_MIN_RATE")
        .env_remove("HOLOGUIDE_DOWNLOAD_RATE_WINDOW")
        .stdin(Stdio::null());
    command
}

pub(super) fn json_of(data: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let output = client(data, &all).output().unwrap();
    assert!(
        output.status.success(),
        "hologuide {args:?}: {}{}",
        stdout(&output),
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).expect("--json prints JSON")
}

pub(super) fn login(data: &Path, service: &Service, user: &str) -> std::process::Output {
    let mut command = client(
        data,
        &[
            "login",
            "--server",
            &service.url(),
            "--user",
            user,
            "--password-stdin",
        ],
    );
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{}", password(user)).unwrap();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn cli_signs_in_opens_online_then_offline_and_refuses_sign_in_offline() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path();

    let empty = json_of(data, &["guides"]);
    assert_eq!(empty["empty_text"], "No guides are available offline.");
    let text = client(data, &["guides"]).output().unwrap();
    assert!(stdout(&text).contains("No guides are available offline."));

    let wrong = {
        let mut command = client(
            data,
            &[
                "login",
                "--server",
                &service.url(),
                "--user",
                "alice",
                "--password-stdin",
            ],
        );
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    };
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).starts_with("error: "), "{}", stderr(&wrong));

    let signed_in = login(data, &service, "alice");
    assert!(signed_in.status.success(), "{}", stderr(&signed_in));
    assert!(stdout(&signed_in).contains("Signed in as alice"));

    let online = json_of(
        data,
        &[
            "open",
            &format!("hologuide://hologuide-demo/g/{DEMO_ID}/s/2"),
        ],
    );
    assert_eq!(online["opened"]["origin"], "network");
    assert_eq!(online["opened"]["step"], 2);
    assert_eq!(online["opened"]["offline_banner"], false);
    assert_eq!(online["steps"].as_array().unwrap().len(), 10);

    service.stop();
    let offline = client(data, &["open", DEMO_ID]).output().unwrap();
    assert!(offline.status.success(), "{}", stderr(&offline));
    let text = stdout(&offline);
    assert!(text.contains("Opened from this device's cache."), "{text}");
    assert!(text.contains("Offline banner: shown"), "{text}");
    assert!(
        text.contains("Step 1 of 10: Switch off and lock out the pump"),
        "{text}"
    );

    let listed = json_of(data, &["guides"]);
    assert_eq!(listed["offline_banner"], true);
    assert_eq!(listed["guides"][0]["version"], 1);

    let status = json_of(data, &["status"]);
    assert_eq!(status["status"]["link"], "offline");
    assert_eq!(status["status"]["username"], "alice");
    assert_eq!(status["started"]["signed_in"], "offline");

    let out = json_of(data, &["logout"]);
    assert_eq!(out["signed_out"], "alice");
    let refused = login(data, &service, "alice");
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        stderr(&refused).trim(),
        "error: Signing in needs a network connection. You can keep using the guides on this \
         device; sign in again when the network is back."
    );
    // Malformed input: a clear message, no panic.
    let bad = client(data, &["open", "hologuide://acme/g/not-a-uuid"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("not a guide id"), "{}", stderr(&bad));
    assert!(!stderr(&bad).contains("panicked"));
}

/// The first step card printed, as `Step N of M: title`.
fn first_card(text: &str) -> &str {
    text.lines()
        .find(|line| line.starts_with("Step "))
        .unwrap_or("")
}

#[test]
fn f7_cli_open_of_a_link_to_step_3_starts_at_step_3_online_and_offline() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path();
    let signed_in = login(data, &service, "alice");
    assert!(signed_in.status.success(), "{}", stderr(&signed_in));
    let link = format!("hologuide://hologuide-demo/g/{DEMO_ID}/s/3");
    let step_3 = "Step 3 of 10: Relieve the pressure and drain the housing";

    let online = client(data, &["open", &link]).output().unwrap();
    assert!(online.status.success(), "{}", stderr(&online));
    let text = stdout(&online);
    assert!(text.contains("Opened from the guide service"), "{text}");
    assert!(
        text.contains("Starting at step 3 of 10, as the link asks."),
        "{text}"
    );
    assert_eq!(first_card(&text), step_3, "{text}");
    assert!(!text.contains("Step 1 of 10"), "{text}");

    service.stop();
    let offline = client(data, &["open", &link]).output().unwrap();
    assert!(offline.status.success(), "{}", stderr(&offline));
    let text = stdout(&offline);
    assert!(text.contains("Opened from this device's cache."), "{text}");
    assert!(
        text.contains("Starting at step 3 of 10, as the link asks."),
        "{text}"
    );
    assert_eq!(first_card(&text), step_3, "{text}");

    let json = json_of(data, &["open", &link]);
    assert_eq!(json["opened"]["origin"], "cache");
    assert_eq!(json["start"]["step"], 3);
    assert_eq!(
        json["start"]["title"],
        "Relieve the pressure and drain the housing"
    );
    assert!(json["start"]["notice"].is_null());

    // A link past the end starts at step 1 and says why, like the card's notice.
    let past = format!("hologuide://hologuide-demo/g/{DEMO_ID}/s/12");
    let text = stdout(&client(data, &["open", &past]).output().unwrap());
    assert!(text.contains("Starting at step 1 of 10."), "{text}");
    assert!(text.contains("there is no step 12"), "{text}");
    assert!(first_card(&text).starts_with("Step 1 of 10:"), "{text}");
    let json = json_of(data, &["open", &past]);
    assert_eq!(json["start"]["step"], 1);
    assert!(
        json["start"]["notice"]
            .as_str()
            .is_some_and(|n| n.contains("there is no step 12")),
        "{json}"
    );
}

/// One state, one message: before any account exists no guide service is known, so `guides`
/// and `status` say so instead of claiming one "cannot be reached".
#[test]
fn cli_before_any_account_the_banner_line_says_no_service_is_set_up() {
    let device = tempfile::tempdir().unwrap();
    for command in ["guides", "status"] {
        let output = client(device.path(), &[command]).output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stdout(&output);
        assert!(
            text.contains(
                "Offline banner: shown (no guide service is set up on this device yet; `hologuide login --server URL` sets one)"
            ),
            "{command}: {text}"
        );
        assert!(!text.contains("cannot be reached"), "{command}: {text}");
    }
}

#[test]
fn cli_f10_clock_override_ends_offline_use_after_90_days() {
    let mut service = Service::start();
    let device = tempfile::tempdir().unwrap();
    assert!(login(device.path(), &service, "alice").status.success());
    service.stop();
    let later = (time::OffsetDateTime::now_utc() + time::Duration::days(91))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let output = client(device.path(), &["status"])
        .env("HOLOGUIDE_CLOCK_OVERRIDE", &later)
        .output()
        .unwrap();
    assert!(stdout(&output).contains("90 days"), "{}", stdout(&output));
    let bad = client(device.path(), &["status"])
        .env("HOLOGUIDE_CLOCK_OVERRIDE", "next tuesday")
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("RFC 3339"), "{}", stderr(&bad));
}

/// xorshift64: kill points that differ from run to run (seeded by the clock), printed so a
/// failing run can be repeated.
pub(super) struct Random(pub(super) u64);

impl Random {
    pub(super) fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

#[test]
fn kill_9_during_downloads_leaves_the_previous_version_readable_and_the_cache_sound() {
    const TRIALS: usize = 50;
    let service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path();
    let id = small_guide(&service, GUIDE_A, "v00");
    assert!(login(data, &service, "alice").status.success());
    json_of(data, &["open", GUIDE_A]);
    let user = DeviceIndex::load(data)
        .unwrap()
        .last()
        .unwrap()
        .user_id
        .clone();
    let seed = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x2545_f491_4f6c_dd1d, |d| d.as_nanos() as u64)
        });
    eprintln!("kill points seeded with KILL_SEED={seed}");
    let mut random = Random(seed | 1);
    let started = Instant::now();
    let (mut killed, mut completed, mut published) = (0, 0, 1);
    let mut version = 1;
    for trial in 0..TRIALS {
        if trial == 0 || completed_version(data, &user, id) == version {
            published += 1;
            let package = guide_package(
                service.dir.path(),
                GUIDE_A,
                "Valve check",
                &format!("v{published:02}"),
                1 << 20,
            );
            version = service.publish(&package)["version"].as_u64().unwrap() as u32;
        }
        let before = completed_version(data, &user, id);
        // 1 MiB at 4 MiB/s: about 250 ms of download, after the process start and sign-in.
        let mut child = client(data, &["open", GUIDE_A, "--json", "--max-rate", "4194304"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(random.below(400)));
        match child.try_wait().unwrap() {
            Some(_) => completed += 1,
            None => {
                child.kill().unwrap();
                killed += 1;
            }
        }
        let _ = child.wait();
        let after = completed_version(data, &user, id);
        assert!(
            after == before || after == version,
            "trial {trial}: version {before} became {after}"
        );
        let verify = client(data, &["cache", "verify"]).output().unwrap();
        assert!(
            verify.status.success(),
            "trial {trial}: {}{}",
            stdout(&verify),
            stderr(&verify)
        );
    }
    eprintln!(
        "{TRIALS} trials in {:.1} s: {killed} killed, {completed} finished",
        started.elapsed().as_secs_f64()
    );
    assert!(
        killed >= TRIALS / 3,
        "most runs must be interrupted: {killed} killed"
    );
    // After all that, a last online open finishes the download that was under way.
    let finished = json_of(data, &["open", GUIDE_A]);
    assert_eq!(finished["opened"]["version"], version);
}

/// The guide's current version in the cache, read as the app reads it (decoded, not just a row).
fn completed_version(data: &Path, user: &str, id: uuid::Uuid) -> u32 {
    let keys = FileKeyStore::in_data_dir(data);
    let store = Store::open(data, user, &keys, Arc::new(SystemClock)).unwrap();
    let current = store
        .current(id)
        .unwrap()
        .expect("a version is always there");
    current.decode_guide().expect("the current version decodes");
    current.version
}

#[test]
fn bad_input_gets_a_clear_message_and_a_damaged_cache_can_be_cleared() {
    let service = Service::start();
    let device = tempfile::tempdir().unwrap();
    let data = device.path();
    // A service address that is not one.
    let mut command = client(
        data,
        &[
            "login",
            "--server",
            "ftp://example",
            "--user",
            "alice",
            "--password-stdin",
        ],
    );
    let bad_server = command.output().unwrap();
    assert_eq!(bad_server.status.code(), Some(1));
    assert!(
        stderr(&bad_server).contains("is not a guide service address"),
        "{}",
        stderr(&bad_server)
    );
    // A link to nowhere, a guide id that is not one.
    let nonsense = client(data, &["open", "mailto:someone"]).output().unwrap();
    assert_eq!(nonsense.status.code(), Some(1));
    assert!(
        stderr(&nonsense).contains("not a guide link"),
        "{}",
        stderr(&nonsense)
    );

    assert!(login(data, &service, "alice").status.success());
    json_of(data, &["open", DEMO_ID]);
    // The cache file damaged on disk: every command says so and how to get out; no panic.
    let user = DeviceIndex::load(data)
        .unwrap()
        .last()
        .unwrap()
        .user_id
        .clone();
    let path = hologuide::cache::database_path(data, &user);
    let mut bytes = std::fs::read(&path).unwrap();
    for byte in bytes.iter_mut().skip(4096).take(64 * 1024) {
        *byte ^= 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    for args in [&["open", DEMO_ID][..], &["status"][..], &["guides"][..]] {
        let output = client(data, args).output().unwrap();
        let text = stderr(&output);
        assert!(
            !output.status.success(),
            "{args:?} must fail on a damaged cache"
        );
        assert!(!text.contains("panicked"), "{args:?}: {text}");
        assert!(
            text.contains("hologuide cache clear") || text.contains("another user or device"),
            "{args:?}: {text}"
        );
    }
    let cleared = client(data, &["cache", "clear"]).output().unwrap();
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    // Back to a clean device: sign in again and the guide downloads anew.
    assert!(login(data, &service, "alice").status.success());
    let again = json_of(data, &["open", DEMO_ID]);
    assert_eq!(again["opened"]["origin"], "network");
}
