//! Signing in and out, starting offline, the 90-day window, one cache per user and device
//! (F4, F5, F6, F10), on the library's `Device` against the real service.

use std::sync::Arc;

use hologuide::app::access::{Refused, SIGN_IN_NEEDS_NETWORK};
use hologuide::app::shell::Origin;
use hologuide::cache::{CacheError, MemoryKeyStore, Store};
use hologuide::client::{ClientError, Started, Target};

use super::*;

#[test]
fn f4_started_offline_the_app_signs_in_to_the_last_account_used_online() {
    let mut service = Service::start();
    let device = TestDevice::new();
    sign_in_alice(&mut device.launch(), &service);
    service.stop();
    let mut app = device.launch();
    assert_eq!(
        app.start().unwrap(),
        Started::Offline {
            username: "alice".into()
        }
    );
    assert_eq!(app.username(), Some("alice"));
    assert!(app.shell().offline_banner());
}

#[test]
fn f4_started_online_the_last_account_is_signed_in_online() {
    let service = Service::start();
    let device = TestDevice::new();
    sign_in_alice(&mut device.launch(), &service);
    let mut app = device.launch();
    assert_eq!(
        app.start().unwrap(),
        Started::Online {
            username: "alice".into()
        }
    );
    assert!(!app.shell().offline_banner());
}

#[test]
fn f5_signed_out_offline_cannot_sign_in_until_online() {
    let mut service = Service::start();
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    service.stop();
    // Signing out offline is allowed…
    assert_eq!(app.sign_out().unwrap(), Some("alice".into()));
    // …signing in again is not, and says why, word for word.
    let refused = app.sign_in(None, "alice", &password("alice")).unwrap_err();
    assert!(matches!(
        refused,
        ClientError::Refused(Refused::SignInNeedsNetwork)
    ));
    assert_eq!(refused.to_string(), SIGN_IN_NEEDS_NETWORK);
    assert_eq!(app.shell().status(), Some(SIGN_IN_NEEDS_NETWORK));
    // A restart offline does not sign the signed-out user back in.
    assert!(matches!(
        device.launch().start().unwrap(),
        Started::No { .. }
    ));
    service.resume();
    app.sign_in(None, "alice", &password("alice")).unwrap();
    assert_eq!(app.username(), Some("alice"));
}

#[test]
fn f6_another_user_or_another_device_cannot_read_the_cache() {
    let mut service = Service::start();
    service.admin(&["guide", "grant", DEMO_ID, "--user", "bob"]);
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    let demo = Target::parse(DEMO_ID).unwrap();
    assert_eq!(
        app.open(&demo, &no_progress).unwrap().origin,
        Origin::Network
    );
    let alice_id = {
        let index = hologuide::cache::DeviceIndex::load(device.dir.path()).unwrap();
        index.last().unwrap().user_id.clone()
    };
    // Bob on the same device: his own (empty) cache; alice's guide must be opened online first.
    app.sign_in(None, "bob", &password("bob")).unwrap();
    service.stop();
    assert!(app.all_guides().unwrap().is_empty());
    let refused = app.open(&demo, &no_progress).unwrap();
    assert_eq!(
        refused.origin,
        Origin::Demo,
        "offline, bob gets the bundled demo, not alice's copy"
    );
    // Encryption, not a filter: bob's key does not open alice's file…
    let path = hologuide::cache::database_path(device.dir.path(), &alice_id);
    let bobs_key = Store::open_at(
        device.dir.path(),
        &path,
        "bob-user-id",
        device.keys.as_ref(),
        device.clock.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(bobs_key, CacheError::WrongKey { .. }),
        "{bobs_key}"
    );
    assert_eq!(
        bobs_key.to_string(),
        "this cache belongs to another user or device"
    );
    // …and neither does alice's key on another device (another device secret).
    let other_device = MemoryKeyStore::new();
    let elsewhere = Store::open(
        device.dir.path(),
        &alice_id,
        &other_device,
        device.clock.clone(),
    )
    .unwrap_err();
    assert!(
        matches!(elsewhere, CacheError::WrongKey { .. }),
        "{elsewhere}"
    );
    // The rightful owner still reads it.
    assert!(
        Store::open(
            device.dir.path(),
            &alice_id,
            device.keys.as_ref(),
            Arc::new(hologuide::clock::SystemClock)
        )
        .is_ok()
    );
}

#[test]
fn f10_offline_use_ends_90_days_after_the_last_online_sign_in_and_the_window_rolls() {
    let mut service = Service::start();
    let device = TestDevice::new();
    sign_in_alice(&mut device.launch(), &service);
    service.stop();
    device.advance_days(89);
    assert!(matches!(
        device.launch().start().unwrap(),
        Started::Offline { .. }
    ));
    device.advance_days(2);
    let Started::No { reason } = device.launch().start().unwrap() else {
        panic!("past 90 days offline, nobody is signed in");
    };
    assert!(reason.contains("90 days"), "{reason}");
    assert!(reason.contains("sign in again"), "{reason}");

    // Online again: a sign-in rolls the window from now.
    service.resume();
    sign_in_alice(&mut device.launch(), &service);
    service.stop();
    device.advance_days(80);
    assert!(matches!(
        device.launch().start().unwrap(),
        Started::Offline { .. }
    ));
}

#[test]
fn n1_a_clock_set_back_signs_nobody_in_offline_until_online() {
    let mut service = Service::start();
    let device = TestDevice::new();
    sign_in_alice(&mut device.launch(), &service);
    service.stop();
    device.advance_days(3);
    assert!(matches!(
        device.launch().start().unwrap(),
        Started::Offline { .. }
    ));
    device.advance_days(-2);
    let Started::No { reason } = device.launch().start().unwrap() else {
        panic!("a clock moved back must not sign in offline");
    };
    assert!(reason.contains("clock"), "{reason}");
}
