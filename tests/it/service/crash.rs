//! A publish killed with SIGKILL at any moment leaves the previous version or the new one,
//! never half of one.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::*;
use crate::support::copy_dir;

const PICTURE_BYTES: usize = 32 * 1024 * 1024;

/// The demo guide with a large picture on its first step, so that a publish takes a while.
fn large_package(dir: &Path) -> PathBuf {
    let package = dir.join("large");
    copy_dir(&repo().join("assets/demo"), &package);
    let guide_path = package.join("guide.json");
    let mut guide: Value = serde_json::from_slice(&std::fs::read(&guide_path).unwrap()).unwrap();
    guide["tasks"][0]["steps"][0]["media"] = serde_json::json!({ "path": "media/big.png" });
    std::fs::write(&guide_path, serde_json::to_vec_pretty(&guide).unwrap()).unwrap();
    std::fs::create_dir_all(package.join("media")).unwrap();
    package
}

/// New picture bytes for each attempt: a blob the store has not seen has to be written. Noise,
/// as a real picture barely compresses: zeros would be refused as a zip bomb.
fn new_picture(package: &Path, seed: u32) {
    let mut picture = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ u64::from(seed);
    while picture.len() < PICTURE_BYTES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        picture.extend_from_slice(&state.to_le_bytes());
    }
    picture.truncate(PICTURE_BYTES);
    std::fs::write(package.join("media/big.png"), picture).unwrap();
}

/// A data folder with an author and version 1 of the demo guide.
fn data_with_the_demo_published(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    admin_json(&data, &["init"]);
    add_user(&data, "author", "author", &[]);
    let demo = repo().join("assets/demo");
    admin_json(
        &data,
        &["guide", "publish", demo.to_str().unwrap(), "--as", "author"],
    );
    data
}

fn latest_version(data: &Path) -> u64 {
    admin_json(data, &["guide", "list"])[0]["latest_version"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_publish_killed_at_any_moment_leaves_a_whole_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_with_the_demo_published(dir.path());
    let package = large_package(dir.path());
    new_picture(&package, 0);

    // How long one whole publish takes here, to spread the kills across it.
    let started = Instant::now();
    admin_json(
        &data,
        &[
            "guide",
            "publish",
            package.to_str().unwrap(),
            "--as",
            "author",
        ],
    );
    let whole = started.elapsed();

    let mut killed_mid_publish = 0;
    for step in 1..=10u32 {
        new_picture(&package, step);
        let before = latest_version(&data);
        let mut child = server_cli_on(&data)
            .args([
                "guide",
                "publish",
                package.to_str().unwrap(),
                "--as",
                "author",
                "--data",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // From just after start to just before the end of a typical publish.
        std::thread::sleep(whole.mul_f64(f64::from(step - 1) / 10.0) + Duration::from_millis(5));
        if child.try_wait().unwrap().is_none() {
            killed_mid_publish += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let after = latest_version(&data);
        assert!(after == before || after == before + 1, "{before} → {after}");
        assert_eq!(
            admin_json(&data, &["stats"])["versions"].as_u64().unwrap(),
            after,
            "no version row beyond the latest"
        );
    }
    assert!(
        killed_mid_publish >= 3,
        "only {killed_mid_publish} kills landed during a publish"
    );

    // Every version that exists is whole: every blob it names downloads and hashes right.
    let server = Server::start(&data, &[]);
    let http = client();
    let token = &server.access_token(&http, "author");
    let latest = latest_version(&data);
    let mut checked = HashSet::new();
    for version in 1..=latest {
        assert_version_is_whole(&server, &http, token, version, &mut checked);
    }
    let response = http
        .get(server.url(&format!("/v1/guides/{DEMO_ID}/versions/{}", latest + 1)))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);
    drop(server);
    let manifest = admin_json(
        &data,
        &[
            "guide",
            "publish",
            package.to_str().unwrap(),
            "--as",
            "author",
        ],
    );
    assert_eq!(
        manifest["version"].as_u64().unwrap(),
        latest + 1,
        "the store takes the next publish"
    );

    // What the killed publishes left: blobs no version names (and one planted, so that there
    // is at least one). A young orphan is kept, as it may be a publish in progress; once old
    // enough every orphan goes, and every blob a version names stays.
    let planted_bytes = b"an asset of a publish that was killed before its commit";
    let planted_sha = sha256_hex(planted_bytes);
    let planted = data
        .join("blobs")
        .join(&planted_sha[..2])
        .join(&planted_sha);
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    std::fs::write(&planted, planted_bytes).unwrap();
    let kept = admin_json(&data, &["blobs", "collect"]);
    assert_eq!(kept["removed"], 0, "{kept:#}");
    assert!(kept["young_orphans"].as_u64().unwrap() >= 1, "{kept:#}");
    assert!(planted.exists());
    let collected = admin_json(&data, &["blobs", "collect", "--older-than", "0"]);
    assert!(collected["removed"].as_u64().unwrap() >= 1, "{collected:#}");
    assert!(!planted.exists());
    let named = admin_json(&data, &["stats"])["blobs"].as_u64().unwrap();
    assert_eq!(blob_files(&data.join("blobs")), named, "{collected:#}");
    let server = Server::start(&data, &[]);
    let token = &server.access_token(&http, "author");
    assert_version_is_whole(&server, &http, token, latest + 1, &mut HashSet::new());
}

/// Blob files under `blobs` (temporaries aside).
fn blob_files(blobs: &Path) -> u64 {
    let mut count = 0;
    for prefix in std::fs::read_dir(blobs).unwrap() {
        let prefix = prefix.unwrap().path();
        if prefix.is_dir() && prefix.file_name().unwrap() != "tmp" {
            count += std::fs::read_dir(prefix).unwrap().count() as u64;
        }
    }
    count
}

#[test]
fn a_server_killed_during_an_http_publish_restarts_with_a_whole_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_with_the_demo_published(dir.path());
    let package = large_package(dir.path());
    let archive = dir.path().join("large.zip");
    let http = client();
    let mut killed_mid_request = 0;
    for step in 0..6u32 {
        new_picture(&package, 100 + step);
        crate::support::zip_dir(&package, &archive);
        let body = std::fs::read(&archive).unwrap();
        let before = latest_version(&data);
        let server = Server::start(&data, &[]);
        let token = server.access_token(&http, "author");
        let url = server.url("/v1/guides");
        let upload = std::thread::spawn({
            let http = http.clone();
            move || {
                http.post(url)
                    .bearer_auth(token)
                    .body(body)
                    .send()
                    .map(|r| r.status().as_u16())
            }
        });
        std::thread::sleep(Duration::from_millis(40 * u64::from(step)));
        server.kill();
        if upload.join().unwrap().is_err() {
            killed_mid_request += 1;
        }
        let after = latest_version(&data);
        assert!(after == before || after == before + 1, "{before} → {after}");
        assert_eq!(
            admin_json(&data, &["stats"])["versions"].as_u64().unwrap(),
            after
        );
    }
    assert!(
        killed_mid_request >= 2,
        "only {killed_mid_request} kills landed during a request"
    );
    let server = Server::start(&data, &[]);
    let token = &server.access_token(&http, "author");
    let latest = latest_version(&data);
    assert_version_is_whole(&server, &http, token, latest, &mut HashSet::new());
}

/// Every blob `version` of the demo guide names downloads and hashes right (those in `checked`
/// are skipped; the ones checked here are added).
fn assert_version_is_whole(
    server: &Server,
    http: &Client,
    token: &str,
    version: u64,
    checked: &mut HashSet<String>,
) {
    let manifest: Value = http
        .get(server.url(&format!("/v1/guides/{DEMO_ID}/versions/{version}")))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    for asset in manifest["assets"].as_array().unwrap() {
        let sha = asset["sha256"].as_str().unwrap();
        if checked.insert(sha.to_owned()) {
            let bytes = http
                .get(server.url(&format!("/v1/blobs/{sha}")))
                .bearer_auth(token)
                .send()
                .unwrap()
                .bytes()
                .unwrap();
            assert_eq!(
                sha256_hex(&bytes),
                sha,
                "version {version}, {}",
                asset["path"]
            );
        }
    }
}
