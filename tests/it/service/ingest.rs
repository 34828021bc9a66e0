//! Telemetry and step results: idempotent (N5), validated at sync time (S6).

use serde_json::json;

use super::*;

fn stats(fixture: &Fixture) -> Value {
    admin_json(&fixture.data(), &["stats"])
}

#[test]
fn telemetry_sent_twice_is_stored_once() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("user", "alice");
    let alice = fixture.token("alice");
    let batch = json!({ "events": [
        { "id": "0b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d01", "kind": "session_start", "at": "2026-11-24T08:00:00Z" },
        { "id": "0b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d02", "kind": "step_viewed", "at": "2026-11-24T08:01:00Z",
          "guide_id": DEMO_ID, "step_id": "lock-out", "duration_ms": 5300 },
    ]});
    let (status, first) = status_json(
        fixture
            .post(&alice, "/v1/telemetry")
            .json(&batch)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{first:#}");
    assert_eq!(first["accepted"].as_array().unwrap().len(), 2);
    let (_, second) = status_json(
        fixture
            .post(&alice, "/v1/telemetry")
            .json(&batch)
            .send()
            .unwrap(),
    );
    assert_eq!(second["accepted"], json!([]));
    assert_eq!(second["duplicates"].as_array().unwrap().len(), 2);
    assert_eq!(stats(&fixture)["telemetry_events"], 2);
}

#[test]
fn a_telemetry_summary_is_stored_once_with_its_counts_and_inconsistent_ones_are_rejected() {
    let fixture = Fixture::new();
    let alice = fixture.token("alice");
    let summary = json!({
        "id": "2b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d01",
        "sessions": 3,
        "events": 7,
        "by_kind": { "session_start": 3, "step_viewed": 4 },
        "duration_ms": 12500,
        "first_at": "2026-11-20T08:00:00Z",
        "last_at": "2026-11-22T17:30:00Z",
    });
    let batch = json!({ "summaries": [summary] });
    let send = |batch: &Value| {
        status_json(
            fixture
                .post(&alice, "/v1/telemetry")
                .json(batch)
                .send()
                .unwrap(),
        )
    };
    let (status, first) = send(&batch);
    assert_eq!(status, 200, "{first:#}");
    assert_eq!(first["accepted"], json!([summary["id"]]));
    let (_, second) = send(&batch);
    assert_eq!(second["accepted"], json!([]));
    assert_eq!(second["duplicates"], json!([summary["id"]]));
    let counts = stats(&fixture);
    assert_eq!(counts["telemetry_summaries"], 1);
    assert_eq!(counts["telemetry_events"], 0, "a summary is not an event");

    // What the service kept is the record itself, not a kind string.
    let (sessions, events, by_kind, duration) = super::database::stored_summary(&fixture.data());
    assert_eq!((sessions, events, duration), (3, 7, 12500));
    let by_kind: Value = serde_json::from_str(&by_kind).unwrap();
    assert_eq!(by_kind, json!({ "session_start": 3, "step_viewed": 4 }));

    let mut wrong_sum = summary.clone();
    wrong_sum["id"] = json!("2b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d02");
    wrong_sum["events"] = json!(8);
    let mut backwards = summary.clone();
    backwards["id"] = json!("2b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d03");
    backwards["first_at"] = json!("2026-11-23T08:00:00Z");
    let (status, outcome) = send(&json!({ "summaries": [wrong_sum, backwards] }));
    assert_eq!(status, 200);
    let reasons: Vec<&str> = outcome["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2, "{outcome:#}");
    assert!(reasons[0].contains("do not add up"), "{reasons:?}");
    assert!(reasons[1].contains("ends before it starts"), "{reasons:?}");
    assert_eq!(stats(&fixture)["telemetry_summaries"], 1);
}

#[test]
fn telemetry_about_a_guide_the_user_may_not_open_is_rejected_item_by_item() {
    let fixture = Fixture::new();
    let bob = fixture.token("bob");
    let batch = json!({ "events": [
        { "id": "1b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d01", "kind": "session_start", "at": "2026-11-24T08:00:00Z" },
        { "id": "1b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d02", "kind": "step_viewed", "at": "2026-11-24T08:01:00Z", "guide_id": DEMO_ID },
        { "id": "1b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d03", "kind": "", "at": "2026-11-24T08:01:00Z" },
    ]});
    let (status, outcome) = status_json(
        fixture
            .post(&bob, "/v1/telemetry")
            .json(&batch)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(
        outcome["accepted"],
        json!(["1b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d01"])
    );
    let rejected = outcome["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{outcome:#}");
    let code_of = |id: &str| {
        rejected
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["code"].clone())
    };
    assert_eq!(
        code_of("1b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d02"),
        Some(json!("forbidden"))
    );
    assert_eq!(
        code_of("1b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d03"),
        Some(json!("invalid_request"))
    );
    assert_eq!(stats(&fixture)["telemetry_events"], 1);
}

#[test]
fn step_results_are_checked_at_sync_time_and_stored_once() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("user", "alice");
    let alice = fixture.token("alice");
    let result = |id: &str, step: &str| {
        json!({ "id": id, "guide_id": DEMO_ID, "version": 1, "step_id": step,
                "completed_at": "2026-11-24T08:05:00Z", "value": { "torque_nm": 12.5 } })
    };
    let ok = "2b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d01";
    let batch = json!({ "results": [result(ok, "lock-out"), result("2b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d02", "no-such-step")] });
    let (status, outcome) = status_json(
        fixture
            .post(&alice, "/v1/results")
            .json(&batch)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{outcome:#}");
    assert_eq!(outcome["accepted"], json!([ok]));
    assert_eq!(outcome["rejected"][0]["code"], "not_found");
    let (_, again) = status_json(
        fixture
            .post(&alice, "/v1/results")
            .json(&batch)
            .send()
            .unwrap(),
    );
    assert_eq!(again["duplicates"], json!([ok]));
    let (_, mine) = status_json(fixture.get(&alice, "/v1/me/results").send().unwrap());
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["value"]["torque_nm"], 12.5);

    // Permission lost while offline (S6): the next sync rejects with a reason; nothing else lost.
    admin_json(
        &fixture.data(),
        &["guide", "revoke", DEMO_ID, "--user", "alice"],
    );
    let late = json!({ "results": [result("2b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d03", "lock-out")] });
    let (_, outcome) = status_json(
        fixture
            .post(&alice, "/v1/results")
            .json(&late)
            .send()
            .unwrap(),
    );
    assert_eq!(outcome["rejected"][0]["code"], "forbidden", "{outcome:#}");
    assert!(
        outcome["rejected"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("permission")
    );
    let (_, mine) = status_json(fixture.get(&alice, "/v1/me/results").send().unwrap());
    assert_eq!(
        mine.as_array().unwrap().len(),
        1,
        "the earlier result is kept"
    );
}

#[test]
fn a_result_for_a_deactivated_guide_is_rejected_as_deactivated() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("user", "alice");
    let alice = fixture.token("alice");
    admin_json(&fixture.data(), &["guide", "deactivate", DEMO_ID]);
    let batch = json!({ "results": [{ "id": "3b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d01", "guide_id": DEMO_ID,
        "version": 1, "step_id": "lock-out", "completed_at": "2026-11-24T08:05:00Z" }] });
    let (_, outcome) = status_json(
        fixture
            .post(&alice, "/v1/results")
            .json(&batch)
            .send()
            .unwrap(),
    );
    assert_eq!(
        outcome["rejected"][0]["code"], "guide_deactivated",
        "{outcome:#}"
    );
}

#[test]
fn an_item_id_used_by_another_user_is_rejected_not_overwritten() {
    let fixture = Fixture::new();
    let (alice, bob) = (fixture.token("alice"), fixture.token("bob"));
    let batch = json!({ "events": [{ "id": "4b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4d01", "kind": "session_start", "at": "2026-11-24T08:00:00Z" }] });
    fixture
        .post(&alice, "/v1/telemetry")
        .json(&batch)
        .send()
        .unwrap();
    let (_, outcome) = status_json(
        fixture
            .post(&bob, "/v1/telemetry")
            .json(&batch)
            .send()
            .unwrap(),
    );
    assert_eq!(outcome["rejected"][0]["code"], "id_taken");
}

#[test]
fn a_batch_over_the_limit_is_refused_whole() {
    let fixture = Fixture::new();
    let alice = fixture.token("alice");
    let events: Vec<Value> = (0..1001)
        .map(|i| json!({ "id": uuid::Uuid::new_v4(), "kind": "k", "at": "2026-11-24T08:00:00Z", "duration_ms": i }))
        .collect();
    let response = fixture
        .post(&alice, "/v1/telemetry")
        .json(&json!({ "events": events }))
        .send()
        .unwrap();
    assert_refused(response, 413, "too_large");
    assert_eq!(stats(&fixture)["telemetry_events"], 0);
}

#[test]
fn a_json_body_over_the_size_limit_is_refused_with_413() {
    let fixture = Fixture::new();
    let alice = fixture.token("alice");
    let huge = format!(
        "{{\"events\": [], \"padding\": \"{}\"}}",
        "x".repeat(3 * 1024 * 1024)
    );
    let response = fixture
        .post(&alice, "/v1/telemetry")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .unwrap();
    assert_refused(response, 413, "too_large");
}
