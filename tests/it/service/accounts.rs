//! Accounts: sign-in, tokens, refresh, sign-out, devices (F4, F5, F10).

use serde_json::json;

use super::*;

#[test]
fn sign_in_gives_access_and_refresh_tokens_and_me_names_the_user_and_device() {
    let fixture = Fixture::new();
    let session = fixture.session("alice", "hl2-0042");
    assert!(
        session["access_token"]
            .as_str()
            .unwrap()
            .starts_with("hga_")
    );
    assert!(
        session["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("hgr_")
    );
    let refresh_expires = time::OffsetDateTime::parse(
        session["refresh_expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (refresh_expires - time::OffsetDateTime::now_utc()).whole_days();
    assert!(
        (89..=90).contains(&days),
        "refresh window is 90 days (F10), got {days}"
    );
    let token = session["access_token"].as_str().unwrap();
    let (status, me) = status_json(fixture.get(token, "/v1/me").send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(me["user"]["username"], "alice");
    assert_eq!(me["user"]["role"], "operator");
    assert_eq!(me["user"]["groups"], json!(["line-1"]));
    assert_eq!(me["device_id"], "hl2-0042");
}

#[test]
fn each_device_a_user_signs_in_on_is_recorded() {
    let fixture = Fixture::new();
    fixture.session("alice", "hl2-a");
    let token = fixture.session("alice", "hl2-b")["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, me) = status_json(fixture.get(&token, "/v1/me").send().unwrap());
    let devices: Vec<&str> = me["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(devices, ["hl2-a", "hl2-b"]);
}

#[test]
fn wrong_password_and_unknown_user_are_refused_alike() {
    let fixture = Fixture::new();
    let wrong = assert_refused(
        fixture.sign_in_raw("alice", "not-her-password", "d1"),
        401,
        "invalid_credentials",
    );
    let unknown = assert_refused(
        fixture.sign_in_raw("nobody", "whatever-password", "d1"),
        401,
        "invalid_credentials",
    );
    assert_eq!(wrong["message"], unknown["message"]);
}

#[test]
fn a_device_id_that_is_not_printable_is_refused() {
    let fixture = Fixture::new();
    assert_refused(
        fixture.sign_in_raw("alice", &password("alice"), "dev ice/../1"),
        400,
        "invalid_request",
    );
}

#[test]
fn requests_without_or_with_a_forged_token_are_401() {
    let fixture = Fixture::new();
    assert_refused(
        fixture.http.get(fixture.url("/v1/guides")).send().unwrap(),
        401,
        "missing_token",
    );
    let forged = format!("hga_{}", "0".repeat(64));
    assert_refused(
        fixture.get(&forged, "/v1/guides").send().unwrap(),
        401,
        "invalid_token",
    );
}

#[test]
fn malformed_json_is_a_400_with_a_json_error() {
    let fixture = Fixture::new();
    let response = fixture
        .http
        .post(fixture.url("/v1/session"))
        .header("content-type", "application/json")
        .body("{\"username\": \"alice\", ")
        .send()
        .unwrap();
    assert_refused(response, 400, "invalid_request");
    let response = fixture
        .http
        .post(fixture.url("/v1/session"))
        .json(&json!({ "username": "alice", "password": 5, "device_id": "d" }))
        .send()
        .unwrap();
    assert_refused(response, 400, "invalid_request");
}

#[test]
fn an_expired_access_token_is_refused_and_a_refresh_gives_a_working_pair() {
    let fixture = Fixture::with_server_args(&["--access-token-ttl", "1"]);
    let session = fixture.session("alice", "hl2-1");
    let access = session["access_token"].as_str().unwrap();
    assert_eq!(fixture.get(access, "/v1/me").send().unwrap().status(), 200);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_refused(
        fixture.get(access, "/v1/me").send().unwrap(),
        401,
        "token_expired",
    );
    let response = fixture.refresh(&session["refresh_token"]);
    let (status, renewed) = status_json(response);
    assert_eq!(status, 200, "{renewed:#}");
    let new_access = renewed["access_token"].as_str().unwrap();
    assert_ne!(new_access, access);
    assert_eq!(renewed["device_id"], "hl2-1");
    assert_eq!(
        fixture.get(new_access, "/v1/me").send().unwrap().status(),
        200
    );
}

#[test]
fn a_refresh_repeated_at_once_gets_the_same_pair_and_is_refused_once_the_successor_is_used() {
    let fixture = Fixture::new();
    let session = fixture.session("alice", "hl2-1");
    let (status, renewed) = status_json(fixture.refresh(&session["refresh_token"]));
    assert_eq!(status, 200);
    // Killed before saving the answer: the same old token, within the grace period, gets the
    // same pair (idempotent refresh) instead of losing the session.
    let (status, again) = status_json(fixture.refresh(&session["refresh_token"]));
    assert_eq!(status, 200);
    assert_eq!(again["refresh_token"], renewed["refresh_token"]);
    assert_eq!(again["access_token"], renewed["access_token"]);
    assert_eq!(fixture.refresh(&renewed["refresh_token"]).status(), 200);
    // The successor was used: the old token is spent.
    assert_refused(
        fixture.refresh(&session["refresh_token"]),
        401,
        "invalid_token",
    );
}

#[test]
fn sign_out_revokes_the_access_and_the_refresh_token() {
    let fixture = Fixture::new();
    let session = fixture.session("alice", "hl2-1");
    let access = session["access_token"].as_str().unwrap();
    let response = fixture
        .http
        .delete(fixture.url("/v1/session"))
        .bearer_auth(access)
        .send()
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_refused(
        fixture.get(access, "/v1/me").send().unwrap(),
        401,
        "token_revoked",
    );
    let response = fixture.refresh(&session["refresh_token"]);
    assert_refused(response, 401, "token_revoked");
}

#[test]
fn tokens_and_passwords_are_not_stored_in_clear() {
    let fixture = Fixture::new();
    let session = fixture.session("alice", "hl2-1");
    // Every byte the service wrote: the database and its write-ahead log (or PostgreSQL's rows).
    let stored = super::database::stored_bytes(&fixture.data());
    let contains = |needle: &str| stored.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(contains("alice"), "the scan reads the database");
    for secret in [
        session["access_token"].as_str().unwrap(),
        session["refresh_token"].as_str().unwrap(),
        &password("alice"),
    ] {
        assert!(
            !contains(secret) && !contains(&hex::encode(secret)),
            "found a secret in clear in the data folder"
        );
    }
}

#[test]
fn a_restart_loses_no_user_session_or_guide() {
    let mut fixture = Fixture::new();
    let session = fixture.session("alice", "hl2-1");
    let access = session["access_token"].as_str().unwrap().to_owned();
    fixture.grant_demo_to("user", "alice");
    fixture.restart(&[]);
    let (status, guides) = status_json(fixture.get(&access, "/v1/guides").send().unwrap());
    assert_eq!(status, 200, "the access token survives a restart");
    assert_eq!(guides[0]["id"], DEMO_ID);
    let response = fixture.refresh(&session["refresh_token"]);
    assert_eq!(response.status(), 200);
}

#[test]
fn repeated_wrong_passwords_are_throttled_with_429_and_retry_after() {
    let fixture = Fixture::new();
    for _ in 0..5 {
        assert_refused(
            fixture.sign_in_raw("alice", "guess-password", "d1"),
            401,
            "invalid_credentials",
        );
    }
    let response = fixture.sign_in_raw("alice", &password("alice"), "d1");
    assert_eq!(response.headers()["retry-after"], "1");
    assert_refused(response, 429, "too_many_attempts");
    // Other users are not affected.
    assert_eq!(
        fixture.sign_in_raw("bob", &password("bob"), "d1").status(),
        201
    );
}
