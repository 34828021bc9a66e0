//! The offline profile synced in the background while the app runs (issue 17: S5, S7, S8):
//! a signed-in device's worker syncs at start, asks before a download above the limit
//! ("Updates available: … — Download now / Later"), waits after Later and asks again at the
//! next cycle, and stops cleanly with a download in flight, which the next cycle resumes.
//! Against the real `hologuide-server` on 127.0.0.1.

use std::time::{Duration, Instant};

use std::cell::Cell;
use std::rc::Rc;

use hologuide::app::Transition;
use hologuide::app::device::{DeviceNews, Surroundings};
use hologuide::app::updates::{UpdateAnswer, UpdateOffer};
use hologuide::client::Device;
use hologuide::sync::{BackgroundSync, SyncSettings, WithBackgroundSync};

use super::*;

const GUIDE_B: &str = "2e3f4051-6c7d-4e8f-9a01-b2c3d4e5f607";

/// Waits for the worker's next news (the worker is asynchronous; this only bounds a hang).
fn next_news(sync: &BackgroundSync) -> DeviceNews {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(news) = sync.news() {
            return news;
        }
        assert!(
            Instant::now() < deadline,
            "no news from the background sync"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn next_offer(sync: &BackgroundSync) -> UpdateOffer {
    match next_news(sync) {
        DeviceNews::UpdatesAvailable(offer) => offer,
        other => panic!("expected an update offer, got {}", describe(&other)),
    }
}

fn next_line(sync: &BackgroundSync) -> String {
    match next_news(sync) {
        DeviceNews::Synced(line) => line,
        other => panic!("expected a line from the sync, got {}", describe(&other)),
    }
}

fn describe(news: &DeviceNews) -> String {
    match news {
        DeviceNews::AllList(_) => "the All list".into(),
        DeviceNews::Opened { title, .. } => format!("{title} opened"),
        DeviceNews::Refused(text) | DeviceNews::Synced(text) => text.clone(),
        DeviceNews::UpdatesAvailable(offer) => offer.question(),
        DeviceNews::Kept { step_id, time, .. } => format!("answer at {step_id} kept {time}"),
    }
}

/// The service with guides A and B (about 20 kB each) granted to alice, both in profile
/// "line-1" of which alice is a member; alice signed in on a new device whose sync settings
/// are `settings`.
fn member_device(settings: SyncSettings) -> (Service, TestDevice, Device) {
    let service = Service::start();
    small_guide(&service, GUIDE_A, "alpha");
    small_guide(&service, GUIDE_B, "bravo");
    service.admin(&[
        "profile", "create", "line-1", "--guide", GUIDE_A, "--guide", GUIDE_B,
    ]);
    service.admin(&["profile", "add-member", "line-1", "alice"]);
    let device = TestDevice::new();
    let mut app = device.launch();
    sign_in_alice(&mut app, &service);
    settings.save(app.store().unwrap()).unwrap();
    (service, device, app)
}

fn held_versions(app: &Device) -> Vec<(String, u32)> {
    let mut held: Vec<(String, u32)> = app
        .store()
        .unwrap()
        .list()
        .unwrap()
        .into_iter()
        .map(|g| (g.guide_id.to_string(), g.version))
        .collect();
    held.sort();
    held
}

/// Every cycle asks: the prompt's rule is tested here, not the size of the test guides.
fn always_ask() -> SyncSettings {
    SyncSettings {
        ask_above_bytes: 0,
        every_s: 3600,
        ..SyncSettings::default()
    }
}

#[test]
fn s2_s5_at_start_a_small_profile_arrives_in_the_background_without_asking() {
    let (_service, _device, app) = member_device(SyncSettings::default());
    let sync = BackgroundSync::start(&app).expect("the sync starts");
    let line = next_line(&sync);
    assert!(
        line.starts_with("Offline guides updated: 2 guides downloaded ("),
        "{line}"
    );
    assert_eq!(
        held_versions(&app).len(),
        2,
        "both profile guides are on the device"
    );
}

#[test]
fn s7_an_update_above_the_limit_is_offered_later_waits_and_download_now_brings_it() {
    let (service, _device, app) = member_device(always_ask());
    let sync = BackgroundSync::start(&app).expect("the sync starts");

    let offer = next_offer(&sync);
    assert_eq!(offer.guides.len(), 2, "{offer:?}");
    assert!(
        offer
            .question()
            .starts_with("Updates available: 2 guides, "),
        "{}",
        offer.question()
    );
    sync.answer(UpdateAnswer::Later);
    // Later reminds at the next cycle, and nothing was downloaded meanwhile.
    sync.sync_now();
    let again = next_offer(&sync);
    assert_eq!(again, offer);
    assert!(held_versions(&app).is_empty(), "Later downloads nothing");

    sync.answer(UpdateAnswer::DownloadNow);
    let line = next_line(&sync);
    assert!(
        line.starts_with("Offline guides updated: 2 guides"),
        "{line}"
    );
    assert_eq!(held_versions(&app).len(), 2);

    // A republish is offered at the next contact: one guide, its new picture only.
    let package = guide_package(
        service.dir.path(),
        GUIDE_A,
        "Valve check",
        "alpha-2",
        30_000,
    );
    service.publish(&package);
    sync.sync_now();
    let update = next_offer(&sync);
    assert_eq!(update.guides, vec!["Valve check".to_owned()], "{update:?}");
    assert!(
        update.bytes >= 30_000 && update.bytes < 60_000,
        "{update:?}"
    );
    sync.answer(UpdateAnswer::DownloadNow);
    next_line(&sync);
    assert!(
        held_versions(&app).contains(&(GUIDE_A.to_owned(), 2)),
        "{:?}",
        held_versions(&app)
    );
}

/// A shell's device whose monitor says what the test sets.
struct Monitor(Rc<Cell<bool>>);

impl Surroundings for Monitor {
    fn online(&self) -> bool {
        self.0.get()
    }
    fn screen_changed(&self, _: &Transition) {}
}

#[test]
fn s5_when_the_network_comes_back_a_cycle_runs_at_once() {
    let (mut service, _device, app) = member_device(SyncSettings {
        every_s: 3600,
        ..SyncSettings::default()
    });
    service.stop();
    let online = Rc::new(Cell::new(false));
    let sync = BackgroundSync::start(&app).expect("the sync starts");
    let shell = WithBackgroundSync::new(Box::new(Monitor(online.clone())), sync);
    // The cycle at start found no network; the next one is an hour away.
    let deadline = Instant::now() + Duration::from_secs(120);
    while shell.sync().cycles() == 0 {
        assert!(Instant::now() < deadline, "the first cycle never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(held_versions(&app).is_empty());

    service.resume();
    online.set(true);
    // The driver reads the link every frame; the first read that says online starts a cycle.
    assert!(shell.online());
    let news = loop {
        if let Some(news) = shell.news() {
            break news;
        }
        assert!(
            Instant::now() < deadline,
            "no sync after the network came back"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let DeviceNews::Synced(line) = news else {
        panic!("expected the sync's line, got {}", describe(&news));
    };
    assert!(
        line.starts_with("Offline guides updated: 2 guides"),
        "{line}"
    );
    assert_eq!(held_versions(&app).len(), 2);
}
