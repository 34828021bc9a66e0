//! What anyone may ask of the service without signing in (issue 13, findings 2 and 4): the cost
//! of password checks is bounded, and the sign-in throttle slows guessing without locking the
//! real user out.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

/// A client whose connections come from `address` (any 127.x.y.z is this machine's loopback):
/// other source addresses, as separate attackers or as the user's own network.
fn client_from(address: Ipv4Addr) -> Client {
    Client::builder()
        .local_address(IpAddr::V4(address))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a reqwest client")
}

/// A guesser's answer: `true` for a wrong guess (401); for a 429 it sleeps the wait asked for,
/// when that is at most `patience`, and answers `false`. Waiting for the first short waits
/// makes the next one long (4 s), so a check right after certainly falls in it on a loaded
/// machine (the service counts time in whole seconds).
fn wait_if_slowed(response: &Response, patience: Duration) -> bool {
    match response.status().as_u16() {
        401 => true,
        429 => {
            let wait: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            if Duration::from_secs(wait) <= patience {
                std::thread::sleep(Duration::from_secs(wait));
            }
            false
        }
        other => panic!("a wrong guess answered {other}"),
    }
}

#[test]
fn an_attackers_twenty_wrong_guesses_do_not_lock_the_users_known_device_out() {
    let fixture = Fixture::new();
    // alice's headset has signed in before: the service knows the pair.
    fixture.session("alice", "alice-headset");
    let attacker = client_from(Ipv4Addr::new(127, 0, 0, 66));
    let mut failures = 0;
    for _ in 0..20 {
        let response = attacker
            .post(fixture.url("/v1/session"))
            .json(&json!({ "username": "alice", "password": "guess-password", "device_id": "laptop" }))
            .send()
            .unwrap();
        failures += u32::from(wait_if_slowed(&response, Duration::from_secs(2)));
    }
    assert!(failures >= 7, "{failures}");
    // A device alice never used is slowed, even with the right password …
    assert_refused(
        fixture.sign_in_raw("alice", &password("alice"), "new-tablet"),
        429,
        "too_many_attempts",
    );
    // … her headset is not.
    fixture.session("alice", "alice-headset");
}

#[test]
fn one_address_guessing_across_many_names_is_slowed_for_unknown_devices_only() {
    let fixture = Fixture::new();
    fixture.session("bob", "bob-headset");
    // One password tried on made-up names, one guess each: no name reaches its limit, the
    // address does after 20 (then two more, after the short waits).
    let mut failures = 0;
    let mut n = 0;
    while failures < 22 {
        n += 1;
        let response = fixture.sign_in_raw(&format!("user{n}"), "Summer2026!", "sprayer");
        if wait_if_slowed(&response, Duration::from_secs(2)) {
            failures += 1;
        } else {
            assert!(failures >= 20, "slowed after only {failures} failures");
        }
    }
    // The next unknown device from the address waits, whatever the name.
    let response = fixture.sign_in_raw("bob", &password("bob"), "sprayer");
    assert!(response.headers().contains_key("retry-after"));
    assert_refused(response, 429, "too_many_attempts");
    // bob's own headset on the same network still gets in; other addresses are not slowed.
    fixture.session("bob", "bob-headset");
    let elsewhere = client_from(Ipv4Addr::new(127, 0, 0, 67))
        .post(fixture.url("/v1/session"))
        .json(&json!({ "username": "alice", "password": password("alice"), "device_id": "d" }))
        .send()
        .unwrap();
    assert_eq!(elsewhere.status(), 201);
}

/// `VmRSS` or `VmHWM` (peak) of the server, in bytes.
fn memory_of(pid: u32, field: &str) -> u64 {
    crate::support::process_memory_bytes(pid, field)
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The acceptance test. Bounds, generous on purpose: 300 MB of RSS (the pool holds one
/// 19 MiB argon2 block per worker, one worker per core; before, 40 clients took the server past
/// 2.2 GB within seconds) and 100 ms p95 for `GET /v1/me` (it needs no password check; on a
/// loaded 2-core test machine it takes a few ms).
#[test]
fn forty_concurrent_anonymous_sign_ins_keep_the_servers_memory_bounded_and_others_served() {
    const CLIENTS: u8 = 40;
    const RUN: Duration = Duration::from_secs(10);
    const MAX_PEAK_RSS: u64 = 300 * 1000 * 1000;
    const MAX_ME_P95: Duration = Duration::from_millis(100);
    let fixture = Fixture::new();
    let token = fixture.token("bob");
    let pid = fixture.server.pid();
    let stop = Arc::new(AtomicBool::new(false));
    let (checked, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let attackers: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (stop, checked, refused) = (stop.clone(), checked.clone(), refused.clone());
            let url = fixture.url("/v1/session");
            // Each attacker from its own address, so the per-address throttle does not stop
            // them early: the pool is what bounds the work.
            let http = client_from(Ipv4Addr::new(127, 0, 1, 10 + i));
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let username = if n.is_multiple_of(4) {
                        "alice".to_owned()
                    } else {
                        format!("nobody-{i}-{n}")
                    };
                    let body = json!({ "username": username, "password": "guess-password", "device_id": format!("bot-{i}") });
                    let Ok(response) = http.post(&url).json(&body).send() else {
                        continue;
                    };
                    match response.status().as_u16() {
                        401 => checked.fetch_add(1, Ordering::Relaxed),
                        429 | 503 => refused.fetch_add(1, Ordering::Relaxed),
                        other => panic!("an anonymous sign-in answered {other}"),
                    };
                }
            })
        })
        .collect();
    let http = client();
    let started = Instant::now();
    let mut me_times = Vec::new();
    let mut peak_rss = 0;
    while started.elapsed() < RUN {
        let asked = Instant::now();
        let response = fixture.get(&token, "/v1/me").send().unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().unwrap();
        me_times.push(asked.elapsed());
        peak_rss = peak_rss.max(memory_of(pid, "VmRSS"));
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.join().unwrap();
    }
    drop(http);
    let high_water = memory_of(pid, "VmHWM");
    me_times.sort();
    let p95 = me_times[me_times.len() * 95 / 100];
    let (checked, refused) = (
        checked.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    eprintln!(
        "{checked} password checks, {refused} refused at once; peak RSS {} MB (sampled {} MB); \
         GET /v1/me p95 {p95:?} over {} requests",
        high_water / 1_000_000,
        peak_rss / 1_000_000,
        me_times.len()
    );
    assert!(checked > 0, "the attack reached the password checks");
    assert!(
        high_water < MAX_PEAK_RSS,
        "the server's RSS peaked at {high_water} bytes"
    );
    assert!(p95 < MAX_ME_P95, "GET /v1/me p95 was {p95:?}");
}

#[test]
fn password_checks_beyond_the_pool_and_its_queue_are_answered_503_with_retry_after() {
    let fixture = Fixture::with_server_args(&["--password-workers", "1", "--password-queue", "0"]);
    let url = fixture.url("/v1/session");
    let answers: Vec<_> = (0..8u8)
        .map(|i| {
            let (url, http) = (url.clone(), client_from(Ipv4Addr::new(127, 0, 2, 10 + i)));
            std::thread::spawn(move || {
                let response = http
                    .post(&url)
                    .json(&json!({ "username": format!("nobody-{i}"), "password": "guess-password", "device_id": "d" }))
                    .send()
                    .unwrap();
                let retry_after = response.headers().get("retry-after").cloned();
                let (status, body) = status_json(response);
                (status, body, retry_after)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let busy: Vec<_> = answers
        .iter()
        .filter(|(status, ..)| *status == 503)
        .collect();
    assert!(!busy.is_empty(), "{answers:?}");
    for (_, body, retry_after) in busy {
        assert_eq!(body["error"], "busy");
        assert_eq!(retry_after.as_ref().unwrap(), "1");
    }
    assert!(
        answers.iter().any(|(status, ..)| *status == 401),
        "{answers:?}"
    );
}
