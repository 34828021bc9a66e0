//! Blobs: content addressing, ETag, Content-Length and resumable Range downloads.

use super::*;

/// alice may open the demo guide; returns her token and the manifest's assets.
fn setup(fixture: &Fixture) -> (String, Vec<Value>) {
    fixture.grant_demo_to("user", "alice");
    let alice = fixture.token("alice");
    let (_, manifest) = status_json(
        fixture
            .get(&alice, &format!("/v1/guides/{DEMO_ID}/versions/1"))
            .send()
            .unwrap(),
    );
    (alice, manifest["assets"].as_array().unwrap().clone())
}

#[test]
fn every_asset_of_a_manifest_downloads_with_its_hash_length_and_etag() {
    let fixture = Fixture::new();
    let (alice, assets) = setup(&fixture);
    assert_eq!(assets.len(), 7, "the demo guide's seven models");
    for asset in assets {
        let sha = asset["sha256"].as_str().unwrap();
        let response = fixture
            .get(&alice, &format!("/v1/blobs/{sha}"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["etag"], format!("\"{sha}\"").as_str());
        assert_eq!(headers["accept-ranges"], "bytes");
        assert_eq!(
            headers["content-length"],
            asset["bytes"].to_string().as_str()
        );
        let bytes = response.bytes().unwrap();
        assert_eq!(bytes.len() as u64, asset["bytes"].as_u64().unwrap());
        assert_eq!(sha256_hex(&bytes), sha);
        let on_disk = std::fs::read(
            repo()
                .join("assets/demo")
                .join(asset["path"].as_str().unwrap()),
        )
        .unwrap();
        assert_eq!(bytes.as_ref(), on_disk.as_slice());
    }
}

#[test]
fn a_broken_download_resumes_with_a_range_request() {
    let fixture = Fixture::new();
    let (alice, assets) = setup(&fixture);
    let sha = assets[0]["sha256"].as_str().unwrap();
    let size = assets[0]["bytes"].as_u64().unwrap();
    let url = format!("/v1/blobs/{sha}");
    let first = fixture
        .get(&alice, &url)
        .header("range", "bytes=0-999")
        .send()
        .unwrap();
    assert_eq!(first.status(), 206);
    assert_eq!(
        first.headers()["content-range"],
        format!("bytes 0-999/{size}").as_str()
    );
    assert_eq!(first.headers()["content-length"], "1000");
    let mut joined = first.bytes().unwrap().to_vec();
    let rest = fixture
        .get(&alice, &url)
        .header("range", "bytes=1000-")
        .header("if-range", format!("\"{sha}\""))
        .send()
        .unwrap();
    assert_eq!(rest.status(), 206);
    assert_eq!(
        rest.headers()["content-length"],
        (size - 1000).to_string().as_str()
    );
    joined.extend_from_slice(&rest.bytes().unwrap());
    assert_eq!(sha256_hex(&joined), sha);
    let stale = fixture
        .get(&alice, &url)
        .header("range", "bytes=1000-")
        .header("if-range", "\"something-else\"")
        .send()
        .unwrap();
    assert_eq!(
        stale.status(),
        200,
        "a stale partial copy gets the whole blob"
    );
}

#[test]
fn a_range_beyond_the_size_is_416_naming_the_size() {
    let fixture = Fixture::new();
    let (alice, assets) = setup(&fixture);
    let sha = assets[0]["sha256"].as_str().unwrap();
    let size = assets[0]["bytes"].as_u64().unwrap();
    let response = fixture
        .get(&alice, &format!("/v1/blobs/{sha}"))
        .header("range", format!("bytes={size}-"))
        .send()
        .unwrap();
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );
    assert_refused(response, 416, "range_not_satisfiable");
}

#[test]
fn a_matching_if_none_match_is_a_304_without_body() {
    let fixture = Fixture::new();
    let (alice, assets) = setup(&fixture);
    let sha = assets[0]["sha256"].as_str().unwrap();
    let response = fixture
        .get(&alice, &format!("/v1/blobs/{sha}"))
        .header("if-none-match", format!("\"{sha}\""))
        .send()
        .unwrap();
    assert_eq!(response.status(), 304);
    assert!(response.bytes().unwrap().is_empty());
}

#[test]
fn unknown_content_hashes_and_non_hashes_are_404() {
    let fixture = Fixture::new();
    let (alice, _) = setup(&fixture);
    let unknown = sha256_hex(b"nothing published has these bytes");
    assert_refused(
        fixture
            .get(&alice, &format!("/v1/blobs/{unknown}"))
            .send()
            .unwrap(),
        404,
        "not_found",
    );
    assert_refused(
        fixture
            .get(&alice, "/v1/blobs/..%2F..%2Fservice.db")
            .send()
            .unwrap(),
        404,
        "not_found",
    );
}

/// 404 with the same words as for content no guide holds: a 403 would tell an operator that
/// the content exists.
#[test]
fn a_blob_of_a_guide_the_user_may_not_open_answers_as_unknown_content_does() {
    let fixture = Fixture::new();
    let (_, assets) = setup(&fixture);
    let held = assets[0]["sha256"].as_str().unwrap();
    let unknown = sha256_hex(b"content no guide holds");
    let bob = fixture.token("bob");
    let answer = |sha: &str| {
        let body = assert_refused(
            fixture
                .get(&bob, &format!("/v1/blobs/{sha}"))
                .send()
                .unwrap(),
            404,
            "not_found",
        );
        body["message"].as_str().unwrap().replace(sha, "<hash>")
    };
    assert_eq!(answer(held), answer(&unknown));
}

#[test]
fn a_blob_missing_from_disk_is_a_500_that_reveals_no_path() {
    let fixture = Fixture::new();
    let (alice, assets) = setup(&fixture);
    let sha = assets[0]["sha256"].as_str().unwrap();
    std::fs::remove_file(fixture.data().join("blobs").join(&sha[..2]).join(sha)).unwrap();
    let body = assert_refused(
        fixture
            .get(&alice, &format!("/v1/blobs/{sha}"))
            .send()
            .unwrap(),
        500,
        "internal",
    );
    assert!(!body["message"].as_str().unwrap().contains("/"), "{body:#}");
}

#[test]
fn a_method_an_endpoint_does_not_take_is_a_json_405_a_device_can_show() {
    let fixture = Fixture::new();
    let (alice, assets) = setup(&fixture);
    let sha = assets[0]["sha256"].as_str().unwrap();
    let response = client()
        .delete(fixture.url(&format!("/v1/blobs/{sha}")))
        .bearer_auth(&alice)
        .send()
        .unwrap();
    let body = assert_refused(response, 405, "method_not_allowed");
    assert!(
        body["message"].as_str().unwrap().contains("DELETE"),
        "{body:#}"
    );
}
