//! N6 photos: "Take photo" on a step takes the camera's next frame as a JPEG; the device keeps it
//! encrypted and sends it before the record that names it; the service checks it against its
//! name and gives it back to the sender and their organisation's admins only.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::*;
use crate::offline::{Service, password};
use crate::support::*;

const GUIDE: &str = "9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b";

fn photo_package(root: &Path) -> std::path::PathBuf {
    v2_package(
        root,
        "evidence",
        GUIDE,
        "Photograph the seal",
        json!([
            { "id": "seal", "title": "Photograph the seal", "body": "The whole cap in view.",
              "capture": { "kind": "photo", "required": true } },
            { "id": "done", "title": "Done", "body": "Close the housing." }
        ]),
    )
}

fn headless_run(device: &Path, script: &Path, camera: Option<&Path>) -> Value {
    let mut command = client(
        device,
        &[
            "run",
            GUIDE,
            "--backend",
            "headless",
            "--size",
            "160x100",
            "--frames",
            "90",
            "--json",
            "--input-script",
            script.to_str().unwrap(),
        ],
    );
    if let Some(dir) = camera {
        command
            .arg("--camera")
            .arg(format!("files:{}", dir.display()));
    }
    let output = run(&mut command);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the run's report")
}

#[test]
fn n6_a_photo_taken_at_a_step_reaches_the_service_before_its_record_and_only_its_people_see_it() {
    let service = Service::start();
    service.publish(&photo_package(service.dir.path()));
    service.admin(&["guide", "grant", GUIDE, "--user", "alice"]);
    let device = tempfile::tempdir().unwrap();
    login(device.path(), &service, "alice");
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("script.txt");
    // "Take photo", then Next once the photo had time to come (required: refused before).
    std::fs::write(&script, "2 answer 1\n80 next\n88 exit\n").unwrap();

    // Without a camera the card says why and nothing is recorded.
    let report = headless_run(device.path(), &script, None);
    assert_eq!(report["answers"], json!([]), "{report:#}");
    assert_eq!(report["final_screen"], "step 1 of 2", "{report:#}");

    // A camera seeing a picture: the photo is the answer.
    let camera = tempfile::tempdir().unwrap();
    let mut seen = image::GrayImage::new(320, 240);
    for (x, y, pixel) in seen.enumerate_pixels_mut() {
        pixel.0 = [((x * 7 + y * 3) % 256) as u8];
    }
    seen.save(camera.path().join("seal.png")).unwrap();
    let report = headless_run(device.path(), &script, Some(camera.path()));
    let answers = report["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 1, "{report:#}");
    assert!(
        answers[0].as_str().unwrap().starts_with("seal: Photo ("),
        "{report:#}"
    );
    assert_eq!(report["final_screen"], "step 2 of 2", "{report:#}");

    let results = crate::offline::alices_results(&service);
    assert_eq!(results.len(), 1, "{results:#?}");
    let value = &results[0]["value"];
    assert_eq!(value["kind"], "photo");
    assert_eq!(
        (value["width"].as_u64(), value["height"].as_u64()),
        (Some(320), Some(240))
    );
    let sha256 = value["sha256"].as_str().unwrap().to_owned();

    let api = hologuide::net::ApiClient::new(&service.url(), &Default::default()).unwrap();
    let token = |user: &str| {
        api.sign_in(user, &password(user), "check")
            .unwrap()
            .access_token
    };
    let get = |user: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}/v1/photos/{sha256}", service.url()))
            .bearer_auth(token(user))
            .send()
            .unwrap()
    };
    let alices = get("alice");
    assert_eq!(alices.status(), 200);
    let jpeg = alices.bytes().unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&jpeg)),
        sha256,
        "the bytes the record names"
    );
    let decoded = image::load_from_memory(&jpeg).expect("a JPEG").to_luma8();
    assert_eq!(decoded.dimensions(), (320, 240));
    let admins = get("admin");
    assert_eq!(admins.status(), 200, "an admin of alice's organisation");
    assert_eq!(
        get("bob").status(),
        404,
        "another operator is not told it exists"
    );

    // The export names the photo for auditors.
    let csv = crate::service::runs_csv(&service.data(), GUIDE);
    assert!(
        csv.lines().any(|l| l.ends_with(&format!(",{sha256}"))),
        "{csv}"
    );

    // No photo bytes in plaintext in the device's folder (the cache is encrypted).
    let needle = &jpeg[..64];
    for file in super::answers::walk(device.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} holds the photo in plaintext",
            file.display()
        );
    }

    // A record naming a photo never sent, or a photo that is not what it is named, is refused.
    let alice = token("alice");
    let forged = api
        .upload_results(
            &alice,
            &[hologuide::net::wire::StepResult {
                id: uuid::Uuid::new_v4(),
                guide_id: uuid::Uuid::parse_str(GUIDE).unwrap(),
                version: 1,
                step_id: "seal".into(),
                completed_at: time::OffsetDateTime::now_utc(),
                value: Some(
                    json!({ "kind": "photo", "sha256": "ab".repeat(32), "bytes": 10,
                                    "width": 1, "height": 1 }),
                ),
            }],
        )
        .unwrap();
    assert_eq!(forged.rejected.len(), 1, "{forged:?}");
    assert_eq!(forged.rejected[0].code, "photo_missing");
    let damaged = api.upload_photo(&alice, &"cd".repeat(32), jpeg.to_vec());
    let message = damaged.expect_err("refused").to_string();
    assert!(message.contains("damaged on the way"), "{message}");
}

/// The text front end drives the same app: typed lines answer, a picture file is the photo, and
/// the records reach the service as from the 3D backends.
#[test]
fn n6_in_the_text_front_end_a_picture_file_is_the_photo_and_the_answers_are_recorded() {
    let service = Service::start();
    let package = v2_package(
        service.dir.path(),
        "text-run",
        GUIDE,
        "Photograph the seal",
        json!([
            { "id": "torque", "title": "Torque", "body": "25 ± 2 N·m.",
              "capture": { "kind": "number", "unit": "N·m", "min": 23, "max": 27,
                           "decimals": 1, "required": true } },
            { "id": "seal", "title": "Photograph the seal", "body": "The whole cap.",
              "capture": { "kind": "photo", "required": true } }
        ]),
    );
    service.publish(&package);
    service.admin(&["guide", "grant", GUIDE, "--user", "alice"]);
    let device = tempfile::tempdir().unwrap();
    login(device.path(), &service, "alice");
    let pictures = tempfile::tempdir().unwrap();
    let picture = pictures.path().join("seal.png");
    image::RgbImage::from_fn(80, 60, |x, y| image::Rgb([x as u8 * 3, y as u8 * 4, 120]))
        .save(&picture)
        .unwrap();
    let typed = format!(
        "next\nenter 25.4\n\nanswer 1\nphoto {}\nphoto /no/such/file.png\n\nq\n",
        picture.display()
    );
    let mut child = client(device.path(), &["run", GUIDE, "--backend", "text"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(typed.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("! This step needs an answer before Next."),
        "Next before the value: {text}"
    );
    assert!(text.contains("answered torque: 25.4 N·m (typed)"), "{text}");
    assert!(
        text.contains("No camera here"),
        "Take photo without a camera: {text}"
    );
    assert!(text.contains("answered seal: Photo ("), "{text}");
    assert!(text.contains("all 2 steps done"), "{text}");
    assert!(
        stderr(&output).contains("/no/such/file.png: No such file"),
        "{}",
        stderr(&output)
    );

    let results = crate::offline::alices_results(&service);
    let mut kinds: Vec<&str> = results
        .iter()
        .map(|r| r["value"]["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["number", "photo"], "{results:#?}");
    let photo = &results
        .iter()
        .find(|r| r["value"]["kind"] == "photo")
        .unwrap()["value"];
    assert_eq!(
        (photo["width"].as_u64(), photo["height"].as_u64()),
        (Some(80), Some(60))
    );
}
