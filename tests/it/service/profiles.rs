//! Offline profiles (S1–S4) and the member's manifest (S2, S7, S8).

use serde_json::json;

use super::*;

fn create(fixture: &Fixture, admin: &str, body: Value) -> (u16, Value) {
    status_json(
        fixture
            .post(admin, "/v1/admin/profiles")
            .json(&body)
            .send()
            .unwrap(),
    )
}

fn add_member(fixture: &Fixture, admin: &str, profile: &str, user: &str) -> Response {
    fixture
        .post(admin, &format!("/v1/admin/profiles/{profile}/members"))
        .json(&json!({ "username": user }))
        .send()
        .unwrap()
}

#[test]
fn profiles_are_created_listed_updated_and_deleted_by_admins() {
    let fixture = Fixture::new();
    let admin = fixture.token("admin");
    let (status, profile) = create(
        &fixture,
        &admin,
        json!({ "name": "line-1", "description": "Line 1 operators", "guide_ids": [DEMO_ID] }),
    );
    assert_eq!(status, 201, "{profile:#}");
    assert_eq!(profile["modified_within_days"], 10, "S3 default");
    assert_eq!(profile["revision"], 1);
    let (status, _) = create(&fixture, &admin, json!({ "name": "line-1" }));
    assert_eq!(status, 409);
    let response = fixture
        .http
        .patch(fixture.url("/v1/admin/profiles/line-1"))
        .bearer_auth(&admin)
        .json(&json!({ "description": "Line 1, all shifts", "modified_within_days": null }))
        .send()
        .unwrap();
    let (status, updated) = status_json(response);
    assert_eq!(status, 200, "{updated:#}");
    assert_eq!(updated["description"], "Line 1, all shifts");
    assert_eq!(updated["modified_within_days"], Value::Null);
    assert_eq!(
        updated["guide_ids"],
        json!([DEMO_ID]),
        "absent fields keep their value"
    );
    assert!(updated["revision"].as_u64().unwrap() > 1);
    let (_, list) = status_json(fixture.get(&admin, "/v1/admin/profiles").send().unwrap());
    assert_eq!(list.as_array().unwrap().len(), 1);
    let response = fixture
        .http
        .delete(fixture.url("/v1/admin/profiles/line-1"))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_refused(
        fixture
            .get(&admin, "/v1/admin/profiles/line-1")
            .send()
            .unwrap(),
        404,
        "not_found",
    );
}

#[test]
fn operators_may_not_manage_profiles() {
    let fixture = Fixture::new();
    let alice = fixture.token("alice");
    let response = fixture
        .post(&alice, "/v1/admin/profiles")
        .json(&json!({ "name": "mine" }))
        .send()
        .unwrap();
    assert_refused(response, 403, "forbidden");
}

#[test]
fn a_user_in_one_profile_cannot_join_a_second_and_the_error_names_the_first() {
    let fixture = Fixture::new();
    let admin = fixture.token("admin");
    create(&fixture, &admin, json!({ "name": "early-shift" }));
    create(&fixture, &admin, json!({ "name": "late-shift" }));
    assert_eq!(
        add_member(&fixture, &admin, "early-shift", "alice").status(),
        200
    );
    let body = assert_refused(
        add_member(&fixture, &admin, "late-shift", "alice"),
        409,
        "conflict",
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("early-shift") && message.contains("alice"),
        "{message}"
    );
    assert_eq!(
        add_member(&fixture, &admin, "early-shift", "alice").status(),
        200,
        "adding again to the same one is fine"
    );
}

#[test]
fn the_manifest_lists_the_selected_guides_with_their_bytes_and_a_revision() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("group", "line-1");
    let admin = fixture.token("admin");
    create(
        &fixture,
        &admin,
        json!({ "name": "line-1", "tags": ["pumps"] }),
    );
    add_member(&fixture, &admin, "line-1", "alice");
    let alice = fixture.token("alice");
    let manifest = || {
        let (status, body) = status_json(
            fixture
                .get(&alice, "/v1/me/profile/manifest")
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{body:#}");
        body
    };
    let before = manifest();
    assert_eq!(before["guides"], json!([]), "nothing is tagged 'pumps' yet");
    admin_json(&fixture.data(), &["guide", "tag", DEMO_ID, "pumps"]);
    let tagged = manifest();
    assert!(
        tagged["revision"].as_u64() > before["revision"].as_u64(),
        "S7: tagging changes the revision"
    );
    let guide = &tagged["guides"][0];
    assert_eq!(guide["id"], DEMO_ID);
    let asset_bytes: u64 = guide["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(guide["bytes"].as_u64().unwrap(), asset_bytes);
    assert_eq!(
        tagged["total_bytes"].as_u64().unwrap(),
        asset_bytes,
        "S8: bytes to download"
    );
    let unchanged = manifest();
    assert_eq!(
        unchanged["revision"], tagged["revision"],
        "no change, same revision"
    );
    let author = fixture.token("author");
    let archive = fixture.dir.path().join("demo.zip");
    crate::support::zip_dir(&repo().join("assets/demo"), &archive);
    fixture
        .post(&author, "/v1/guides")
        .body(std::fs::read(&archive).unwrap())
        .send()
        .unwrap();
    let republished = manifest();
    assert!(
        republished["revision"].as_u64() > tagged["revision"].as_u64(),
        "S7: a new version changes the revision"
    );
    assert_eq!(republished["guides"][0]["version"], 2);
    admin_json(&fixture.data(), &["guide", "deactivate", DEMO_ID]);
    let deactivated = manifest();
    assert!(deactivated["revision"].as_u64() > republished["revision"].as_u64());
    assert_eq!(deactivated["guides"], json!([]));
    assert_eq!(deactivated["total_bytes"], 0);
}

#[test]
fn the_manifest_holds_only_guides_the_member_may_open() {
    let fixture = Fixture::new();
    let admin = fixture.token("admin");
    create(
        &fixture,
        &admin,
        json!({ "name": "line-2", "guide_ids": [DEMO_ID] }),
    );
    add_member(&fixture, &admin, "line-2", "bob");
    let bob = fixture.token("bob");
    let (_, manifest) = status_json(fixture.get(&bob, "/v1/me/profile/manifest").send().unwrap());
    assert_eq!(
        manifest["guides"],
        json!([]),
        "bob has no permission on the guide"
    );
    fixture.grant_demo_to("user", "bob");
    let (_, manifest) = status_json(fixture.get(&bob, "/v1/me/profile/manifest").send().unwrap());
    assert_eq!(manifest["guides"][0]["id"], DEMO_ID);
}

#[test]
fn a_user_in_no_profile_gets_a_404_for_the_manifest() {
    let fixture = Fixture::new();
    let bob = fixture.token("bob");
    assert_refused(
        fixture.get(&bob, "/v1/me/profile/manifest").send().unwrap(),
        404,
        "not_found",
    );
}

#[test]
fn a_device_polling_the_manifest_gets_304_until_something_changes() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("user", "alice");
    let admin = fixture.token("admin");
    create(
        &fixture,
        &admin,
        json!({ "name": "line-1", "guide_ids": [DEMO_ID] }),
    );
    add_member(&fixture, &admin, "line-1", "alice");
    let alice = fixture.token("alice");
    let first = fixture
        .get(&alice, "/v1/me/profile/manifest")
        .send()
        .unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let poll = || {
        fixture
            .get(&alice, "/v1/me/profile/manifest")
            .header("if-none-match", &etag)
            .send()
            .unwrap()
    };
    assert_eq!(poll().status(), 304);
    admin_json(
        &fixture.data(),
        &["guide", "revoke", DEMO_ID, "--user", "alice"],
    );
    let (status, changed) = status_json(poll());
    assert_eq!(
        status, 200,
        "a lost permission changes what the device should hold"
    );
    assert_eq!(changed["guides"], json!([]));
}

#[test]
fn a_profile_naming_a_guide_that_does_not_exist_is_refused() {
    let fixture = Fixture::new();
    let admin = fixture.token("admin");
    let (status, body) = create(
        &fixture,
        &admin,
        json!({ "name": "typo", "guide_ids": ["00000000-0000-0000-0000-000000000001"] }),
    );
    assert_eq!(
        (status, body["error"].clone()),
        (404, json!("not_found")),
        "{body:#}"
    );
}
