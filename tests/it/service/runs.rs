//! N6 audits: a guide's runs, rebuilt on the service from the answers devices uploaded — each
//! step's final answer, what it corrected, who answered on which device — as JSON
//! (`GET /v1/runs`, admins only) and CSV or JSON (`hologuide-server runs export`).

use serde_json::{Value, json};

use super::*;

const GUIDE: &str = "8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f1a";

fn publish_branching_guide(fixture: &Fixture) {
    let dir = fixture.dir.path().join("inspect");
    std::fs::create_dir_all(&dir).unwrap();
    let guide = json!({
        "schema_version": 2, "id": GUIDE, "version": 1, "title": "Inspect the cartridge",
        "organisation": DEMO_ORG, "modified_at": "2026-11-20T08:15:00Z",
        "tasks": [{ "id": "t", "title": "Inspect", "steps": [
            { "id": "s1", "title": "Inspect", "body": "Damaged?",
              "capture": { "kind": "choice", "options": [
                  { "label": "Damaged", "goto": "s2" }, { "label": "Fine, really", "goto": "s3" } ] } },
            { "id": "s2", "title": "Replace", "body": "Fit a new one.",
              "capture": { "kind": "check" } },
            { "id": "s3", "title": "Close", "body": "Close it." }
        ] }]
    });
    std::fs::write(dir.join("guide.json"), guide.to_string()).unwrap();
    admin_json(
        &fixture.data(),
        &["guide", "publish", dir.to_str().unwrap(), "--as", "author"],
    );
    admin_json(
        &fixture.data(),
        &["guide", "grant", GUIDE, "--user", "alice"],
    );
}

fn record(id: u128, step: &str, value: Value) -> Value {
    json!({
        "id": uuid::Uuid::from_u128(id), "guide_id": GUIDE, "version": 1, "step_id": step,
        "completed_at": format!("2026-12-07T08:0{id}:00Z"), "value": value
    })
}

#[test]
fn n6_a_guides_runs_rebuild_the_final_answers_for_admins_as_json_and_csv() {
    let fixture = Fixture::new();
    publish_branching_guide(&fixture);
    let alice = fixture.token("alice");
    let first = uuid::Uuid::from_u128(1).to_string();
    let batch = json!({ "results": [
        record(1, "s1", json!({ "kind": "choice", "option": 1, "label": "Fine, really", "run": "r1" })),
        record(2, "s1", json!({ "kind": "choice", "option": 0, "label": "Damaged", "run": "r1",
                                "supersedes": first })),
        record(3, "s2", json!({ "kind": "check", "state": "done", "run": "r1" })),
    ] });
    let (status, outcome) = status_json(
        fixture
            .post(&alice, "/v1/results")
            .json(&batch)
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, outcome["accepted"].as_array().map(Vec::len)),
        (200, Some(3)),
        "{outcome:#}"
    );

    let admin = fixture.token("admin");
    let (status, runs) = status_json(
        fixture
            .get(&admin, &format!("/v1/runs?guide={GUIDE}"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{runs:#}");
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["username"], "alice");
    let answers: Vec<(String, String, Value)> = runs[0]["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["step_id"].as_str().unwrap().to_owned(),
                a["answer"].as_str().unwrap().to_owned(),
                a["corrected"].clone(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            (
                "s1".to_owned(),
                "Damaged".to_owned(),
                json!(["Fine, really"])
            ),
            ("s2".to_owned(), "Done".to_owned(), json!([])),
        ]
    );

    // `since` as clients encode it: an offset of +01:00 percent-encoded (lower-case hex), or its '+' left
    // as it is (a space once decoded). From 08:02:30Z on, only the check at 08:03 remains.
    for since in [
        "2026-12-07T09%3a02%3a30%2b01%3a00",
        "2026-12-07T09:02:30+01:00",
    ] {
        let (status, later) = status_json(
            fixture
                .get(&admin, &format!("/v1/runs?guide={GUIDE}&since={since}"))
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{since}: {later:#}");
        let steps: Vec<&str> = later[0]["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["step_id"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["s2"], "{since}: {later:#}");
    }

    // Later than every answer: nothing.
    let (_, later) = status_json(
        fixture
            .get(
                &admin,
                &format!("/v1/runs?guide={GUIDE}&since=2026-12-08T00:00:00Z"),
            )
            .send()
            .unwrap(),
    );
    assert_eq!(later, json!([]));
    // Operators may not read others' runs; the guide must be named.
    let (status, _) = status_json(
        fixture
            .get(&alice, &format!("/v1/runs?guide={GUIDE}"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 403);
    let (status, body) = status_json(fixture.get(&admin, "/v1/runs").send().unwrap());
    assert_eq!(status, 400, "{body:#}");

    let exported = admin_json(
        &fixture.data(),
        &["runs", "export", "--guide", GUIDE, "--format", "json"],
    );
    assert_eq!(
        exported, runs,
        "the command line exports what the API answers"
    );
    let text = runs_csv(&fixture.data(), GUIDE);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "run,user,device,started_at,step_id,answer,out_of_limits,corrected_from,answered_at,photo_sha256"
    );
    assert!(lines[1].starts_with("r1,alice,"), "{text}");
    assert!(
        lines[1].ends_with(",s1,Damaged,,\"Fine, really\",2026-12-07T08:02:00Z,"),
        "{text}"
    );
    assert_eq!(lines.len(), 3, "{text}");
}
