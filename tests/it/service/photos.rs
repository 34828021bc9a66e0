//! N6 photos on the service (SQLite, and PostgreSQL in its suite): a photo is kept once under
//! the SHA-256 of its JPEG, refused when it is not what it is named, given back only to its
//! sender and their organisation's admins, and a record may only name a photo its sender sent.

use serde_json::{Value, json};

use super::*;

const GUIDE: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

fn publish_photo_guide(fixture: &Fixture) {
    let dir = fixture.dir.path().join("evidence");
    std::fs::create_dir_all(&dir).unwrap();
    let guide = json!({
        "schema_version": 2, "id": GUIDE, "version": 1, "title": "Photograph the seal",
        "organisation": DEMO_ORG, "modified_at": "2026-11-20T08:15:00Z",
        "tasks": [{ "id": "t", "title": "Evidence", "steps": [
            { "id": "seal", "title": "Photograph the seal", "body": "All of it.",
              "capture": { "kind": "photo" } }
        ] }]
    });
    std::fs::write(dir.join("guide.json"), guide.to_string()).unwrap();
    admin_json(
        &fixture.data(),
        &["guide", "publish", dir.to_str().unwrap(), "--as", "author"],
    );
    for user in ["alice", "bob"] {
        admin_json(&fixture.data(), &["guide", "grant", GUIDE, "--user", user]);
    }
}

fn jpeg() -> Vec<u8> {
    let picture =
        image::GrayImage::from_fn(64, 48, |x, y| image::Luma([((x * 4 + y) % 256) as u8]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    picture
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .unwrap();
    bytes.into_inner()
}

fn put(fixture: &Fixture, token: &str, sha256: &str, body: Vec<u8>) -> reqwest::blocking::Response {
    fixture
        .http
        .put(fixture.url(&format!("/v1/photos/{sha256}")))
        .bearer_auth(token)
        .body(body)
        .send()
        .unwrap()
}

fn photo_record(sha256: &str) -> Value {
    json!({ "results": [{
        "id": uuid::Uuid::new_v4(), "guide_id": GUIDE, "version": 1, "step_id": "seal",
        "completed_at": "2026-12-07T08:00:00Z",
        "value": { "kind": "photo", "sha256": sha256, "bytes": 1000, "width": 64, "height": 48 }
    }] })
}

#[test]
fn n6_a_photo_is_kept_by_its_digest_and_read_back_only_by_its_sender_and_their_admins() {
    let fixture = Fixture::new();
    publish_photo_guide(&fixture);
    add_user_of(&fixture.data(), "other-plant", "eve", "admin", &[]);
    let alice = fixture.token("alice");
    let jpeg = jpeg();
    let sha256 = sha256_hex(&jpeg);

    assert_eq!(put(&fixture, &alice, &sha256, jpeg.clone()).status(), 204);
    assert_eq!(
        put(&fixture, &alice, &sha256, jpeg.clone()).status(),
        204,
        "again: the same"
    );
    let damaged = assert_refused(
        put(&fixture, &alice, &"ab".repeat(32), jpeg.clone()),
        400,
        "invalid_request",
    );
    assert!(
        damaged["message"]
            .as_str()
            .unwrap()
            .contains("damaged on the way"),
        "{damaged}"
    );
    let png = std::fs::read(repo().join("tests/golden/capture-photo.png")).unwrap();
    assert_refused(
        put(&fixture, &alice, &sha256_hex(&png), png),
        400,
        "invalid_request",
    );
    assert_refused(
        put(&fixture, &alice, "not-a-digest", jpeg.clone()),
        400,
        "invalid_request",
    );
    // Refused before it is read, so the server drops that connection: a client of its own.
    let huge = vec![0xFF; 9 * 1024 * 1024];
    let oversized = client()
        .put(fixture.url(&format!("/v1/photos/{}", sha256_hex(&huge))))
        .bearer_auth(&alice)
        .body(huge)
        .send()
        .unwrap();
    assert_eq!(oversized.status(), 413);

    let get = |user: &str| {
        fixture
            .get(&fixture.token(user), &format!("/v1/photos/{sha256}"))
            .send()
            .unwrap()
    };
    let alices = get("alice");
    assert_eq!(alices.status(), 200);
    assert_eq!(alices.headers()["content-type"], "image/jpeg");
    assert_eq!(alices.bytes().unwrap().to_vec(), jpeg);
    assert_eq!(
        get("admin").status(),
        200,
        "an admin of alice's organisation"
    );
    assert_eq!(get("bob").status(), 404, "another operator");
    assert_eq!(get("eve").status(), 404, "another organisation's admin");

    // Records: alice's names her photo; one naming no photo, or bob's naming hers, is refused.
    let upload = |token: &str, batch: Value| {
        status_json(
            fixture
                .post(token, "/v1/results")
                .json(&batch)
                .send()
                .unwrap(),
        )
        .1
    };
    let accepted = upload(&alice, photo_record(&sha256));
    assert_eq!(
        accepted["accepted"].as_array().unwrap().len(),
        1,
        "{accepted}"
    );
    let missing = upload(&alice, photo_record(&"cd".repeat(32)));
    assert_eq!(missing["rejected"][0]["code"], "photo_missing", "{missing}");
    let bobs = upload(&fixture.token("bob"), photo_record(&sha256));
    assert_eq!(bobs["rejected"][0]["code"], "photo_missing", "{bobs}");
    assert_eq!(
        bobs["rejected"][0]["reason"],
        format!(
            "step 'seal': the photo {} was not sent before its record",
            &sha256[..12]
        )
    );
}
