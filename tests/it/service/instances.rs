//! Two service instances on one store at the same moment (N4, issue 21): what one instance did,
//! the other sees, and a race between them ends as if one went first. Runs on SQLite (two
//! instances on one folder) and, under `scripts/test`, on PostgreSQL, the case it is for.

use std::sync::{Arc, Barrier};

use super::*;

/// Runs `a` and `b` on two threads released at the same moment; returns both answers.
fn at_once<T: Send + 'static>(
    a: impl FnOnce() -> T + Send + 'static,
    b: impl FnOnce() -> T + Send + 'static,
) -> (T, T) {
    let barrier = Arc::new(Barrier::new(2));
    let (first, second) = (barrier.clone(), barrier);
    let a = std::thread::spawn(move || {
        first.wait();
        a()
    });
    let b = std::thread::spawn(move || {
        second.wait();
        b()
    });
    (a.join().unwrap(), b.join().unwrap())
}

fn post_json(url: String, body: Value, token: Option<String>) -> (u16, Value) {
    let mut request = client().post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    status_json(request.send().expect("the instance answers"))
}

#[test]
fn two_instances_refreshing_the_same_token_at_once_both_answer_the_one_new_pair() {
    let fixture = Fixture::new();
    let other = Server::start(&fixture.data(), &[]);
    let mut refresh_token = fixture.session("alice", "hl2-1")["refresh_token"].clone();
    for round in 0..10 {
        let body = json!({ "refresh_token": refresh_token });
        let (a, b) = (
            fixture.url("/v1/session/refresh"),
            other.url("/v1/session/refresh"),
        );
        let (body_a, body_b) = (body.clone(), body);
        let ((status_a, pair_a), (status_b, pair_b)) = at_once(
            move || post_json(a, body_a, None),
            move || post_json(b, body_b, None),
        );
        assert_eq!(
            (status_a, status_b),
            (200, 200),
            "round {round}: {pair_a:#} {pair_b:#}"
        );
        assert_eq!(
            (&pair_a["access_token"], &pair_a["refresh_token"]),
            (&pair_b["access_token"], &pair_b["refresh_token"]),
            "round {round}: the loser of the race answers the winner's pair, not a second one"
        );
        refresh_token = pair_a["refresh_token"].clone();
    }
    // The session survived every race: its latest token still refreshes, on either instance.
    let (status, _) = post_json(
        other.url("/v1/session/refresh"),
        json!({ "refresh_token": refresh_token }),
        None,
    );
    assert_eq!(status, 200);
}

#[test]
fn the_same_result_posted_to_two_instances_at_once_is_stored_once() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("user", "alice");
    let other = Server::start(&fixture.data(), &[]);
    let token = fixture.token("alice");
    for round in 0..10u32 {
        let id = format!("4c7e2a70-3c1e-4f7b-9a55-6a1d2b3c{round:04}");
        let batch = json!({ "results": [{ "id": id, "guide_id": DEMO_ID, "version": 1,
            "step_id": "lock-out", "completed_at": "2026-11-24T08:05:00Z" }] });
        let (a, b) = (fixture.url("/v1/results"), other.url("/v1/results"));
        let (batch_a, batch_b, token_a, token_b) =
            (batch.clone(), batch, token.clone(), token.clone());
        let ((status_a, answer_a), (status_b, answer_b)) = at_once(
            move || post_json(a, batch_a, Some(token_a)),
            move || post_json(b, batch_b, Some(token_b)),
        );
        assert_eq!(
            (status_a, status_b),
            (200, 200),
            "{answer_a:#} {answer_b:#}"
        );
        let mut outcomes = [&answer_a, &answer_b].map(|answer| {
            if answer["accepted"] == json!([id]) {
                "accepted"
            } else if answer["duplicates"] == json!([id]) {
                "duplicate"
            } else {
                panic!("round {round}: neither accepted nor a duplicate: {answer:#}")
            }
        });
        outcomes.sort();
        assert_eq!(outcomes, ["accepted", "duplicate"], "round {round}");
    }
    let stats = admin_json(&fixture.data(), &["stats"]);
    assert_eq!(stats["results"], 10, "each result stored exactly once");
}

#[test]
fn two_publishes_of_the_same_guide_to_two_instances_at_once_become_two_whole_versions() {
    let fixture = Fixture::new();
    let other = Server::start(&fixture.data(), &[]);
    let token = fixture.token("author");
    let mut latest = 1;
    for round in 0..5 {
        let packages = ["a", "b"].map(|side| {
            let package = edited_demo_package(fixture.dir.path(), &format!("{side}{round}"), |g| {
                g["title"] = json!(format!("Lockout, round {round} from {side}"));
            });
            zipped(&package)
        });
        let [zip_a, zip_b] = packages;
        let (a, b) = (fixture.url("/v1/guides"), other.url("/v1/guides"));
        let (token_a, token_b) = (token.clone(), token.clone());
        let publish = |url: String, zip: Vec<u8>, token: String| {
            status_json(
                client()
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/zip")
                    .body(zip)
                    .send()
                    .expect("the instance answers"),
            )
        };
        let ((status_a, manifest_a), (status_b, manifest_b)) = at_once(
            move || publish(a, zip_a, token_a),
            move || publish(b, zip_b, token_b),
        );
        assert_eq!(
            (status_a, status_b),
            (201, 201),
            "round {round}: {manifest_a:#} {manifest_b:#}"
        );
        let mut versions = [&manifest_a, &manifest_b].map(|m| m["version"].as_u64().unwrap());
        versions.sort_unstable();
        assert_eq!(
            versions,
            [latest + 1, latest + 2],
            "round {round}: one went first, the other numbered after it"
        );
        latest += 2;
        // Each version is whole and is the package it was made from.
        for manifest in [&manifest_a, &manifest_b] {
            let version = manifest["version"].as_u64().unwrap();
            let (status, stored) = status_json(
                fixture
                    .get(&token, &format!("/v1/guides/{DEMO_ID}/versions/{version}"))
                    .send()
                    .unwrap(),
            );
            assert_eq!(status, 200);
            let title = manifest["guide"]["title"].as_str().unwrap();
            assert!(
                title.starts_with(&format!("Lockout, round {round} from ")),
                "{title}"
            );
            assert_eq!(stored["guide"]["title"], title);
            assert_eq!(stored["content_hash"], manifest["content_hash"]);
        }
    }
    let stats = admin_json(&fixture.data(), &["stats"]);
    assert_eq!(
        stats["versions"], latest,
        "no version lost, none made twice"
    );
}
