//! Opening guides online and offline, the All list, telemetry (F1, F2, F3, F7, F8, F9, F11,
//! F12, F13, F14, N1) on the library's `Device` against the real service.

use hologuide::app::access::{NO_GUIDES_OFFLINE, READ_ONLY_OFFLINE, Refused};
use hologuide::app::shell::Origin;
use hologuide::client::{ClientError, Target};

use super::*;

fn open(
    app: &mut hologuide::client::Device,
    target: &str,
) -> Result<hologuide::client::Opened, ClientError> {
    app.open(&Target::parse(target).unwrap(), &no_progress)
}

#[test]
fn f1_opening_a_guide_online_downloads_it_for_offline_use() {
    let mut service = Service::start();
    let id = small_guide(&service, GUIDE_A, "one");
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    let seen = std::sync::Mutex::new(Vec::new());
    let online = app
        .open(&Target::Guide(id), &|p| seen.lock().unwrap().push(p))
        .unwrap();
    assert_eq!(online.origin, Origin::Network);
    assert!(online.downloaded_bytes > 20_000);
    let seen = seen.into_inner().unwrap();
    assert_eq!(
        seen.last().unwrap().done,
        online.downloaded_bytes,
        "progress to the end"
    );
    assert!(app.store().unwrap().verify().unwrap().is_sound());

    service.stop();
    let mut later = device.launch();
    later.start().unwrap();
    let offline = open(&mut later, GUIDE_A).unwrap();
    assert_eq!(offline.origin, Origin::Cache);
    assert_eq!(texts(&offline), texts(&online));
    assert!(texts(&offline).contains("Check the valve one."));
}

#[test]
fn f2_a_request_failing_mid_session_shows_the_banner_and_cached_guides_still_open() {
    let mut service = Service::start();
    small_guide(&service, GUIDE_A, "one");
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    open(&mut app, GUIDE_A).unwrap();
    assert!(!app.shell().offline_banner());
    service.stop();
    // The app still believes it is online; the failing request flips it and falls back.
    let opened = open(&mut app, GUIDE_A).unwrap();
    assert_eq!(opened.origin, Origin::Cache);
    assert!(opened.offline_banner && app.shell().offline_banner());
    service.resume();
    let opened = open(&mut app, GUIDE_A).unwrap();
    assert_eq!(opened.origin, Origin::Network);
    assert!(!app.shell().offline_banner());
}

#[test]
fn f3_all_list_says_no_guides_are_available_offline_then_lists_cached_guides() {
    let mut service = Service::start();
    small_guide(&service, GUIDE_A, "one");
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    assert!(app.all_guides().unwrap().is_empty());
    assert_eq!(
        hologuide::app::access::all_list_lines(&[]),
        vec![NO_GUIDES_OFFLINE]
    );
    open(&mut app, GUIDE_A).unwrap();
    open(&mut app, DEMO_ID).unwrap();
    service.stop();
    let mut later = device.launch();
    later.start().unwrap();
    let list = later.all_guides().unwrap();
    let titles: Vec<_> = list.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(list.len(), 2, "{titles:?}");
    assert!(list.iter().all(|e| e.version == 1 && e.opens_offline));
    assert!(
        list[0].line().contains("version 1, downloaded "),
        "{}",
        list[0].line()
    );
    assert_eq!(later.shell().all_list().unwrap().len(), 2);
}

#[test]
fn f7_a_guide_link_opens_offline_when_the_guide_was_used_online_before() {
    let mut service = Service::start();
    small_guide(&service, GUIDE_A, "one");
    let other = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
    small_guide(&service, other, "two");
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    open(&mut app, GUIDE_A).unwrap();
    service.stop();
    let mut later = device.launch();
    later.start().unwrap();
    let by_sticker = open(
        &mut later,
        &format!("hologuide://hologuide-demo/g/{GUIDE_A}/s/2"),
    )
    .unwrap();
    assert_eq!(by_sticker.origin, Origin::Cache);
    assert_eq!(by_sticker.step.map(|s| s.get()), Some(2));
    // The app the sticker opens starts on step 2's card, as in the 3D app.
    match by_sticker.app().view() {
        hologuide::app::View::Step(card) => assert_eq!(card.step_number, 2),
        other => panic!("expected a step card, got {other:?}"),
    }
    let by_web_link = open(
        &mut later,
        &format!("https://guides.example.com/l/hologuide-demo/g/{GUIDE_A}"),
    )
    .unwrap();
    assert_eq!(by_web_link.origin, Origin::Cache);
    // A guide never opened on this device needs the network once.
    let never = open(&mut later, &format!("hologuide://hologuide-demo/g/{other}")).unwrap_err();
    assert!(
        matches!(never, ClientError::Refused(Refused::NotCached { .. })),
        "{never}"
    );
    assert!(
        never.to_string().contains("Open it once while online"),
        "{never}"
    );
    // Malformed stickers are refused with a reason, nothing else happens.
    assert!(Target::parse("hologuide://acme/g/not-a-uuid").is_err());
}

#[test]
fn f8_the_demo_guide_opens_without_network_and_without_an_account() {
    let device = TestDevice::new();
    let mut app = device.launch();
    assert!(matches!(
        app.start().unwrap(),
        hologuide::client::Started::No { .. }
    ));
    let demo = open(&mut app, DEMO_ID).unwrap();
    assert_eq!(demo.origin, Origin::Demo);
    assert_eq!(demo.guide.step_count(), 10);
    let sticker = open(
        &mut app,
        &format!("hologuide://hologuide-demo/g/{DEMO_ID}/s/3"),
    )
    .unwrap();
    assert_eq!(sticker.origin, Origin::Demo);
    assert_eq!(sticker.step.map(|s| s.get()), Some(3));
}

#[test]
fn f9_telemetry_is_kept_offline_for_a_bounded_number_of_sessions_and_uploaded_once_online() {
    let mut service = Service::start();
    small_guide(&service, GUIDE_A, "one");
    let device = TestDevice::new();
    let mut first = device.launch();
    sign_in_alice(&mut first, &service);
    open(&mut first, GUIDE_A).unwrap();
    // Opening online uploads nothing by itself; that run's outbox is empty.
    drop(first);
    service.stop();
    let mut config = device.config();
    config.telemetry_sessions = 2;
    for session in 0..4 {
        let mut app = hologuide::client::Device::new(config.clone()).unwrap();
        app.start().unwrap();
        // The operator walks through the cached guide: two steps, then done.
        let opened = open(&mut app, GUIDE_A).unwrap();
        let mut walk = hologuide::app::App::open(
            opened.guide.clone(),
            hologuide::app::GuideSource::Local,
            None,
        );
        for _ in 0..2 {
            let moved = walk.handle(hologuide::app::Intent::Next);
            app.record_transition(&opened.guide, &moved, 1000 + session)
                .unwrap();
        }
        let kept = app.upload_telemetry().unwrap();
        assert_eq!(kept.accepted, 0, "offline nothing goes out");
        assert!(kept.left > 0);
    }
    let mut app = hologuide::client::Device::new(config).unwrap();
    // Before going online: the older sessions were folded into counted summaries, not dropped.
    let outbox = {
        app.start().unwrap();
        app.store().unwrap().pending_telemetry(usize::MAX).unwrap()
    };
    let (mut summaries, mut events, mut counted) = (0, 0, 0);
    for item in &outbox {
        match item {
            hologuide::cache::OutboxItem::Event(_) => {
                events += 1;
                counted += 1;
            }
            hologuide::cache::OutboxItem::Summary(summary) => {
                summaries += 1;
                counted += summary.events;
            }
        }
    }
    assert!(summaries >= 1, "{outbox:?}");
    assert!(
        events <= 2 * 4,
        "at most two sessions event by event: {outbox:?}"
    );
    assert_eq!(
        counted,
        4 * 4,
        "every recorded event is accounted for: {outbox:?}"
    );
    drop(app);
    let mut app = hologuide::client::Device::new(device.config()).unwrap();
    service.resume();
    app.start().unwrap();
    let pending = app.upload_telemetry().unwrap();
    assert_eq!(pending.accepted, outbox.len(), "{pending:?}");
    assert_eq!(pending.left, 0);
    // Events arrive as events, folded sessions as the service's summary records.
    let stats = service.admin(&["stats"]);
    assert_eq!(stats["telemetry_events"], events);
    assert_eq!(stats["telemetry_summaries"], summaries);
    // Nothing is sent twice.
    let again = app.upload_telemetry().unwrap();
    assert_eq!((again.accepted, again.duplicates, again.left), (0, 0, 0));
    assert_eq!(service.admin(&["stats"])["telemetry_events"], events);
    assert_eq!(service.admin(&["stats"])["telemetry_summaries"], summaries);
}

#[test]
fn f11_offline_the_app_is_read_only_and_says_so() {
    let mut service = Service::start();
    let id = small_guide(&service, GUIDE_A, "one");
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    open(&mut app, GUIDE_A).unwrap();
    service.stop();
    open(&mut app, GUIDE_A).unwrap();
    let refused = app.edit_guide(id).unwrap_err();
    assert_eq!(refused.to_string(), READ_ONLY_OFFLINE);
    assert_eq!(app.shell().status(), Some(READ_ONLY_OFFLINE));
}

#[test]
fn f12_an_authors_change_arrives_only_when_the_guide_is_reopened_online() {
    let mut service = Service::start();
    small_guide(&service, GUIDE_A, "one");
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    assert_eq!(open(&mut app, GUIDE_A).unwrap().version, 1);
    // The author publishes version 2 while the device is offline.
    service.stop();
    let package = guide_package(service.dir.path(), GUIDE_A, "Valve check", "two", 20_000);
    service.publish(&package);
    let offline = open(&mut app, GUIDE_A).unwrap();
    assert_eq!((offline.origin, offline.version), (Origin::Cache, 1));
    assert!(texts(&offline).contains("valve one"));
    service.resume();
    let online = open(&mut app, GUIDE_A).unwrap();
    assert_eq!((online.origin, online.version), (Origin::Network, 2));
    assert!(texts(&online).contains("valve two"));
    // …and it is what opens offline from now on; the old version's blobs are gone.
    service.stop();
    let after = open(&mut app, GUIDE_A).unwrap();
    assert_eq!((after.origin, after.version), (Origin::Cache, 2));
    assert!(app.store().unwrap().verify().unwrap().is_sound());
}

/// F13 and F14 behave the same: the refusal is shown, the copy stays, is not updated, does not
/// open offline either, and goes when the cache is cleared.
fn refused_guide_stays_cached(refuse: &[&str], words: &str) {
    let mut service = Service::start();
    let id = small_guide(&service, GUIDE_A, "one");
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    open(&mut app, GUIDE_A).unwrap();
    service.admin(refuse);
    let online = open(&mut app, GUIDE_A).unwrap_err();
    assert!(online.to_string().contains(words), "{online}");
    assert_eq!(app.shell().status(), Some(online.to_string().as_str()));
    let store = app.store().unwrap().clone();
    let kept = store
        .current(id)
        .unwrap()
        .expect("the copy stays in the cache");
    assert_eq!(kept.version, 1);
    // A new version on the service does not reach the refused copy.
    let package = guide_package(service.dir.path(), GUIDE_A, "Valve check", "two", 20_000);
    let _ = crate::service::admin(
        &service.data(),
        &[
            "guide",
            "publish",
            package.to_str().unwrap(),
            "--as",
            "author",
        ],
    );
    assert!(open(&mut app, GUIDE_A).is_err());
    assert_eq!(store.current(id).unwrap().unwrap().version, 1);
    service.stop();
    let offline = open(&mut app, GUIDE_A).unwrap_err();
    assert!(
        offline.to_string().contains(words),
        "offline too: {offline}"
    );
    let listed = app.all_guides().unwrap();
    assert!(!listed[0].opens_offline);
    assert!(store.clear_guide(id).unwrap());
    assert!(app.all_guides().unwrap().is_empty());
}

#[test]
fn f13_a_deactivated_guide_stays_cached_but_opens_nowhere_and_is_never_updated() {
    refused_guide_stays_cached(&["guide", "deactivate", GUIDE_A], "deactivated");
}

#[test]
fn f14_a_guide_whose_permission_was_lost_behaves_the_same() {
    refused_guide_stays_cached(
        &["guide", "revoke", GUIDE_A, "--user", "alice"],
        "permission",
    );
}

#[test]
fn n1_an_expired_lease_does_not_open_offline_and_reopening_online_renews_it() {
    let mut service = Service::start_with(&["--offline-lease", "3600"]);
    small_guide(&service, GUIDE_A, "one");
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    open(&mut app, GUIDE_A).unwrap();
    service.stop();
    device.clock.advance(time::Duration::minutes(50));
    assert_eq!(open(&mut app, GUIDE_A).unwrap().origin, Origin::Cache);
    device.clock.advance(time::Duration::minutes(20));
    let expired = open(&mut app, GUIDE_A).unwrap_err();
    assert!(
        matches!(expired, ClientError::Refused(Refused::LeaseExpired { .. })),
        "{expired}"
    );
    // Moving the clock back to before the lease ended does not bring it back.
    device.clock.advance(time::Duration::minutes(-60));
    let rolled_back = open(&mut app, GUIDE_A).unwrap_err();
    assert!(
        matches!(rolled_back, ClientError::Refused(Refused::ClockRolledBack)),
        "{rolled_back}"
    );
    // Online, the clock is confirmed and the lease renewed.
    service.resume();
    device.clock.set(time::OffsetDateTime::now_utc());
    assert_eq!(open(&mut app, GUIDE_A).unwrap().origin, Origin::Network);
    service.stop();
    assert_eq!(open(&mut app, GUIDE_A).unwrap().origin, Origin::Cache);
}
