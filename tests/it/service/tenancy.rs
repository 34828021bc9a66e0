//! Organisations as tenants (N4): a user acts within their organisation; a guide id belongs to
//! the organisation that first published it; a server-wide admin spans them, explicitly.

use serde_json::json;

use super::*;

const RIVAL_ORG: &str = "rival-works";
const RIVAL_GUIDE: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

/// The demo package with its guide.json changed by `edit`, zipped.
fn demo_package_zip(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    zipped(&edited_demo_package(dir, name, edit))
}

/// The fixture (demo guide of DEMO_ORG) plus an author of a second organisation.
fn two_organisations() -> Fixture {
    let fixture = Fixture::new();
    add_user_of(&fixture.data(), RIVAL_ORG, "rival-author", "author", &[]);
    add_user_of(&fixture.data(), RIVAL_ORG, "rival-admin", "admin", &[]);
    fixture
}

/// What a victim's operator sees of the demo guide: metadata, link, latest manifest and the
/// bytes of every asset.
fn victims_view(fixture: &Fixture, token: &str) -> (Value, Value, Value, Vec<Vec<u8>>) {
    let (status, summary) = status_json(
        fixture
            .get(token, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{summary:#}");
    let (status, link) = status_json(
        fixture
            .get(token, &format!("/v1/links/{DEMO_ORG}/g/{DEMO_ID}"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{link:#}");
    let (status, mut manifest) = status_json(
        fixture
            .get(token, link["manifest"].as_str().unwrap())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{manifest:#}");
    let blobs = manifest["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|asset| {
            let response = fixture
                .get(
                    token,
                    &format!("/v1/blobs/{}", asset["sha256"].as_str().unwrap()),
                )
                .send()
                .unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().unwrap().to_vec()
        })
        .collect();
    // Renewed at every fetch (N1): not part of what must stay the same.
    manifest["lease_expires_at"] = Value::Null;
    (summary, link, manifest, blobs)
}

#[test]
fn a_package_with_another_organisations_guide_id_is_refused_and_leaves_that_guide_untouched() {
    let fixture = two_organisations();
    fixture.grant_demo_to("user", "alice");
    let alice = fixture.token("alice");
    let before = victims_view(&fixture, &alice);
    assert_eq!(before.0["organisation"], DEMO_ORG);

    let attacker = fixture.token("rival-author");
    let title = demo_guide_json()["title"].as_str().unwrap().to_owned();
    // The attacker's own organisation on the victim's id: the id is taken.
    let takeover = demo_package_zip(fixture.dir.path(), "takeover", |guide| {
        guide["organisation"] = json!(RIVAL_ORG);
        guide["title"] = json!("Taken over");
    });
    let body = assert_refused(fixture.publish(&attacker, takeover), 409, "conflict");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(DEMO_ID), "says which id: {message}");
    assert!(
        !message.contains(DEMO_ORG) && !message.contains(&title),
        "names neither the owner nor the title: {message}"
    );
    // The victim's organisation written into the package: not the attacker's to publish for.
    let impersonation = demo_package_zip(fixture.dir.path(), "impersonation", |guide| {
        guide["title"] = json!("Taken over");
    });
    let body = assert_refused(fixture.publish(&attacker, impersonation), 403, "forbidden");
    assert!(
        !body["message"].as_str().unwrap().contains(&title),
        "{body:#}"
    );

    assert_eq!(victims_view(&fixture, &alice), before);
    let (status, _) = status_json(
        fixture
            .get(&alice, &format!("/v1/guides/{DEMO_ID}/versions/2"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404, "no version 2 was published");
    assert_eq!(admin_json(&fixture.data(), &["stats"])["versions"], 1);
}

#[test]
fn authors_and_operators_list_and_read_only_their_own_organisations_guides() {
    let fixture = two_organisations();
    let rival = fixture.token("rival-author");
    let rival_package = demo_package_zip(fixture.dir.path(), "rival", |guide| {
        guide["id"] = json!(RIVAL_GUIDE);
        guide["organisation"] = json!(RIVAL_ORG);
        guide["title"] = json!("Rival secret procedure");
    });
    let (status, published) = status_json(fixture.publish(&rival, rival_package));
    assert_eq!(status, 201, "{published:#}");

    let ids = |token: &str| -> Vec<String> {
        let (status, list) = status_json(fixture.get(token, "/v1/guides").send().unwrap());
        assert_eq!(status, 200, "{list:#}");
        list.as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let author = fixture.token("author");
    let admin = fixture.token("admin");
    assert_eq!(ids(&author), vec![DEMO_ID.to_owned()]);
    assert_eq!(ids(&admin), vec![DEMO_ID.to_owned()]);
    assert_eq!(ids(&rival), vec![RIVAL_GUIDE.to_owned()]);

    // Another organisation's guide answers exactly as one that does not exist.
    let unknown = "00000000-0000-4000-8000-000000000000";
    for token in [&author, &admin] {
        for path in [
            format!("/v1/guides/{RIVAL_GUIDE}"),
            format!("/v1/guides/{RIVAL_GUIDE}/versions/1"),
            format!("/v1/links/{RIVAL_ORG}/g/{RIVAL_GUIDE}"),
        ] {
            let body = assert_refused(fixture.get(token, &path).send().unwrap(), 404, "not_found");
            let message = body["message"].as_str().unwrap();
            assert!(!message.contains("Rival secret"), "{message}");
            let (_, twin) = status_json(
                fixture
                    .get(token, &path.replace(RIVAL_GUIDE, unknown))
                    .send()
                    .unwrap(),
            );
            assert_eq!(
                message.replace(RIVAL_GUIDE, unknown),
                twin["message"],
                "{path}: same answer as for an unknown guide"
            );
        }
    }
    // Nor can the other organisation's admin manage it.
    for (method, path, body) in [
        (
            "POST",
            format!("/v1/guides/{RIVAL_GUIDE}/deactivate"),
            json!(null),
        ),
        (
            "GET",
            format!("/v1/guides/{RIVAL_GUIDE}/permissions"),
            json!(null),
        ),
        (
            "POST",
            format!("/v1/guides/{RIVAL_GUIDE}/permissions"),
            json!({ "kind": "user", "name": "alice" }),
        ),
        (
            "PUT",
            format!("/v1/guides/{RIVAL_GUIDE}/tags"),
            json!({ "tags": ["x"] }),
        ),
    ] {
        let mut request = fixture
            .http
            .request(method.parse().unwrap(), fixture.url(&path))
            .bearer_auth(&admin);
        if !body.is_null() {
            request = request.json(&body);
        }
        assert_refused(request.send().unwrap(), 404, "not_found");
    }
    // The rival's admin lists and adds users in their own organisation only.
    let rival_admin = fixture.token("rival-admin");
    let (_, users) = status_json(fixture.get(&rival_admin, "/v1/admin/users").send().unwrap());
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rival-admin", "rival-author"]);
    assert_refused(
        fixture
            .post(&rival_admin, "/v1/admin/users")
            .json(
                &json!({ "username": "mole", "password": "a-password", "role": "author",
                           "organisation": DEMO_ORG }),
            )
            .send()
            .unwrap(),
        403,
        "forbidden",
    );
    let (status, mole) = status_json(
        fixture
            .post(&rival_admin, "/v1/admin/users")
            .json(&json!({ "username": "mole", "password": "a-password", "role": "author" }))
            .send()
            .unwrap(),
    );
    assert_eq!((status, &mole["organisation"]), (201, &json!(RIVAL_ORG)));
}

#[test]
fn only_a_server_wide_admin_made_on_the_command_line_spans_organisations() {
    let fixture = two_organisations();
    let data = fixture.data();
    // Never for a non-admin, never the default.
    let refused = admin(
        &data,
        &[
            "user",
            "add",
            "eve",
            "--role",
            "author",
            "--organisation",
            DEMO_ORG,
            "--all-organisations",
            "--password",
            "a-password",
        ],
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only an admin may span"));
    let root = admin_json(
        &data,
        &[
            "user",
            "add",
            "root",
            "--role",
            "admin",
            "--organisation",
            DEMO_ORG,
            "--all-organisations",
            "--password",
            &password("root"),
        ],
    );
    assert_eq!(root["all_organisations"], true);
    assert_eq!(
        admin_json(&data, &["user", "list"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["all_organisations"] == true)
            .count(),
        1,
        "only root spans"
    );

    let rival = fixture.token("rival-author");
    let rival_package = demo_package_zip(fixture.dir.path(), "rival", |guide| {
        guide["id"] = json!(RIVAL_GUIDE);
        guide["organisation"] = json!(RIVAL_ORG);
    });
    assert_eq!(fixture.publish(&rival, rival_package).status(), 201);

    let root = fixture.token("root");
    let (_, list) = status_json(fixture.get(&root, "/v1/guides").send().unwrap());
    let mut organisations: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["organisation"].as_str().unwrap())
        .collect();
    organisations.sort();
    assert_eq!(organisations, [DEMO_ORG, RIVAL_ORG]);
    let (status, _) = status_json(
        fixture
            .post(&root, &format!("/v1/guides/{RIVAL_GUIDE}/deactivate"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "root manages the rival's guide");
    let (status, user) = status_json(
        fixture
            .post(&root, "/v1/admin/users")
            .json(
                &json!({ "username": "hire", "password": "a-password", "role": "operator",
                           "organisation": RIVAL_ORG }),
            )
            .send()
            .unwrap(),
    );
    assert_eq!((status, &user["organisation"]), (201, &json!(RIVAL_ORG)));
    assert_eq!(user["all_organisations"], false);
    let (_, users) = status_json(fixture.get(&root, "/v1/admin/users").send().unwrap());
    let mut organisations: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["organisation"].as_str().unwrap())
        .collect();
    organisations.sort();
    organisations.dedup();
    assert_eq!(
        organisations.len(),
        2,
        "root lists both organisations' users: {users:#}"
    );
    // An organisation's admin cannot make a server-wide one over HTTP.
    let admin_token = fixture.token("admin");
    assert_refused(
        fixture
            .post(&admin_token, "/v1/admin/users")
            .json(
                &json!({ "username": "root2", "password": "a-password", "role": "admin",
                           "all_organisations": true }),
            )
            .send()
            .unwrap(),
        400,
        "invalid_request",
    );
}

#[test]
fn profiles_telemetry_and_results_stay_within_the_organisation() {
    let fixture = two_organisations();
    let admin = fixture.token("admin");
    let (status, profile) = status_json(
        fixture
            .post(&admin, "/v1/admin/profiles")
            .json(&json!({ "name": "line-1", "guide_ids": [DEMO_ID] }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{profile:#}");
    assert_eq!(profile["organisation"], DEMO_ORG);
    // A member is a user of the profile's organisation.
    assert_refused(
        fixture
            .post(&admin, "/v1/admin/profiles/line-1/members")
            .json(&json!({ "username": "rival-author" }))
            .send()
            .unwrap(),
        404,
        "not_found",
    );

    let rival_admin = fixture.token("rival-admin");
    let (_, list) = status_json(
        fixture
            .get(&rival_admin, "/v1/admin/profiles")
            .send()
            .unwrap(),
    );
    assert_eq!(
        list,
        json!([]),
        "another organisation's profiles are not listed"
    );
    let url = fixture.url("/v1/admin/profiles/line-1");
    for request in [
        fixture.http.get(&url),
        fixture
            .http
            .patch(&url)
            .json(&json!({ "description": "mine now" })),
        fixture.http.delete(&url),
        fixture
            .http
            .post(format!("{url}/members"))
            .json(&json!({ "username": "rival-author" })),
    ] {
        assert_refused(
            request.bearer_auth(&rival_admin).send().unwrap(),
            404,
            "not_found",
        );
    }
    // Nor may a profile select another organisation's guide.
    assert_refused(
        fixture
            .post(&rival_admin, "/v1/admin/profiles")
            .json(&json!({ "name": "line-1", "guide_ids": [DEMO_ID] }))
            .send()
            .unwrap(),
        404,
        "not_found",
    );
    // Names are the organisation's own: the rival may have a "line-1" too.
    let (status, own) = status_json(
        fixture
            .post(&rival_admin, "/v1/admin/profiles")
            .json(&json!({ "name": "line-1" }))
            .send()
            .unwrap(),
    );
    assert_eq!(
        (status, &own["organisation"]),
        (201, &json!(RIVAL_ORG)),
        "{own:#}"
    );
    let (_, unchanged) = status_json(
        fixture
            .get(&admin, "/v1/admin/profiles/line-1")
            .send()
            .unwrap(),
    );
    assert_eq!(unchanged["revision"], profile["revision"]);

    // Telemetry and results about another organisation's guide are refused, item by item.
    let rival = fixture.token("rival-author");
    let event = "0b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4f01";
    let (status, outcome) = status_json(
        fixture
            .post(&rival, "/v1/telemetry")
            .json(&json!({ "events": [{ "id": event, "kind": "step_viewed",
                "at": "2026-11-24T08:00:00Z", "guide_id": DEMO_ID, "step_id": "lock-out" }] }))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{outcome:#}");
    assert_eq!(outcome["rejected"][0]["code"], "not_found", "{outcome:#}");
    let result = "0b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4f02";
    let (status, outcome) = status_json(
        fixture
            .post(&rival, "/v1/results")
            .json(
                &json!({ "results": [{ "id": result, "guide_id": DEMO_ID, "version": 1,
                "step_id": "lock-out", "completed_at": "2026-11-24T08:00:00Z" }] }),
            )
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{outcome:#}");
    assert_eq!(outcome["rejected"][0]["code"], "not_found", "{outcome:#}");
    let stats = admin_json(&fixture.data(), &["stats"]);
    assert_eq!(
        (&stats["telemetry_events"], &stats["results"]),
        (&json!(0), &json!(0))
    );
}
