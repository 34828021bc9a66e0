//! S6: permission changes take effect at the next sync, by the organisation's policy: under
//! keep-offline the copy stays usable offline (never updated), under lock-on-sync it stops
//! opening with the service's words. Until that sync the previous access holds. Against the
//! real `hologuide-server` on 127.0.0.1.

use hologuide::app::access::LostAccess;
use hologuide::client::{Device, Target};
use hologuide::sync::{Approval, SyncOptions, SyncReport, run_cycle};

use super::*;

const GUIDE_B: &str = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d";

fn sync(device: &mut Device) -> SyncReport {
    run_cycle(
        device,
        SyncOptions::default(),
        &mut |_| Approval::Go,
        &|_, _| {},
    )
    .expect("the sync runs")
}

fn open_b(
    device: &mut Device,
) -> Result<hologuide::client::Opened, hologuide::client::ClientError> {
    let target = Target::parse(GUIDE_B).unwrap();
    device.open(&target, &no_progress)
}

/// Alice, member of profile "line-1" (guide A), has also opened guide B herself; then an admin
/// sets `policy` and takes B away from her. Returns the service (running) and her device.
fn b_taken_away(policy: &str) -> (Service, TestDevice) {
    let service = Service::start();
    small_guide(&service, GUIDE_A, "alpha");
    small_guide(&service, GUIDE_B, "bravo");
    service.admin(&["profile", "create", "line-1", "--guide", GUIDE_A]);
    service.admin(&["profile", "add-member", "line-1", "alice"]);
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    open_b(&mut app).expect("B opens online");
    sync(&mut app);
    let set = service.admin(&["profile", "lost-access", policy]);
    assert_eq!(set["lost_access"], policy.replace('-', "_"), "{set:#}");
    service.admin(&["guide", "revoke", GUIDE_B, "--user", "alice"]);
    (service, device)
}

fn restarted(device: &TestDevice) -> Device {
    let mut app = device.launch();
    app.start().expect("the app starts");
    app
}

#[test]
fn s6_until_the_next_sync_the_previous_access_holds_offline() {
    let (mut service, device) = b_taken_away("lock-on-sync");
    service.stop();
    let mut offline = restarted(&device);
    let opened = open_b(&mut offline).expect("not synced since: B still opens offline");
    assert_eq!(opened.origin, hologuide::app::shell::Origin::Cache);
}

#[test]
fn s6_lock_on_sync_stops_the_copy_opening_at_the_sync_with_the_services_words() {
    let (mut service, device) = b_taken_away("lock-on-sync");
    let mut app = restarted(&device);
    let report = sync(&mut app);
    let [lost] = &report.access_lost[..] else {
        panic!("B is found lost: {:?}", report.access_lost);
    };
    assert_eq!(lost.policy, LostAccess::LockOnSync);
    assert!(lost.words.contains("permission"), "{lost:?}");
    assert!(
        lost.line().ends_with("It no longer opens on this device."),
        "{}",
        lost.line()
    );
    service.stop();
    let mut offline = restarted(&device);
    let refused = open_b(&mut offline).unwrap_err();
    assert_eq!(refused.to_string(), lost.words);
    let listed = offline.all_guides().unwrap();
    let b = listed
        .iter()
        .find(|e| e.guide_id.to_string() == GUIDE_B)
        .expect("the copy stays until cleared");
    assert!(!b.opens_offline);
}

#[test]
fn s6_keep_offline_keeps_the_copy_usable_offline_and_never_updates_it() {
    let (mut service, device) = b_taken_away("keep-offline");
    // A new version of B that alice may not have.
    let package = guide_package(
        service.dir.path(),
        GUIDE_B,
        "Valve check",
        "bravo-2",
        20_000,
    );
    service.publish(&package);
    let mut app = restarted(&device);
    let report = sync(&mut app);
    let [lost] = &report.access_lost[..] else {
        panic!("B is found lost: {:?}", report.access_lost);
    };
    assert_eq!(lost.policy, LostAccess::KeepOffline);
    assert!(
        lost.line().ends_with(
            "This device's copy stays usable offline until cleared, and is not updated."
        ),
        "{}",
        lost.line()
    );
    // Online the service refuses it (F14)…
    assert!(open_b(&mut app).is_err());
    // …offline this device's copy opens, version 1, and the All list says why it stays.
    service.stop();
    let mut offline = restarted(&device);
    let opened = open_b(&mut offline).expect("kept offline");
    assert_eq!(opened.version, 1, "never updated");
    let listed = offline.all_guides().unwrap();
    let b = listed
        .iter()
        .find(|e| e.guide_id.to_string() == GUIDE_B)
        .unwrap();
    assert!(b.opens_offline);
    assert!(
        b.note
            .as_deref()
            .is_some_and(|n| n.starts_with("kept on this device, never updated: ")),
        "{b:?}"
    );
    // Taken out of every profile, the device hears no policy at its next sync: the last one
    // heard holds.
    service.resume();
    service.admin(&["profile", "remove-member", "line-1", "alice"]);
    let mut online = restarted(&device);
    let report = sync(&mut online);
    assert!(report.plan.profile.is_empty(), "in no profile now");
    service.stop();
    let mut offline = restarted(&device);
    assert!(open_b(&mut offline).is_ok(), "still kept offline");
    // Cleared, it goes.
    assert!(
        offline
            .store()
            .unwrap()
            .clear_guide(opened.guide_id)
            .unwrap()
    );
}
