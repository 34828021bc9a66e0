//! What a refusal may reveal, and what a hostile request may cost: no guide titles in a 403,
//! JSON for every refusal, no server paths, numbers and times range-checked, and no blob far
//! larger than the package that carried it. (Blob probing: `blobs.rs`.)

use serde_json::json;

use super::*;

#[test]
fn a_refusal_for_lack_of_permission_never_names_the_guides_title() {
    let fixture = Fixture::new();
    let bob = fixture.token("bob");
    let title = demo_guide_json()["title"].as_str().unwrap().to_owned();
    for path in [
        format!("/v1/guides/{DEMO_ID}"),
        format!("/v1/guides/{DEMO_ID}/versions/1"),
        format!("/v1/links/{DEMO_ORG}/g/{DEMO_ID}"),
    ] {
        let body = assert_refused(fixture.get(&bob, &path).send().unwrap(), 403, "forbidden");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("permission"), "{path}: {message}");
        assert!(!message.contains(&title), "{path}: {message}");
    }
}

#[test]
fn a_path_with_bad_percent_encoding_is_refused_with_a_json_error() {
    let fixture = Fixture::new();
    let admin = fixture.token("admin");
    for path in ["/v1/guides/%FF%FE", "/v1/blobs/%C0", "/v1/links/%FF/g/x"] {
        assert_refused(
            fixture.get(&admin, path).send().unwrap(),
            400,
            "invalid_request",
        );
    }
}

#[test]
fn a_refused_upload_never_shows_a_path_on_the_server() {
    let fixture = Fixture::new();
    let author = fixture.token("author");
    let data = fixture.data();
    let data_dir = data.to_string_lossy();
    let mut damaged = b"PK\x03\x04".to_vec();
    damaged.extend_from_slice(&[0x5a; 300]);
    for body in [damaged, b"plain text".to_vec()] {
        let refusal = assert_refused(fixture.publish(&author, body), 400, "invalid_request");
        let message = refusal["message"].as_str().unwrap();
        assert!(
            !message.contains(&*data_dir) && !message.contains("upload-") && !message.contains('/'),
            "{message}"
        );
    }
}

#[test]
fn telemetry_with_an_impossible_duration_or_year_is_refused_naming_the_field() {
    let fixture = Fixture::new();
    let alice = fixture.token("alice");
    let ok = "0b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4e01";
    let huge = "0b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4e02";
    let year_0 = "0b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4e03";
    let year_9999 = "0b6f2a70-3c1e-4f7b-9a55-6a1d2b3c4e04";
    let batch = json!({ "events": [
        { "id": ok, "kind": "session_start", "at": "2026-11-24T08:00:00Z", "duration_ms": 5300 },
        { "id": huge, "kind": "session_end", "at": "2026-11-24T08:00:00Z",
          "duration_ms": u64::MAX },
        { "id": year_0, "kind": "session_start", "at": "0000-01-01T00:00:00Z" },
        { "id": year_9999, "kind": "session_start", "at": "9999-12-31T23:59:59Z" },
    ]});
    let (status, outcome) = status_json(
        fixture
            .post(&alice, "/v1/telemetry")
            .json(&batch)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{outcome:#}");
    assert_eq!(outcome["accepted"], json!([ok]), "{outcome:#}");
    let reason = |id: &str| -> String {
        let rejected = outcome["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} is rejected: {outcome:#}"));
        assert_eq!(rejected["code"], "invalid_request");
        rejected["reason"].as_str().unwrap().to_owned()
    };
    assert!(reason(huge).contains("duration_ms"));
    assert!(reason(year_0).contains("at is"));
    assert!(reason(year_9999).contains("at is"));
    assert_eq!(
        admin_json(&fixture.data(), &["stats"])["telemetry_events"],
        1
    );
}

/// An entry that expands far beyond its compressed size is a zip bomb, however honest its
/// declared size: 64 MiB of zeros compress to about 64 KiB.
#[test]
fn a_package_whose_asset_expands_far_beyond_its_compressed_size_is_refused() {
    let fixture = Fixture::new();
    let author = fixture.token("author");
    let blobs_before = admin_json(&fixture.data(), &["stats"])["blobs"].clone();
    let package = edited_demo_package(fixture.dir.path(), "bomb", |guide| {
        guide["tasks"][0]["steps"][0]["media"] = json!({ "path": "media/huge.png" });
    });
    std::fs::create_dir_all(package.join("media")).unwrap();
    let mut picture = b"\x89PNG\r\n\x1a\n".to_vec();
    picture.resize(64 * 1024 * 1024, 0);
    std::fs::write(package.join("media/huge.png"), picture).unwrap();
    let body = zipped(&package);
    assert!(
        body.len() < 1024 * 1024,
        "the archive is small: {}",
        body.len()
    );
    let refusal = assert_refused(fixture.publish(&author, body), 422, "invalid_package");
    let problems = refusal["problems"].to_string();
    assert!(
        problems.contains("media/huge.png") && problems.contains("compress"),
        "{refusal:#}"
    );
    let stats = admin_json(&fixture.data(), &["stats"]);
    assert_eq!(
        (&stats["versions"], &stats["blobs"]),
        (&json!(1), &blobs_before)
    );
}

/// The service's memory must not grow with the size of a published asset: an honest 64 MiB
/// picture (noise, which does not compress) is checked from its first bytes and streamed to
/// the blob store. The bound is generous (a quarter of the asset) so that allocator and
/// runtime noise never fail it; holding the asset once in memory would take all of it.
#[test]
fn publishing_a_large_asset_does_not_hold_it_in_the_services_memory() {
    const PICTURE: usize = 64 * 1024 * 1024;
    let fixture = Fixture::new();
    let author = fixture.token("author");
    let package = edited_demo_package(fixture.dir.path(), "large", |guide| {
        guide["tasks"][0]["steps"][0]["media"] = json!({ "path": "media/large.png" });
    });
    std::fs::create_dir_all(package.join("media")).unwrap();
    let mut picture = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    while picture.len() < PICTURE {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        picture.extend_from_slice(&state.to_le_bytes());
    }
    std::fs::write(package.join("media/large.png"), &picture).unwrap();
    drop(picture);
    let body = zipped(&package);
    let before = fixture.server.peak_rss_bytes();
    let (status, manifest) = status_json(fixture.publish(&author, body));
    assert_eq!(status, 201, "{manifest:#}");
    let grown = fixture.server.peak_rss_bytes().saturating_sub(before);
    assert!(
        grown < PICTURE as u64 / 4,
        "publishing a {PICTURE}-byte asset raised the service's peak memory by {grown} bytes"
    );
}
