//! N6 in the 3D app: a step that asks "damaged or fine?" answered by a script on the headless
//! backend follows its branch, and the answer reaches the service as a record of that run.

use serde_json::{Value, json};

use super::*;
use crate::offline::{Service, password};
use crate::support::*;

const GUIDE: &str = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f";

fn branching_package(root: &Path) -> std::path::PathBuf {
    v2_package(
        root,
        "inspect",
        GUIDE,
        "Inspect the cartridge",
        json!([
            { "id": "s1", "title": "Inspect", "body": "Is the cartridge damaged?",
              "capture": { "kind": "choice", "required": true, "options": [
                  { "label": "Damaged", "goto": "s2" }, { "label": "Fine", "goto": "s3" } ] } },
            { "id": "s2", "title": "Replace", "body": "Fit a new cartridge." },
            { "id": "s3", "title": "Close", "body": "Close the housing." }
        ]),
    )
}

#[test]
fn n6_an_answer_given_in_the_app_follows_its_branch_and_reaches_the_service_once() {
    let mut service = Service::start();
    service.publish(&branching_package(service.dir.path()));
    service.admin(&["guide", "grant", GUIDE, "--user", "alice"]);
    let device = tempfile::tempdir().unwrap();
    login(device.path(), &service, "alice");
    let script = device.path().join("script.txt");
    // Next before answering is refused (required); then Fine, which skips step 2.
    std::fs::write(&script, "2 next\n3 answer 2\n4 next\n5 exit\n").unwrap();
    let script = script.to_str().unwrap();
    let output = run(&mut client(
        device.path(),
        &[
            "run",
            GUIDE,
            "--backend",
            "headless",
            "--frames",
            "8",
            "--json",
            "--input-script",
            script,
        ],
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = stdout(&output)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the run's report");
    assert_eq!(
        report["answers"],
        json!(["s1: Fine (script)"]),
        "{report:#}"
    );
    assert_eq!(report["final_screen"], "step 3 of 3", "{report:#}");

    let api = hologuide::net::ApiClient::new(&service.url(), &Default::default()).unwrap();
    let token: String = api
        .sign_in("alice", &password("alice"), "check")
        .unwrap()
        .access_token;
    let results = crate::offline::alices_results(&service);
    assert_eq!(results.len(), 1, "{results:#?}");
    let record = &results[0];
    assert_eq!(record["step_id"], "s1");
    assert_eq!(record["guide_id"], GUIDE);
    assert_eq!(record["value"]["kind"], "choice");
    assert_eq!(record["value"]["label"], "Fine");
    assert!(record["value"]["run"].is_string(), "{record:#}");

    // The service checks an answer against the step it answers: no such option, no record.
    let forged = |value: Value| {
        api.upload_results(
            &token,
            &[hologuide::net::wire::StepResult {
                id: uuid::Uuid::new_v4(),
                guide_id: uuid::Uuid::parse_str(GUIDE).unwrap(),
                version: 1,
                step_id: "s1".into(),
                completed_at: time::OffsetDateTime::now_utc(),
                value: Some(value),
            }],
        )
        .unwrap()
    };
    let wrong_option = forged(json!({ "kind": "choice", "option": 5, "label": "Exploded" }));
    assert_eq!(wrong_option.rejected.len(), 1, "{wrong_option:?}");
    assert_eq!(wrong_option.rejected[0].code, "invalid_answer");
    assert_eq!(
        wrong_option.rejected[0].reason,
        "step 's1': the answer is not one of the step's options"
    );
    let wrong_kind = forged(json!({ "kind": "check", "state": "done" }));
    assert_eq!(
        wrong_kind.rejected[0].reason,
        "step 's1': the step asks for a choice, and this record is a check"
    );
    let valid = forged(json!({ "kind": "choice", "option": 0, "label": "Damaged" }));
    assert_eq!(valid.accepted.len(), 1, "{valid:?}");

    // The device rebuilds the run from its own records, offline too.
    service.stop();
    let runs = run(&mut client(device.path(), &["runs", "--json"]));
    assert!(runs.status.success(), "{}", stderr(&runs));
    let runs: Value = serde_json::from_str(&stdout(&runs)).unwrap();
    let listed = runs["runs"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{runs:#}");
    assert_eq!(listed[0]["title"], "Inspect the cartridge");
    assert_eq!(listed[0]["run"]["run"], record["value"]["run"]);
    let answer = &listed[0]["run"]["answers"][0];
    assert_eq!(
        (
            answer["step_id"].as_str(),
            answer["answer"].as_str(),
            answer["status"].as_str()
        ),
        (Some("s1"), Some("Fine"), Some("sent")),
        "{runs:#}"
    );
    // N6: no answer in plaintext anywhere in the device's data folder (the cache is encrypted).
    let run_id = record["value"]["run"].as_str().unwrap().to_owned();
    for file in walk(device.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in [run_id.as_bytes(), b"\"label\":\"Fine\"".as_slice()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds an answer in plaintext",
                file.display()
            );
        }
    }
    let text = run(&mut client(device.path(), &["runs"]));
    assert!(
        stdout(&text).contains("  s1: Fine — on the service"),
        "{}",
        stdout(&text)
    );
}

/// Every file below `dir`.
pub(super) fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

const TYPED_GUIDE: &str = "8d9e0f1a-2b3c-4d4e-9f5a-6b7c8d9e0f1a";

/// A check, a torque with limits, a serial number and a sign-off, every one required.
fn typed_package(root: &Path) -> std::path::PathBuf {
    v2_package(
        root,
        "refit",
        TYPED_GUIDE,
        "Refit the cap",
        json!([
            { "id": "seated", "title": "O-ring seated", "body": "Seated evenly?",
              "capture": { "kind": "check", "required": true } },
            { "id": "torque", "title": "Tighten", "body": "25 ± 2 N·m.",
              "capture": { "kind": "number", "required": true, "unit": "N·m", "min": 23,
                           "max": 27, "decimals": 1,
                           "on_out_of_limits": "Tell the shift lead." } },
            { "id": "serial", "title": "Serial", "body": "From the plate.",
              "capture": { "kind": "text", "required": true, "max_length": 24 } },
            { "id": "sign", "title": "Sign off", "body": "The pump runs.",
              "capture": { "kind": "signoff", "required": true } }
        ]),
    )
}

#[test]
fn n6_a_run_offline_with_typed_answers_reaches_the_service_once_with_its_limits_flag() {
    let mut service = Service::start();
    service.publish(&typed_package(service.dir.path()));
    service.admin(&["guide", "grant", TYPED_GUIDE, "--user", "alice"]);
    let device = tempfile::tempdir().unwrap();
    login(device.path(), &service, "alice");
    let opened = run(&mut client(device.path(), &["open", TYPED_GUIDE]));
    assert!(opened.status.success(), "{}", stderr(&opened));
    service.stop();

    // Offline: the torque is first 26, then corrected to 29.5 (outside 23–27); the serial
    // number is typed with spaces; "enter" on a step without a keypad answers nothing.
    // Not in the device's folder, which is searched for plaintext below.
    let scripts = tempfile::tempdir().unwrap();
    let script = scripts.path().join("script.txt");
    std::fs::write(
        &script,
        "2 answer 1\n3 next\n4 enter 26\n5 enter 29.5\n6 next\n7 enter SN 4471-B\n8 next\n\
         9 enter 12\n10 answer 1\n11 exit\n",
    )
    .unwrap();
    let output = run(&mut client(
        device.path(),
        &[
            "run",
            TYPED_GUIDE,
            "--backend",
            "headless",
            "--frames",
            "14",
            "--json",
            "--input-script",
            script.to_str().unwrap(),
        ],
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = stdout(&output)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("the run's report");
    assert_eq!(
        report["answers"],
        json!([
            "seated: Done (script)",
            "torque: 26 N·m (script)",
            "torque: 29.5 N·m (script)",
            "serial: SN 4471-B (script)",
            "sign: Signed off by alice (script)"
        ]),
        "{report:#}"
    );
    assert!(alices_results_offline(device.path()), "kept, waiting");
    let listed = run(&mut client(device.path(), &["runs"]));
    assert!(
        stdout(&listed).contains(
            "  torque: 29.5 N·m (outside the limits) (corrected from 26 N·m) — kept here until \
             the next contact"
        ),
        "{}",
        stdout(&listed)
    );

    // Online again: one sync takes every record up, once.
    service.resume();
    let synced = run(&mut client(device.path(), &["sync", "--yes"]));
    assert!(synced.status.success(), "{}", stderr(&synced));
    let again = run(&mut client(device.path(), &["sync", "--yes"]));
    assert!(again.status.success(), "{}", stderr(&again));
    let results = crate::offline::alices_results(&service);
    let mut steps: Vec<&str> = results
        .iter()
        .map(|r| r["step_id"].as_str().unwrap())
        .collect();
    steps.sort();
    assert_eq!(
        steps,
        ["seated", "serial", "sign", "torque", "torque"],
        "{results:#?}"
    );
    let torque: Vec<&Value> = results
        .iter()
        .filter(|r| r["step_id"] == "torque")
        .collect();
    let corrected = torque
        .iter()
        .find(|r| r["value"]["value"] == json!(29.5))
        .expect("the correction");
    let first = torque
        .iter()
        .find(|r| r["value"]["value"] == json!(26.0))
        .expect("the first reading, kept");
    assert_eq!(corrected["value"]["supersedes"], first["id"]);
    assert_eq!(corrected["value"]["within_limits"], false);
    assert_eq!(corrected["value"]["unit"], "N·m");

    // The audit export flags the final torque and names what it corrected.
    let csv = crate::service::runs_csv(&service.data(), TYPED_GUIDE);
    let torque_row = csv.lines().find(|l| l.contains(",torque,")).expect(&csv);
    assert!(torque_row.contains(",29.5 N·m,yes,26 N·m,"), "{csv}");
    let serial_row = csv.lines().find(|l| l.contains(",serial,")).expect(&csv);
    assert!(serial_row.contains(",SN 4471-B,,,"), "{csv}");

    // N6: no typed answer in plaintext anywhere in the device's data folder.
    for file in walk(device.path()) {
        let bytes = std::fs::read(&file).unwrap();
        for needle in [b"SN 4471-B".as_slice(), b"29.5".as_slice()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds an answer in plaintext",
                file.display()
            );
        }
    }
}

/// `hologuide runs --json` lists the run with every answer waiting for the service.
fn alices_results_offline(device: &Path) -> bool {
    let runs = run(&mut client(device, &["runs", "--json"]));
    let runs: Value = serde_json::from_str(&stdout(&runs)).unwrap();
    let answers = runs["runs"][0]["run"]["answers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    answers.len() == 4 && answers.iter().all(|a| a["status"] == "waiting")
}
