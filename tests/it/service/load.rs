//! N4 under load and faults: two instances on one PostgreSQL, 200 simulated devices on loopback
//! for 60 s, one instance killed with SIGKILL and started again, PostgreSQL restarted once.
//! Devices do what headsets do (profile manifest, guide manifest, Range downloads, telemetry,
//! results, token refresh) and, like the app, retry a failed request on the other instance.
//! Afterwards every event and result a device sent is stored exactly once, every download
//! matched its sha256, and every device's session still refreshes.
//!
//! Always on a PostgreSQL server of its own (it is restarted), whichever store the suite uses.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::database::ScratchDatabase;
use super::*;

const USERS: usize = 20;
const DEVICES_PER_USER: usize = 10;
const RUN: Duration = Duration::from_secs(60);
/// How long a device keeps retrying one request across both instances before it counts it lost.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

fn admin_on(url: &str, data: &Path, args: &[&str]) {
    let mut all = args.to_vec();
    all.extend(["--data", data.to_str().unwrap()]);
    json_of(on_postgres(url), &all);
}

/// What the devices saw, shared by all of them.
#[derive(Default)]
struct Observed {
    served: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    events_sent: Mutex<HashSet<String>>,
    results_sent: Mutex<HashSet<String>>,
    downloads_checked: AtomicU64,
    download_mismatches: Mutex<Vec<String>>,
    lost: Mutex<Vec<String>>,
}

impl Observed {
    fn error(&self, kind: String) {
        *self.errors.lock().unwrap().entry(kind).or_default() += 1;
    }
}

/// Sends the request `build` makes for an instance's base URL, to one instance and on failure
/// (no connection, a 5xx) to the other, until it is answered or `GIVE_UP_AFTER` has passed.
async fn send(
    bases: &[String; 2],
    first: usize,
    observed: &Observed,
    what: &str,
    build: impl Fn(&str) -> reqwest::RequestBuilder,
) -> Option<reqwest::Response> {
    let started = Instant::now();
    let mut attempt = first;
    while started.elapsed() < GIVE_UP_AFTER {
        match build(&bases[attempt % 2]).send().await {
            Ok(response) if !response.status().is_server_error() => {
                observed.served.fetch_add(1, Ordering::Relaxed);
                return Some(response);
            }
            Ok(response) => observed.error(format!("{what}: HTTP {}", response.status())),
            Err(e) if e.is_timeout() => observed.error(format!("{what}: timeout")),
            Err(e) if e.is_connect() => observed.error(format!("{what}: connection refused")),
            Err(_) => observed.error(format!("{what}: connection lost")),
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    observed
        .lost
        .lock()
        .unwrap()
        .push(format!("{what} gave up after {GIVE_UP_AFTER:?}"));
    None
}

/// One headset: signs in, then until `until` keeps syncing and uploading; finally refreshes
/// its session once more, which must still work.
#[allow(clippy::too_many_arguments)]
async fn device(
    http: reqwest::Client,
    bases: [String; 2],
    user: String,
    number: usize,
    until: Instant,
    observed: Arc<Observed>,
    assets: Arc<Vec<(String, Vec<u8>)>>,
) {
    let home = number % 2;
    let device_id = format!("{user}-hl2-{number}");
    let body = json!({ "username": user, "password": password(&user), "device_id": device_id });
    let Some(response) = send(&bases, home, &observed, "sign-in", |base| {
        http.post(format!("{base}/v1/session")).json(&body)
    })
    .await
    else {
        return;
    };
    let session: Value = response.json().await.unwrap_or(Value::Null);
    let (mut access, mut refresh) = (
        session["access_token"].as_str().unwrap_or("").to_owned(),
        session["refresh_token"].clone(),
    );
    let mut etag = String::new();
    let mut last_refresh = Instant::now();
    let mut turn = number;
    while Instant::now() < until {
        turn += 1;
        // The profile manifest, as the sync worker polls it (304 while nothing changed).
        if let Some(response) = send(&bases, turn, &observed, "profile manifest", |base| {
            http.get(format!("{base}/v1/me/profile/manifest"))
                .bearer_auth(&access)
                .header("if-none-match", &etag)
        })
        .await
            && let Some(tag) = response.headers().get("etag").and_then(|t| t.to_str().ok())
        {
            etag = tag.to_owned();
        }
        // A part of one asset (a resumed download), checked against the file.
        let (sha, bytes) = &assets[turn % assets.len()];
        let start = (turn * 7919) % bytes.len();
        let end = (start + 64 * 1024).min(bytes.len()) - 1;
        // A body cut off (its instance killed mid-answer) is asked for again, as a resumed
        // download would.
        for attempt in 0.. {
            let Some(response) = send(&bases, turn + attempt, &observed, "blob range", |base| {
                http.get(format!("{base}/v1/blobs/{sha}"))
                    .bearer_auth(&access)
                    .header("range", format!("bytes={start}-{end}"))
            })
            .await
            else {
                break;
            };
            let status = response.status();
            let Ok(body) = response.bytes().await else {
                observed.error("blob range: body cut off".into());
                if attempt < 20 {
                    continue;
                }
                observed
                    .lost
                    .lock()
                    .unwrap()
                    .push(format!("{sha}: body cut off 20 times"));
                break;
            };
            observed.downloads_checked.fetch_add(1, Ordering::Relaxed);
            if status != 206 || body[..] != bytes[start..=end] {
                observed.download_mismatches.lock().unwrap().push(format!(
                    "{sha} {start}-{end}: {status}, {} bytes",
                    body.len()
                ));
            }
            break;
        }
        // One telemetry event and one result, each with its device-made id: resent until
        // answered, stored once.
        let event = uuid::Uuid::new_v4().to_string();
        let batch = json!({ "events": [{ "id": event, "kind": "step_viewed",
            "at": "2026-11-24T08:01:00Z", "guide_id": DEMO_ID, "step_id": "lock-out",
            "duration_ms": 1200 }] });
        if let Some(response) = send(&bases, turn, &observed, "telemetry", |base| {
            http.post(format!("{base}/v1/telemetry"))
                .bearer_auth(&access)
                .json(&batch)
        })
        .await
        {
            acknowledged(response, &event, &observed, &observed.events_sent).await;
        }
        let result = uuid::Uuid::new_v4().to_string();
        let batch = json!({ "results": [{ "id": result, "guide_id": DEMO_ID, "version": 1,
            "step_id": "lock-out", "completed_at": "2026-11-24T08:05:00Z" }] });
        if let Some(response) = send(&bases, turn, &observed, "results", |base| {
            http.post(format!("{base}/v1/results"))
                .bearer_auth(&access)
                .json(&batch)
        })
        .await
        {
            acknowledged(response, &result, &observed, &observed.results_sent).await;
        }
        if last_refresh.elapsed() > Duration::from_secs(20) {
            if let Some(pair) = refreshed(&http, &bases, turn, &observed, &refresh).await {
                (access, refresh) = pair;
            }
            last_refresh = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if refreshed(&http, &bases, home, &observed, &refresh)
        .await
        .is_none()
    {
        observed
            .lost
            .lock()
            .unwrap()
            .push(format!("{device_id}: its session no longer refreshes"));
    }
}

/// Records `id` as stored when the answer says so (accepted, or a duplicate of an earlier
/// send); a rejection or another status is a loss: the device would drop the item.
async fn acknowledged(
    response: reqwest::Response,
    id: &str,
    observed: &Observed,
    sent: &Mutex<HashSet<String>>,
) {
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let listed = |field: &str| {
        answer[field]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|i| i == id))
    };
    if status == 200 && (listed("accepted") || listed("duplicates")) {
        sent.lock().unwrap().insert(id.to_owned());
    } else {
        observed
            .lost
            .lock()
            .unwrap()
            .push(format!("{id}: answered {status} {answer}"));
    }
}

/// Trades the refresh token for a new pair (a retry of the same token gets the same pair).
async fn refreshed(
    http: &reqwest::Client,
    bases: &[String; 2],
    turn: usize,
    observed: &Observed,
    refresh: &Value,
) -> Option<(String, Value)> {
    let body = json!({ "refresh_token": refresh });
    let response = send(bases, turn, observed, "refresh", |base| {
        http.post(format!("{base}/v1/session/refresh")).json(&body)
    })
    .await?;
    if response.status() != 200 {
        observed.error(format!("refresh: HTTP {}", response.status()));
        return None;
    }
    let pair: Value = response.json().await.ok()?;
    Some((
        pair["access_token"].as_str()?.to_owned(),
        pair["refresh_token"].clone(),
    ))
}

fn stored_ids(database: &ScratchDatabase, table: &str) -> HashSet<String> {
    let mut client = ::postgres::Client::connect(&database.url, ::postgres::NoTls).unwrap();
    // The table name is one of two constants of this file.
    client
        .query(&format!("SELECT id::text FROM {table}"), &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn two_hundred_devices_on_two_instances_lose_nothing_when_an_instance_is_killed_and_postgres_restarts()
 {
    let database = ScratchDatabase::on_own_server();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shared");
    let url = database.url.clone();
    admin_on(&url, &data, &["init"]);
    admin_on(
        &url,
        &data,
        &[
            "user",
            "add",
            "author",
            "--role",
            "author",
            "--organisation",
            DEMO_ORG,
            "--password",
            &password("author"),
        ],
    );
    let users: Vec<String> = (0..USERS).map(|u| format!("crew-{u:02}")).collect();
    for user in &users {
        admin_on(
            &url,
            &data,
            &[
                "user",
                "add",
                user,
                "--role",
                "operator",
                "--organisation",
                DEMO_ORG,
                "--group",
                "crew",
                "--password",
                &password(user),
            ],
        );
    }
    let demo = repo().join("assets/demo");
    admin_on(
        &url,
        &data,
        &["guide", "publish", demo.to_str().unwrap(), "--as", "author"],
    );
    admin_on(&url, &data, &["guide", "grant", DEMO_ID, "--group", "crew"]);
    admin_on(
        &url,
        &data,
        &[
            "profile",
            "create",
            "crew",
            "--guide",
            DEMO_ID,
            "--no-date-filter",
        ],
    );
    for user in &users {
        admin_on(&url, &data, &["profile", "add-member", "crew", user]);
    }
    // The demo's models, by sha256, to check downloads against.
    let mut assets = Vec::new();
    for entry in std::fs::read_dir(demo.join("models")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assets.push((sha256_hex(&bytes), bytes));
    }
    let assets = Arc::new(assets);

    let first = Server::start_with(on_postgres(&url), &data, "127.0.0.1:0", &[]);
    let second = Server::start_with(on_postgres(&url), &data, "127.0.0.1:0", &[]);
    let first_address = first.base.trim_start_matches("http://").to_owned();
    let bases = [first.base.clone(), second.base.clone()];

    let observed = Arc::new(Observed::default());
    let started = Instant::now();
    let until = started + RUN;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let devices: Vec<_> = (0..USERS * DEVICES_PER_USER)
        .map(|number| {
            runtime.spawn(device(
                http.clone(),
                bases.clone(),
                users[number % USERS].clone(),
                number,
                until,
                Arc::clone(&observed),
                Arc::clone(&assets),
            ))
        })
        .collect();

    // The faults, while the devices work.
    let at = |seconds: u64| {
        let when = started + Duration::from_secs(seconds);
        std::thread::sleep(when.saturating_duration_since(Instant::now()));
    };
    at(15);
    first.kill();
    at(20);
    let first = Server::start_with(on_postgres(&url), &data, &first_address, &[]);
    at(35);
    database.restart_server();

    for device in devices {
        runtime.block_on(device).expect("a device task ended");
    }
    let served = observed.served.load(Ordering::Relaxed);
    let peak_rss = second.peak_rss_bytes();
    let errors = observed.errors.lock().unwrap().clone();
    eprintln!(
        "load: {} devices, {:.0} s: {served} requests served, {} downloads checked; \
         errors seen by devices (each then retried): {errors:#?}; peak RSS of the instance \
         that ran throughout: {} MiB",
        USERS * DEVICES_PER_USER,
        started.elapsed().as_secs_f64(),
        observed.downloads_checked.load(Ordering::Relaxed),
        peak_rss / (1024 * 1024)
    );
    drop((first, second));

    let lost = observed.lost.lock().unwrap().clone();
    assert!(lost.is_empty(), "{} lost: {lost:#?}", lost.len());
    let mismatches = observed.download_mismatches.lock().unwrap().clone();
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert!(
        served > 5_000,
        "only {served} requests were served in {RUN:?}"
    );
    assert!(
        errors.keys().any(|kind| kind.contains("connection")),
        "the faults were seen by the devices: {errors:#?}"
    );
    for (table, sent) in [
        ("telemetry", &observed.events_sent),
        ("results", &observed.results_sent),
    ] {
        let sent = sent.lock().unwrap().clone();
        let stored = stored_ids(&database, table);
        let missing: Vec<_> = sent.difference(&stored).collect();
        let unacknowledged: Vec<_> = stored.difference(&sent).collect();
        assert!(
            missing.is_empty() && unacknowledged.is_empty(),
            "{table}: {} sent and acknowledged, {} stored; acknowledged but not stored: \
             {missing:?}; stored but never acknowledged: {unacknowledged:?}",
            sent.len(),
            stored.len()
        );
    }
}
