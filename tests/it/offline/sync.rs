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
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);

    let report = sync(&mut app);
    assert_eq!(report.outcome, "done", "{report:#?}");
    assert_eq!(report.plan.downloads.len(), 2, "{report:#?}");
    let stored: Vec<_> = report.stored.iter().map(|d| d.guide_id).collect();
    assert!(stored.contains(&a) && stored.contains(&b), "{stored:?}");
    assert!(report.downloaded_bytes >= 40_000, "{report:#?}");
    assert_eq!(report.downloaded_bytes, report.plan.download_bytes);

    // The Wi-Fi drops; the app starts again and opens guide B, never opened before.
    service.stop();
    let mut offline = device.launch();
    offline.start().expect("starts offline");
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
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
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
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
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
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
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
fn a_republished_guide_is_an_update_that_downloads_only_its_new_picture() {
    let (service, a, _) = service_with_profile(&[GUIDE_A]);
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
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
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    sync(&mut app);
    service.stop();
    let mut offline = device.launch();
    offline.start().unwrap();
    let error = run_cycle(&mut offline, SyncOptions::default(), &mut go, &|_, _| {})
        .expect_err("no network, no sync")
        .to_string();
    assert!(error.contains("needs the network"), "{error}");
    assert_eq!(offline.all_guides().unwrap().len(), 1);
}
