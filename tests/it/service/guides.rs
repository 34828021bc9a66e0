//! Guides: publishing, listing, manifests, links, permissions (F14), deactivation (F13).

use serde_json::json;

use super::*;
use crate::support::{copy_dir, zip_dir};

fn demo_zip(dir: &Path) -> Vec<u8> {
    let archive = dir.join("demo.zip");
    zip_dir(&repo().join("assets/demo"), &archive);
    std::fs::read(archive).unwrap()
}

#[test]
fn each_publish_is_a_new_immutable_version_with_the_same_content_hash() {
    let fixture = Fixture::new();
    let author = fixture.token("author");
    let (_, first) = status_json(
        fixture
            .get(&author, &format!("/v1/guides/{DEMO_ID}/versions/1"))
            .send()
            .unwrap(),
    );
    let (status, second) = status_json(fixture.publish(&author, demo_zip(fixture.dir.path())));
    assert_eq!(status, 201, "{second:#}");
    assert_eq!(second["version"], 2);
    assert_eq!(
        second["guide"]["version"], 2,
        "guide.json carries the service's number"
    );
    assert_eq!(second["content_hash"], first["content_hash"]);
    let (_, latest) = status_json(
        fixture
            .get(&author, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap(),
    );
    assert_eq!(latest["latest_version"], 2);
    let (_, again) = status_json(
        fixture
            .get(&author, &format!("/v1/guides/{DEMO_ID}/versions/1"))
            .send()
            .unwrap(),
    );
    // The offline lease (N1) is granted anew at every fetch; the version itself is immutable.
    let without_lease = |mut manifest: Value| {
        manifest
            .as_object_mut()
            .map(|m| m.remove("lease_expires_at"));
        manifest
    };
    assert_eq!(
        without_lease(again),
        without_lease(first),
        "version 1 is unchanged"
    );
}

#[test]
fn an_operator_may_not_publish() {
    let fixture = Fixture::new();
    let alice = fixture.token("alice");
    assert_refused(
        fixture.publish(&alice, demo_zip(fixture.dir.path())),
        403,
        "forbidden",
    );
}

#[test]
fn a_package_whose_asset_path_leaves_the_package_is_refused_with_its_problems() {
    let fixture = Fixture::new();
    let author = fixture.token("author");
    let package = fixture.dir.path().join("escape");
    copy_dir(&repo().join("assets/demo"), &package);
    let guide_path = package.join("guide.json");
    let text = std::fs::read_to_string(&guide_path).unwrap();
    std::fs::write(
        &guide_path,
        text.replacen("models/pump.glb", "../../etc/pump.glb", 1),
    )
    .unwrap();
    let archive = fixture.dir.path().join("escape.zip");
    zip_dir(&package, &archive);
    let body = assert_refused(
        fixture.publish(&author, std::fs::read(&archive).unwrap()),
        422,
        "invalid_package",
    );
    let rules: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"path-escapes-package"), "{body:#}");
    let (_, latest) = status_json(
        fixture
            .get(&author, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap(),
    );
    assert_eq!(latest["latest_version"], 1, "nothing was published");
}

#[test]
fn an_archive_with_a_zip_slip_entry_is_refused() {
    use std::io::Write;
    let fixture = Fixture::new();
    let author = fixture.token("author");
    let archive = fixture.dir.path().join("slip.zip");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    writer.start_file("guide.json", options).unwrap();
    writer
        .write_all(&std::fs::read(repo().join("assets/demo/guide.json")).unwrap())
        .unwrap();
    writer.start_file("../../outside.txt", options).unwrap();
    writer.write_all(b"escaped").unwrap();
    writer.finish().unwrap();
    let body = assert_refused(
        fixture.publish(&author, std::fs::read(&archive).unwrap()),
        422,
        "invalid_package",
    );
    assert!(
        body["message"].as_str().unwrap().contains("outside.txt"),
        "{body:#}"
    );
}

#[test]
fn a_body_that_is_not_a_package_is_a_400() {
    let fixture = Fixture::new();
    let author = fixture.token("author");
    assert_refused(
        fixture.publish(&author, b"plain text".to_vec()),
        400,
        "invalid_request",
    );
}

#[test]
fn an_upload_over_the_configured_limit_is_refused_with_413() {
    let fixture = Fixture::with_server_args(&["--max-upload-bytes", "4096"]);
    let author = fixture.token("author");
    assert_refused(
        fixture.publish(&author, demo_zip(fixture.dir.path())),
        413,
        "too_large",
    );
}

#[test]
fn operators_see_only_guides_granted_to_them_or_their_group() {
    let fixture = Fixture::new();
    let (alice, bob) = (fixture.token("alice"), fixture.token("bob"));
    let list = |token: &str| {
        let (status, body) = status_json(fixture.get(token, "/v1/guides").send().unwrap());
        assert_eq!(status, 200);
        body.as_array().unwrap().len()
    };
    assert_eq!(list(&alice), 0);
    assert_refused(
        fixture
            .get(&alice, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap(),
        403,
        "forbidden",
    );
    fixture.grant_demo_to("group", "line-1");
    assert_eq!(list(&alice), 1, "alice is in line-1");
    assert_eq!(list(&bob), 0, "bob is not");
    assert_refused(
        fixture
            .get(&bob, &format!("/v1/guides/{DEMO_ID}/versions/1"))
            .send()
            .unwrap(),
        403,
        "forbidden",
    );
    let (status, guide) = status_json(
        fixture
            .get(&alice, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(guide["organisation"], DEMO_ORG);
    assert_eq!(guide["active"], true);
}

#[test]
fn a_revoked_permission_answers_403_with_a_message_to_show() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("user", "alice");
    let alice = fixture.token("alice");
    assert_eq!(
        fixture
            .get(&alice, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap()
            .status(),
        200
    );
    admin_json(
        &fixture.data(),
        &["guide", "revoke", DEMO_ID, "--user", "alice"],
    );
    let body = assert_refused(
        fixture
            .get(&alice, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap(),
        403,
        "forbidden",
    );
    assert!(
        body["message"].as_str().unwrap().contains("permission"),
        "{body:#}"
    );
}

#[test]
fn a_deactivated_guide_answers_410_everywhere_until_reactivated() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("user", "alice");
    let alice = fixture.token("alice");
    let admin_token = fixture.token("admin");
    let (_, manifest) = status_json(
        fixture
            .get(&alice, &format!("/v1/guides/{DEMO_ID}/versions/1"))
            .send()
            .unwrap(),
    );
    let blob = manifest["assets"][0]["sha256"].as_str().unwrap().to_owned();
    let response = fixture
        .post(&admin_token, &format!("/v1/guides/{DEMO_ID}/deactivate"))
        .send()
        .unwrap();
    let (status, summary) = status_json(response);
    assert_eq!((status, summary["active"].clone()), (200, json!(false)));
    for path in [
        format!("/v1/guides/{DEMO_ID}"),
        format!("/v1/guides/{DEMO_ID}/versions/1"),
        format!("/v1/blobs/{blob}"),
        format!("/v1/links/{DEMO_ORG}/g/{DEMO_ID}"),
    ] {
        assert_refused(
            fixture.get(&alice, &path).send().unwrap(),
            410,
            "guide_deactivated",
        );
    }
    let (_, list) = status_json(fixture.get(&alice, "/v1/guides").send().unwrap());
    assert_eq!(list, json!([]));
    let author = fixture.token("author");
    assert_refused(
        fixture.publish(&author, demo_zip(fixture.dir.path())),
        410,
        "guide_deactivated",
    );
    fixture
        .post(&admin_token, &format!("/v1/guides/{DEMO_ID}/reactivate"))
        .send()
        .unwrap();
    assert_eq!(
        fixture
            .get(&alice, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap()
            .status(),
        200
    );
}

#[test]
fn only_admins_may_deactivate_or_grant() {
    let fixture = Fixture::new();
    let author = fixture.token("author");
    assert_refused(
        fixture
            .post(&author, &format!("/v1/guides/{DEMO_ID}/deactivate"))
            .send()
            .unwrap(),
        403,
        "forbidden",
    );
    let response = fixture
        .post(&author, &format!("/v1/guides/{DEMO_ID}/permissions"))
        .json(&json!({ "kind": "user", "name": "bob" }))
        .send()
        .unwrap();
    assert_refused(response, 403, "forbidden");
}

#[test]
fn permissions_are_granted_and_revoked_over_http() {
    let fixture = Fixture::new();
    let admin_token = fixture.token("admin");
    let path = format!("/v1/guides/{DEMO_ID}/permissions");
    let response = fixture
        .post(&admin_token, &path)
        .json(&json!({ "kind": "user", "name": "bob" }))
        .send()
        .unwrap();
    let (status, grants) = status_json(response);
    assert_eq!(status, 200, "{grants:#}");
    assert_eq!(grants, json!([{ "kind": "user", "name": "bob" }]));
    let bob = fixture.token("bob");
    assert_eq!(
        fixture
            .get(&bob, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let response = fixture
        .http
        .delete(fixture.url(&format!("{path}/user/bob")))
        .bearer_auth(&admin_token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_refused(
        fixture
            .get(&bob, &format!("/v1/guides/{DEMO_ID}"))
            .send()
            .unwrap(),
        403,
        "forbidden",
    );
    let response = fixture
        .post(&admin_token, &path)
        .json(&json!({ "kind": "user", "name": "nobody" }))
        .send()
        .unwrap();
    assert_refused(response, 404, "not_found");
}

#[test]
fn a_guide_link_resolves_to_the_latest_manifest_of_its_organisation_only() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("user", "alice");
    let alice = fixture.token("alice");
    let (status, target) = status_json(
        fixture
            .get(&alice, &format!("/v1/links/{DEMO_ORG}/g/{DEMO_ID}"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{target:#}");
    assert_eq!(
        target["manifest"],
        format!("/v1/guides/{DEMO_ID}/versions/1")
    );
    let (status, manifest) = status_json(
        fixture
            .get(&alice, target["manifest"].as_str().unwrap())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(manifest["guide"]["title"], target["guide"]["title"]);
    assert_refused(
        fixture
            .get(&alice, &format!("/v1/links/other-org/g/{DEMO_ID}"))
            .send()
            .unwrap(),
        404,
        "not_found",
    );
    assert_refused(
        fixture
            .get(&alice, "/v1/links/hologuide-demo/g/not-a-uuid")
            .send()
            .unwrap(),
        404,
        "not_found",
    );
}

#[test]
fn unknown_guides_versions_and_endpoints_are_404_json() {
    let fixture = Fixture::new();
    let author = fixture.token("author");
    assert_refused(
        fixture
            .get(&author, &format!("/v1/guides/{DEMO_ID}/versions/9"))
            .send()
            .unwrap(),
        404,
        "not_found",
    );
    assert_refused(
        fixture
            .get(&author, "/v1/guides/00000000-0000-0000-0000-000000000000")
            .send()
            .unwrap(),
        404,
        "not_found",
    );
    assert_refused(
        fixture.get(&author, "/v2/anything").send().unwrap(),
        404,
        "not_found",
    );
}

#[test]
fn a_gltf_model_is_published_with_the_buffer_file_beside_it() {
    let fixture = Fixture::new();
    let author = fixture.token("author");
    let package = fixture.dir.path().join("gltf");
    copy_dir(&repo().join("assets/demo"), &package);
    let gltf = json!({
        "asset": { "version": "2.0" },
        "buffers": [{ "uri": "box.bin", "byteLength": 8 }],
    });
    std::fs::write(package.join("models/box.gltf"), gltf.to_string()).unwrap();
    std::fs::write(package.join("models/box.bin"), [7u8; 8]).unwrap();
    let guide_path = package.join("guide.json");
    let text = std::fs::read_to_string(&guide_path).unwrap();
    std::fs::write(
        &guide_path,
        text.replacen("models/pump.glb", "models/box.gltf", 1),
    )
    .unwrap();
    let archive = fixture.dir.path().join("gltf.zip");
    zip_dir(&package, &archive);
    let (status, manifest) =
        status_json(fixture.publish(&author, std::fs::read(&archive).unwrap()));
    assert_eq!(status, 201, "{manifest:#}");
    let buffer = manifest["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "models/box.bin")
        .unwrap_or_else(|| panic!("the buffer is an asset of the version: {manifest:#}"));
    assert_eq!(buffer["sha256"], sha256_hex(&[7u8; 8]));
    let bytes = fixture
        .get(
            &author,
            &format!("/v1/blobs/{}", buffer["sha256"].as_str().unwrap()),
        )
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(bytes.as_ref(), &[7u8; 8]);
}

#[test]
fn a_package_larger_than_the_json_limit_publishes_over_http() {
    let fixture = Fixture::new();
    let author = fixture.token("author");
    let package = fixture.dir.path().join("large");
    copy_dir(&repo().join("assets/demo"), &package);
    let guide_path = package.join("guide.json");
    let mut guide: Value = serde_json::from_slice(&std::fs::read(&guide_path).unwrap()).unwrap();
    guide["tasks"][0]["steps"][0]["media"] = json!({ "path": "media/big.png" });
    std::fs::write(&guide_path, guide.to_string()).unwrap();
    std::fs::create_dir_all(package.join("media")).unwrap();
    // Incompressible, so the zip archive is as large as the picture.
    let mut picture = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    while picture.len() < 8 * 1024 * 1024 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        picture.extend_from_slice(&state.to_le_bytes());
    }
    std::fs::write(package.join("media/big.png"), &picture).unwrap();
    let archive = fixture.dir.path().join("large.zip");
    zip_dir(&package, &archive);
    let (status, manifest) =
        status_json(fixture.publish(&author, std::fs::read(&archive).unwrap()));
    assert_eq!(status, 201, "{manifest:#}");
    let big = manifest["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "media/big.png")
        .unwrap();
    assert_eq!(big["bytes"], 8 * 1024 * 1024);
    assert_eq!(big["sha256"], sha256_hex(&picture));
}

#[test]
fn admins_add_users_and_tag_guides_over_http() {
    let fixture = Fixture::new();
    let admin = fixture.token("admin");
    let response = fixture
        .post(&admin, "/v1/admin/users")
        .json(&json!({ "username": "carol", "password": "carols-password", "role": "author", "groups": ["line-2"] }))
        .send()
        .unwrap();
    let (status, user) = status_json(response);
    assert_eq!(status, 201, "{user:#}");
    assert_eq!(
        (user["role"].clone(), user["groups"].clone()),
        (json!("author"), json!(["line-2"]))
    );
    let (_, users) = status_json(fixture.get(&admin, "/v1/admin/users").send().unwrap());
    assert_eq!(users.as_array().unwrap().len(), 5);
    assert!(
        users.to_string().find("password").is_none(),
        "no hash leaves the service"
    );
    assert_eq!(
        fixture
            .sign_in_raw("carol", "carols-password", "d")
            .status(),
        201
    );
    let response = fixture
        .http
        .put(fixture.url(&format!("/v1/guides/{DEMO_ID}/tags")))
        .bearer_auth(&admin)
        .json(&json!({ "tags": ["pumps", "monthly"] }))
        .send()
        .unwrap();
    let (status, guide) = status_json(response);
    assert_eq!(status, 200, "{guide:#}");
    assert_eq!(guide["tags"], json!(["monthly", "pumps"]));
    let response = fixture
        .http
        .put(fixture.url(&format!("/v1/guides/{DEMO_ID}/tags")))
        .bearer_auth(&admin)
        .json(&json!({ "tags": ["no spaces allowed"] }))
        .send()
        .unwrap();
    assert_refused(response, 400, "invalid_request");
}

#[test]
fn n1_an_admin_sets_a_guides_offline_lease_and_default_restores_the_services() {
    let fixture = Fixture::new();
    fixture.grant_demo_to("user", "alice");
    let alice = fixture.token("alice");
    let lease_seconds = || {
        let (status, manifest) = status_json(
            fixture
                .get(&alice, &format!("/v1/guides/{DEMO_ID}/versions/1"))
                .send()
                .unwrap(),
        );
        assert_eq!(status, 200, "{manifest:#}");
        let until = time::OffsetDateTime::parse(
            manifest["lease_expires_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        (until - time::OffsetDateTime::now_utc()).whole_seconds()
    };
    let thirty_days = 30 * 24 * 3600;
    assert!((thirty_days - 60..=thirty_days).contains(&lease_seconds()));

    let set = admin_json(&fixture.data(), &["guide", "lease", DEMO_ID, "3600"]);
    assert_eq!(set["offline_lease_seconds"], 3600);
    assert!((3540..=3600).contains(&lease_seconds()));

    // Bad input: a clear refusal, the lease unchanged.
    for (value, says) in [
        ("10", "between 60 seconds and 10 years"),
        ("soon", "neither a number of seconds nor 'default'"),
    ] {
        let output = admin(&fixture.data(), &["guide", "lease", DEMO_ID, value]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
    let unknown = admin(
        &fixture.data(),
        &[
            "guide",
            "lease",
            "00000000-0000-4000-8000-000000000000",
            "3600",
        ],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there is no guide"));
    assert!((3540..=3600).contains(&lease_seconds()));

    let back = admin_json(&fixture.data(), &["guide", "lease", DEMO_ID, "default"]);
    assert_eq!(back["offline_lease_seconds"], thirty_days);
    assert!((thirty_days - 60..=thirty_days).contains(&lease_seconds()));
}
