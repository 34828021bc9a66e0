//! Offline profiles reach the device (issue 17: S2, S3, S8): a member's device syncs the
//! profile's guides without opening them, opens them offline, and a guide that leaves the
//! profile leaves the device at the next sync unless the user opened it themselves.

use hologuide::app::shell::Origin;
use hologuide::client::{Device, Target};
use hologuide::sync::{Approval, Plan, SyncOptions, SyncReport, run_cycle};

use super::*;

const GUIDE_B: &str = "1d2e3f40-5b6c-4d7e-8f80-91a2b3c4d5e6";

fn go(_: &Plan) -> Approval {
    Approval::Go
}

fn sync(device: &mut Device) -> SyncReport {
    run_cycle(device, SyncOptions::default(), &mut go, &|_, _| {}).expect("the sync runs")
}

/// The service with guides A and B granted to alice and a profile "line-1" holding `guides`,
/// alice its member.
fn service_with_profile(guides: &[&str]) -> (Service, uuid::Uuid, uuid::Uuid) {
    let service = Service::start();
    let a = small_guide(&service, GUIDE_A, "alpha");
    let b = small_guide(&service, GUIDE_B, "bravo");
    let mut args = vec!["profile", "create", "line-1"];
    for guide in guides {
        args.extend(["--guide", guide]);
    }
    service.admin(&args);
    service.admin(&["profile", "add-member", "line-1", "alice"]);
    (service, a, b)
}

/// A new device with alice signed in on `service` (its data folder lives as long as the
/// `TestDevice`).
fn alices_device(service: &Service) -> (TestDevice, Device) {
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, service);
    (device, app)
}

/// The app started again on `device` (online or not, as the service is).
fn restarted(device: &TestDevice) -> Device {
    let mut app = device.launch();
    app.start().expect("the app starts");
    app
}

fn set_profile_guides(service: &Service, guides: &[&str]) {
    let mut args = vec!["profile", "update", "line-1"];
    for guide in guides {
        args.extend(["--guide", guide]);
    }
    service.admin(&args);
}

#[test]
fn a_profile_member_gets_its_guides_without_opening_them_and_opens_them_offline() {
    let (mut service, a, b) = service_with_profile(&[GUIDE_A, GUIDE_B]);
    let (device, mut app) = alices_device(&service);

    let report = sync(&mut app);
    assert_eq!(report.outcome, "done", "{report:#?}");
    assert_eq!(report.plan.downloads.len(), 2, "{report:#?}");
    let stored: Vec<_> = report.stored.iter().map(|d| d.guide_id).collect();
    assert!(stored.contains(&a) && stored.contains(&b), "{stored:?}");
    assert!(report.downloaded_bytes >= 40_000, "{report:#?}");
    assert_eq!(report.downloaded_bytes, report.plan.download_bytes);

    // The Wi-Fi drops; the app starts again and opens guide B, never opened before.
    service.stop();
    let mut offline = restarted(&device);
    let opened = offline
        .open(&Target::Guide(b), &no_progress)
        .expect("a profile guide opens offline");
    assert_eq!(opened.origin, Origin::Cache);
    assert!(texts(&opened).contains("bravo"));
    let listed = offline.all_guides().expect("the All list");
    assert_eq!(listed.len(), 2, "{listed:#?}");
}

#[test]
fn a_second_sync_with_nothing_changed_is_a_304_and_does_nothing() {
    let (service, _, _) = service_with_profile(&[GUIDE_A]);
    let (_device, mut app) = alices_device(&service);
    sync(&mut app);

    let again = sync(&mut app);
    assert!(again.manifest_unchanged, "{again:#?}");
    assert!(again.plan.is_empty(), "{again:#?}");
    assert_eq!(again.outcome, "nothing to do");
    assert_eq!(again.downloaded_bytes, 0);
}

#[test]
fn a_dry_run_shows_the_plan_and_downloads_nothing() {
    let (service, a, _) = service_with_profile(&[GUIDE_A]);
    let (_device, mut app) = alices_device(&service);
    let plan = run_cycle(&mut app, SyncOptions { dry_run: true }, &mut go, &|_, _| {})
        .expect("the dry run");
    assert_eq!(plan.outcome, "dry run");
    assert_eq!(plan.plan.downloads.len(), 1);
    assert_eq!(plan.plan.downloads[0].guide_id, a);
    assert!(plan.plan.download_bytes >= 20_000, "{plan:#?}");
    assert!(plan.stored.is_empty());
    assert!(app.all_guides().unwrap().is_empty(), "nothing was stored");
}

#[test]
fn a_guide_that_leaves_the_profile_leaves_the_device_at_the_next_sync_unless_the_user_opened_it() {
    let (service, a, b) = service_with_profile(&[GUIDE_A, GUIDE_B]);
    let (_device, mut app) = alices_device(&service);
    sync(&mut app);
    // Alice opens A herself; B only ever came with the profile.
    app.open(&Target::Guide(a), &no_progress).expect("A opens");

    // The admin makes the profile the demo guide alone: A and B leave it.
    set_profile_guides(&service, &[DEMO_ID]);
    let report = sync(&mut app);
    assert_eq!(report.outcome, "done", "{report:#?}");
    assert_eq!(report.removed, vec![b], "{report:#?}");
    assert_eq!(
        report
            .plan
            .kept
            .iter()
            .map(|k| k.guide_id)
            .collect::<Vec<_>>(),
        vec![a]
    );
    let left: Vec<_> = app
        .all_guides()
        .unwrap()
        .iter()
        .map(|e| e.guide_id)
        .collect();
    assert!(left.contains(&a), "A stays: {left:?}");
    assert!(!left.contains(&b), "B is gone: {left:?}");
    assert_eq!(left.len(), 2, "A and the demo: {left:?}");
}

#[test]
fn what_was_recorded_offline_goes_up_with_the_next_sync() {
    let (mut service, a, _) = service_with_profile(&[GUIDE_A]);
    let (device, mut app) = alices_device(&service);
    sync(&mut app);
    service.stop();
    let mut offline = restarted(&device);
    offline.open(&Target::Guide(a), &no_progress).unwrap();
    offline.keep_event(
        hologuide::app::telemetry::TelemetryKind::GuideOpened,
        Some(a),
        None,
        None,
    );
    service.resume();
    let mut online = restarted(&device);
    let report = sync(&mut online);
    let uploaded = report.telemetry.expect("uploaded with the sync");
    assert!(uploaded.accepted >= 1, "{uploaded:?}");
    assert_eq!(uploaded.left, 0, "{uploaded:?}");
}

/// N5, S6: step results made offline go up with the next sync; one the service refuses (the
/// user lost the guide meanwhile) comes back with the reason and stays, never dropped.
#[test]
fn offline_step_results_go_up_with_the_sync_and_a_refused_one_stays_with_its_reason() {
    let (mut service, a, b) = service_with_profile(&[GUIDE_A, GUIDE_B]);
    let (device, mut app) = alices_device(&service);
    sync(&mut app);
    service.stop();
    let offline = restarted(&device);
    let store = offline.store().unwrap().clone();
    let result = |guide: uuid::Uuid| hologuide::cache::PendingResult {
        id: uuid::Uuid::new_v4(),
        guide_id: guide,
        version: 1,
        step_id: "s1".into(),
        completed_at: time::OffsetDateTime::now_utc(),
        value: Some(serde_json::json!({ "pressure_bar": 2.5 })),
        rejected: None,
    };
    let (kept, refused) = (result(a), result(b));
    store.add_result(&kept).unwrap();
    store.add_result(&refused).unwrap();
    drop(offline);

    // Meanwhile alice lost guide B.
    service.resume();
    service.admin(&["guide", "revoke", GUIDE_B, "--user", "alice"]);
    let mut online = restarted(&device);
    let report = sync(&mut online);
    let results = report.results.expect("uploaded with the sync");
    assert_eq!(results.accepted, 1, "{results:?}");
    assert_eq!(results.rejected.len(), 1, "{results:?}");
    assert!(
        results.rejected[0].starts_with("Step results for Valve check were not accepted: "),
        "the user reads which guide and why: {results:?}"
    );
    let left = online.store().unwrap().pending_results().unwrap();
    assert_eq!(
        left.len(),
        1,
        "the accepted one left, the refused one stays: {left:#?}"
    );
    assert_eq!(left[0].id, refused.id);
    let why = left[0]
        .rejected
        .as_ref()
        .expect("with the service's reason");
    assert!(!why.reason.is_empty(), "{why:?}");

    // Sent again, nothing is duplicated and the refused one is not resent.
    let again = sync(&mut online).results.expect("uploaded");
    assert_eq!((again.accepted, again.rejected.len()), (0, 0), "{again:?}");
}

#[test]
fn when_the_profile_is_deleted_its_guides_leave_at_the_next_sync() {
    let (service, _, b) = service_with_profile(&[GUIDE_B]);
    let (_device, mut app) = alices_device(&service);
    sync(&mut app);
    service.admin(&["profile", "delete", "line-1"]);
    let report = sync(&mut app);
    assert_eq!(report.removed, vec![b], "{report:#?}");
    assert_eq!(report.outcome, "done");
    assert!(app.all_guides().unwrap().is_empty());
}

#[test]
fn a_republished_guide_is_an_update_that_downloads_only_its_new_picture() {
    let (service, a, _) = service_with_profile(&[GUIDE_A]);
    let (_device, mut app) = alices_device(&service);
    sync(&mut app);

    let v2 = guide_package(
        service.dir.path(),
        GUIDE_A,
        "Valve check",
        "alpha-2",
        30_000,
    );
    service.publish(&v2);
    let report = sync(&mut app);
    assert!(!report.manifest_unchanged);
    assert_eq!(report.plan.downloads.len(), 1, "{report:#?}");
    assert_eq!(report.plan.downloads[0].guide_id, a);
    assert_eq!(
        report.plan.downloads[0].why,
        hologuide::sync::plan::Why::Update
    );
    assert_eq!(report.downloaded_bytes, report.plan.download_bytes);
    let opened = app.open(&Target::Guide(a), &no_progress).unwrap();
    assert!(texts(&opened).contains("alpha-2"));
}

#[test]
fn offline_a_sync_is_refused_with_the_reason_and_the_cache_is_untouched() {
    let (mut service, _, _) = service_with_profile(&[GUIDE_A]);
    let (device, mut app) = alices_device(&service);
    sync(&mut app);
    service.stop();
    let mut offline = restarted(&device);
    let error = run_cycle(&mut offline, SyncOptions::default(), &mut go, &|_, _| {})
        .expect_err("no network, no sync")
        .to_string();
    assert!(error.contains("needs the network"), "{error}");
    assert_eq!(offline.all_guides().unwrap().len(), 1);
}

/// `hologuide sync` as testers and scripts use it: the plan, no download without `--yes` when
/// nobody can be asked, the sync, and `status` with the last sync and its bytes.
#[test]
fn cli_sync_plans_asks_for_yes_syncs_and_status_shows_the_last_sync() {
    use super::cli::{client, json_of, login};
    let (mut service, _, b) = service_with_profile(&[GUIDE_A, GUIDE_B]);
    let device = tempfile::tempdir().unwrap();
    let data = device.path();
    assert!(login(data, &service, "alice").status.success());

    let plan = json_of(data, &["sync", "--dry-run"]);
    assert_eq!(plan["sync"]["outcome"], "dry run", "{plan:#}");
    assert_eq!(
        plan["sync"]["plan"]["downloads"].as_array().unwrap().len(),
        2
    );
    assert!(plan["sync"]["plan"]["download_bytes"].as_u64().unwrap() >= 40_000);

    let declined = client(data, &["sync", "--json"]).output().unwrap();
    assert!(declined.status.success());
    let text = crate::support::stderr(&declined);
    assert!(text.contains("without --yes"), "{text}");
    let declined: serde_json::Value = serde_json::from_slice(&declined.stdout).unwrap();
    assert_eq!(declined["sync"]["outcome"], "declined");
    assert_eq!(
        json_of(data, &["guides"])["guides"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // S8: on a metered network, --yes is not enough above the metered limit.
    let settings = json_of(data, &["sync", "settings", "--metered-ask-above", "10kB"]);
    assert_eq!(settings["settings"]["metered_ask_above_bytes"], 10_000);
    assert_eq!(settings["settings"]["metered"], false);
    let metered = client(data, &["sync", "--yes", "--metered", "--json"])
        .output()
        .unwrap();
    let text = crate::support::stderr(&metered);
    assert!(
        text.contains(
            "on a metered network without asking: it is above the metered limit of 9.8 KiB"
        ),
        "{text}"
    );
    let metered: serde_json::Value = serde_json::from_slice(&metered.stdout).unwrap();
    assert_eq!(metered["sync"]["outcome"], "declined");
    json_of(data, &["sync", "settings", "--metered", "on"]);
    let kept = client(data, &["sync", "--yes", "--json"]).output().unwrap();
    let kept: serde_json::Value = serde_json::from_slice(&kept.stdout).unwrap();
    assert_eq!(
        kept["sync"]["outcome"], "declined",
        "the kept setting asks too"
    );
    let refused = client(data, &["sync", "settings", "--every", "15"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        crate::support::stderr(&refused).contains("'15' is no interval"),
        "{}",
        crate::support::stderr(&refused)
    );
    json_of(
        data,
        &["sync", "settings", "--metered", "off", "--every", "5m"],
    );

    let done = json_of(data, &["sync", "--yes"]);
    assert_eq!(done["sync"]["outcome"], "done", "{done:#}");
    assert_eq!(done["sync"]["stored"].as_array().unwrap().len(), 2);

    let status = json_of(data, &["status"]);
    assert_eq!(status["last_sync"]["profile"], "line-1", "{status:#}");
    assert_eq!(status["last_sync"]["outcome"], "done");
    let usage = &status["data_usage"][0];
    assert_eq!(usage["downloaded_bytes"], done["sync"]["downloaded_bytes"]);
    assert_eq!(usage["guides"], 2);
    assert_eq!(status["sync_settings"]["every_s"], 300, "{status:#}");
    assert_eq!(status["sync_settings"]["metered"], false);

    service.stop();
    let opened = json_of(data, &["open", &b.to_string()]);
    assert_eq!(opened["opened"]["origin"], "cache", "{opened:#}");
}

/// S5, N5: a sync killed (SIGKILL) at random points leaves a sound cache, and the next sync
/// finishes what was left — each guide is there whole or not at all.
#[test]
fn a_sync_killed_at_random_points_resumes_and_the_cache_verifies() {
    use super::cli::{Random, client, json_of, login};
    use std::process::Stdio;
    use std::time::Duration;
    const TRIALS: usize = 8;
    let service = Service::start();
    let ids = [
        "2e3f4051-6c7d-4e8f-9091-a2b3c4d5e6f7",
        "3f405162-7d8e-4f90-a1a2-b3c4d5e6f708",
    ];
    for (n, id) in ids.iter().enumerate() {
        let package = guide_package(service.dir.path(), id, "Pump", &format!("big{n}"), 1 << 20);
        service.publish(&package);
        service.admin(&["guide", "grant", id, "--user", "alice"]);
    }
    let mut args = vec!["profile", "create", "line-1"];
    for id in ids {
        args.extend(["--guide", id]);
    }
    service.admin(&args);
    service.admin(&["profile", "add-member", "line-1", "alice"]);
    let device = tempfile::tempdir().unwrap();
    let data = device.path();
    assert!(login(data, &service, "alice").status.success());
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x2545_f491_4f6c_dd1d, |d| d.as_nanos() as u64);
    eprintln!("kill points seeded with {seed}");
    let mut random = Random(seed | 1);
    let mut killed = 0;
    for trial in 0..TRIALS {
        // 2 MiB at 4 MiB/s: about half a second of downloading after the start.
        let mut child = client(data, &["sync", "--yes", "--json"])
            .env("HOLOGUIDE_MAX_DOWNLOAD_RATE", "4194304")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50 + random.below(500)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait();
        let verify = client(data, &["cache", "verify"]).output().unwrap();
        assert!(
            verify.status.success(),
            "trial {trial}: {}{}",
            crate::support::stdout(&verify),
            crate::support::stderr(&verify)
        );
        // Whatever was stored opens whole.
        for guide in json_of(data, &["guides"])["guides"].as_array().unwrap() {
            let id = guide["guide_id"].as_str().unwrap();
            let opened = json_of(data, &["open", id]);
            assert!(opened["steps"].as_array().is_some_and(|s| s.len() == 2));
        }
        if json_of(data, &["guides"])["guides"]
            .as_array()
            .unwrap()
            .len()
            == 2
        {
            // Both in: start over for the next trial.
            for id in ids {
                client(data, &["cache", "clear", "--guide", id])
                    .output()
                    .unwrap();
            }
        }
    }
    assert!(killed >= 1, "no sync was interrupted");
    let last = json_of(data, &["sync", "--yes"]);
    assert!(
        matches!(
            last["sync"]["outcome"].as_str(),
            Some("done" | "nothing to do")
        ),
        "{last:#}"
    );
    assert_eq!(
        json_of(data, &["guides"])["guides"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// `hologuide bench sync` keeps working: a tiny profile, its three syncs, the memory line and
/// the frame-loop table, and nothing left in the temporary folder.
#[test]
fn bench_sync_prints_the_sync_memory_and_frame_loop_tables_and_leaves_nothing_behind() {
    use crate::support::{hologuide, run, stderr, stdout};
    let scratch = tempfile::tempdir().unwrap();
    let output = run(hologuide()
        .args([
            "bench",
            "sync",
            "--guides",
            "2",
            "--megabytes",
            "1",
            "--frames",
            "10",
            "--size",
            "64x64",
        ])
        .env("TMPDIR", scratch.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "offline profile of 2 guides × 1 MB",
        "first full sync",
        "after one guide was republished",
        "again, nothing changed (304)",
        "above idle (target < 64 MiB)",
        "idle (half before, half after)",
        "during the background sync",
        "p99 during the sync / idle:",
    ] {
        assert!(
            text.contains(expected),
            "missing \"{expected}\" in:\n{text}"
        );
    }
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}
