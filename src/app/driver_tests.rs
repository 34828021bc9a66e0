//! The driver alone — no GPU, no runtime, no network — through whole guides, as a shell would
//! feed it: scripted and pointed input, a device that answers a frame later, the service lost
//! and back, and a guide chosen from the All list replacing the one shown.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use glam::Vec3;
use time::macros::datetime;
use uuid::Uuid;

use super::*;
use crate::app::access::{AllListEntry, NO_GUIDES_OFFLINE};
use crate::app::device::{DeviceNews, Standalone};
use crate::app::pointer::aim;
use crate::app::script::parse;
use crate::scene::{ButtonAction, PanelKind};

const FRAME_S: f32 = 1.0 / 60.0;

fn demo_content() -> Content {
    let package = crate::demo::load().expect("the demo guide is in the source tree");
    Content::from_package(Arc::new(package), GuideSource::Demo)
}

/// The demo's package as another guide of the service: its first task only, retitled.
fn valve_check() -> Content {
    let mut package = crate::demo::load().expect("the demo guide");
    package.guide.title = "Valve check".into();
    package.guide.tasks.truncate(1);
    Content::from_package(Arc::new(package), GuideSource::Service)
}

/// What the device was asked and what it answers: a frame later, as the live worker does.
#[derive(Default)]
struct DeviceLog {
    online: Cell<bool>,
    asked: RefCell<Vec<String>>,
    answers: RefCell<Vec<DeviceNews>>,
    telemetry: RefCell<Vec<Transition>>,
}

struct Device(Rc<DeviceLog>);

impl Surroundings for Device {
    fn online(&self) -> bool {
        self.0.online.get()
    }
    fn screen_changed(&self, transition: &Transition) {
        self.0.telemetry.borrow_mut().push(transition.clone());
    }
    fn list_guides(&self) -> Option<Vec<crate::app::access::AllListEntry>> {
        self.0.asked.borrow_mut().push("list".into());
        None
    }
    fn open_guide(&self, guide: Uuid) {
        self.0.asked.borrow_mut().push(format!("open {guide}"));
    }
    fn news(&self) -> Option<DeviceNews> {
        let mut answers = self.0.answers.borrow_mut();
        (!answers.is_empty()).then(|| answers.remove(0))
    }
}

fn entry(n: u128, title: &str) -> AllListEntry {
    AllListEntry {
        guide_id: Uuid::from_u128(n),
        title: title.into(),
        version: 3,
        downloaded_at: datetime!(2026-11-25 08:00 UTC),
        opens_offline: true,
        note: None,
    }
}

fn kinds(frame: &Frame) -> Vec<PanelKind> {
    frame.panels.iter().map(|p| p.kind).collect()
}

fn screens(report: &AppReport) -> Vec<(u64, &str, &str)> {
    report
        .screens
        .iter()
        .map(|s| (s.frame, s.screen.as_str(), s.cause.as_str()))
        .collect()
}

#[test]
fn a_whole_guide_with_the_all_list_the_offline_banner_and_a_guide_swap_runs_on_the_driver_alone() {
    let device = Rc::new(DeviceLog::default());
    device.online.set(true);
    let script = parse("2 next\n3 next\n5 menu\n8 open 2\n").expect("a valid script");
    let mut driver = Driver::new(
        demo_content(),
        Box::new(Device(device.clone())),
        DriverSettings {
            dwell_s: Some(1.5),
            script,
            ..DriverSettings::default()
        },
    );
    let head = Pose::standing();
    let steps = driver.content().guide.step_count();
    // Frame 1: the first step, no banner.
    assert!(!kinds(driver.frame(head, 0.0)).contains(&PanelKind::OfflineBanner));
    // Frames 2 and 3: scripted Next twice; frame 4 the service is lost.
    driver.frame(head, FRAME_S);
    driver.frame(head, FRAME_S);
    device.online.set(false);
    let frame = driver.frame(head, FRAME_S);
    assert!(kinds(frame).contains(&PanelKind::OfflineBanner), "F2");
    assert!(matches!(driver.view(), View::Step(s) if s.step_number == 3));
    // Frame 5: the menu asks the device; nothing to show until it answers.
    assert_eq!(kinds(driver.frame(head, FRAME_S))[0], PanelKind::StepCard);
    assert_eq!(*device.asked.borrow(), vec!["list".to_owned()]);
    device.answers.borrow_mut().push(DeviceNews::AllList(vec![
        entry(1, "Pump filter"),
        entry(2, "Valve check"),
    ]));
    // Frame 6: the list arrives and is drawn instead of the card, numbered as it is chosen.
    let frame = driver.frame(head, FRAME_S).clone();
    assert_eq!(frame.panels[0].kind, PanelKind::AllList);
    assert!(frame.holograms.is_empty(), "no holograms over the list");
    // Frame 7: the service is back; the banner goes.
    device.online.set(true);
    assert!(!kinds(driver.frame(head, FRAME_S)).contains(&PanelKind::OfflineBanner));
    // Frame 8: the script opens entry 2; the device answers with the guide a frame later.
    driver.frame(head, FRAME_S);
    assert_eq!(
        device.asked.borrow().last().map(String::as_str),
        Some(format!("open {}", Uuid::from_u128(2)).as_str())
    );
    device.answers.borrow_mut().push(DeviceNews::Opened {
        content: valve_check(),
        title: "Valve check".into(),
        version: 3,
        notice: Some("Opened from this device's copy.".into()),
    });
    let frame = driver.frame(head, FRAME_S).clone();
    assert_eq!(driver.take_effects(), vec![Effect::SwapAssets]);
    assert_eq!(driver.content().guide.title, "Valve check");
    assert_eq!(frame.panels[0].kind, PanelKind::StepCard);
    assert!(
        kinds(&frame).contains(&PanelKind::Toast),
        "the notice shows"
    );
    assert_eq!(driver.step_time_s(), 0.0, "the new guide's first frame");
    // Through the new guide to its end by pointing at Next, as a controller or a click does.
    let valve_steps = driver.content().guide.step_count();
    for _ in 0..valve_steps {
        let frame = driver.last_frame().expect("a frame was built").clone();
        let action = if matches!(driver.view(), View::Step(s) if s.is_last) {
            ButtonAction::Finish
        } else {
            ButtonAction::Next
        };
        driver.input(Input::Select(aim::at_button(&frame, action, head)));
        driver.frame(head, FRAME_S);
    }
    let report = driver.report();
    assert_eq!(report.final_screen, "complete");
    assert_eq!(report.final_guide, "Valve check");
    assert_eq!(report.guide_source, "demo");
    assert_eq!(report.first_screen, format!("step 1 of {steps}"));
    let shown = screens(&report);
    assert_eq!(
        shown[..5],
        [
            (1, format!("step 1 of {steps}").as_str(), "start"),
            (2, format!("step 2 of {steps}").as_str(), "script"),
            (3, format!("step 3 of {steps}").as_str(), "script"),
            (
                9,
                format!("step 1 of {valve_steps}").as_str(),
                "chosen from the All list"
            ),
            (
                10,
                format!("step 2 of {valve_steps}").as_str(),
                "click Next"
            ),
        ]
    );
    assert_eq!(shown.last().map(|s| s.1), Some("complete"));
    assert_eq!(report.all_lists.len(), 1);
    assert!(report.all_lists[0][1].starts_with("2. Valve check — version 3"));
    assert_eq!(
        report.guides_opened,
        vec![format!("Valve check — version 3: step 1 of {valve_steps}")]
    );
    assert_eq!(
        report.statuses,
        vec!["Opening Valve check…", "Opened from this device's copy."]
    );
    assert_eq!(report.offline_banner_first_frame, Some(false));
    assert_eq!(report.offline_banner_last_frame, Some(false));
    assert_eq!(report.frames_with_offline_banner, 3, "frames 4 to 6");
    // F9: every screen change by input reached the device's telemetry.
    assert_eq!(device.telemetry.borrow().len(), 2 + valve_steps);
}

#[test]
fn an_all_list_entry_pointed_at_is_chosen_and_a_forced_banner_stays_until_toggled() {
    let mut driver = Driver::new(
        demo_content(),
        Box::new(Standalone),
        DriverSettings {
            offline: true,
            ..DriverSettings::default()
        },
    );
    let head = Pose::standing();
    assert!(kinds(driver.frame(head, 0.0)).contains(&PanelKind::OfflineBanner));
    driver.input(Input::Command(Command::Menu, Cause::Key("M")));
    let frame = driver.frame(head, FRAME_S).clone();
    assert_eq!(frame.panels[0].kind, PanelKind::AllList);
    assert_eq!(
        driver.report().all_lists,
        vec![vec![NO_GUIDES_OFFLINE.to_owned()]],
        "F3 without an account: the exact empty text"
    );
    // The empty text is no entry: pointing at it chooses nothing.
    driver.input(Input::Select(aim::at_text(&frame, 1, head)));
    assert!(driver.report().statuses.is_empty());
    driver.input(Input::ToggleOffline);
    assert!(!kinds(driver.frame(head, FRAME_S)).contains(&PanelKind::OfflineBanner));
    let observed = driver.take_observations();
    assert!(observed.contains(&Observation::Online {
        frame: 3,
        online: true
    }));
}

#[test]
fn gaze_held_on_next_for_the_dwell_time_presses_it_once_and_the_window_setting_never_does() {
    let head_at_next = |driver: &mut Driver| {
        let frame = driver.frame(Pose::standing(), 0.0).clone();
        let ray = aim::at_button(&frame, ButtonAction::Next, Pose::standing());
        Pose {
            position: ray.origin,
            orientation: glam::Quat::from_rotation_arc(Vec3::NEG_Z, ray.direction.normalize()),
        }
    };
    for (dwell_s, presses) in [(Some(0.5), 1), (None, 0)] {
        let mut driver = Driver::new(
            demo_content(),
            Box::new(Standalone),
            DriverSettings {
                dwell_s,
                ..DriverSettings::default()
            },
        );
        let gaze = head_at_next(&mut driver);
        // 0.2 s × 10: the follower keeps the card still while it is in view.
        for _ in 0..10 {
            driver.frame(gaze, 0.2);
        }
        let pressed = driver
            .report()
            .screens
            .iter()
            .filter(|s| s.cause == "gaze Next")
            .count();
        assert_eq!(pressed, presses, "dwell {dwell_s:?}");
    }
}

#[test]
fn restart_on_the_first_step_is_shown_again_and_resets_the_step_time() {
    let mut driver = Driver::new(
        demo_content(),
        Box::new(Standalone),
        DriverSettings::default(),
    );
    let head = Pose::standing();
    driver.frame(head, 0.0);
    driver.frame(head, 0.5);
    assert_eq!(driver.step_time_s(), 0.5);
    driver.input(Input::Command(
        Command::Intent(Intent::Restart),
        Cause::Key("R"),
    ));
    driver.frame(head, 0.5);
    assert_eq!(driver.step_time_s(), 0.0);
    assert_eq!(driver.screens_shown(), 2);
    let observed = driver.take_observations();
    assert_eq!(
        observed.last(),
        Some(&Observation::Shown {
            frame: 3,
            cause: Cause::Key("R")
        })
    );
}

const DEMO_ID: &str = "5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d";

fn seen(payload: &str) -> Input {
    Input::QrDetected(Box::new(crate::camera::Sighting::of_payload(
        payload.as_bytes(),
    )))
}

fn step_number(driver: &Driver) -> Option<usize> {
    match driver.view() {
        View::Step(s) => Some(s.step_number),
        View::Complete { .. } => None,
    }
}

/// Another guide of the service, with its own id (the demo's package, first task only).
fn pump_check(id: u128) -> Content {
    let mut package = crate::demo::load().expect("the demo guide");
    package.guide.id = Uuid::from_u128(id);
    package.guide.title = "Pump check".into();
    package.guide.tasks.truncate(1);
    Content::from_package(Arc::new(package), GuideSource::Service)
}

fn any_ray() -> Ray {
    Ray {
        origin: Vec3::new(0.0, 1.6, 0.0),
        direction: Vec3::NEG_Z,
    }
}

fn driver_with(device: &Rc<DeviceLog>) -> Driver {
    device.online.set(true);
    Driver::new(
        demo_content(),
        Box::new(Device(device.clone())),
        DriverSettings::default(),
    )
}

#[test]
fn a_sticker_of_the_guide_shown_goes_to_its_step_once_and_seen_again_does_nothing() {
    let device = Rc::new(DeviceLog::default());
    let mut driver = driver_with(&device);
    let head = Pose::standing();
    driver.frame(head, 0.0);
    let sticker = format!("hologuide://hologuide-demo/g/{DEMO_ID}/s/3");
    driver.input(seen(&sticker));
    driver.frame(head, FRAME_S);
    assert_eq!(step_number(&driver), Some(3));
    // The operator goes on; the sticker stays in view, seen every frame.
    driver.input(Input::Command(Command::Intent(Intent::Next), Cause::Script));
    for _ in 0..5 {
        driver.input(seen(&sticker));
        driver.frame(head, FRAME_S);
    }
    assert_eq!(step_number(&driver), Some(4), "seen again: nothing happens");
    let report = driver.report();
    assert_eq!(screens(&report)[1], (2, "step 3 of 10", "QR sticker"));
    assert!(
        device.asked.borrow().is_empty(),
        "nothing asked of the device"
    );
    assert!(
        report.statuses.is_empty(),
        "no question for the guide shown"
    );
}

#[test]
fn codes_that_are_not_guide_links_open_nothing_and_are_logged_once_each() {
    let device = Rc::new(DeviceLog::default());
    let mut driver = driver_with(&device);
    let head = Pose::standing();
    driver.frame(head, 0.0);
    let garbage = [
        "https://example.com/careers",
        "WIFI:T:WPA;S:floor;P:secret;;",
        "BEGIN:VCARD\nFN:Jane\nEND:VCARD",
        "Pump CP-200 serial 4411",
    ];
    // All in view at once, each seen every frame.
    for _ in 0..3 {
        for payload in garbage {
            driver.input(seen(payload));
        }
        driver.frame(head, FRAME_S);
    }
    let binary: Vec<u8> = (0..2953u32).map(|i| (i % 251) as u8).collect();
    for _ in 0..3 {
        driver.input(Input::QrDetected(Box::new(
            crate::camera::Sighting::of_payload(&binary),
        )));
        driver.frame(head, FRAME_S);
    }
    let report = driver.report();
    assert_eq!(
        report.codes_ignored,
        [
            "a https address that is not a guide link",
            "a Wi-Fi configuration",
            "a contact card",
            "plain text, not a link",
            "2953 bytes, longer than any guide link (2048)",
        ]
    );
    assert_eq!(report.screens.len(), 1, "only the start");
    assert!(report.statuses.is_empty() && device.asked.borrow().is_empty());
}

#[test]
fn another_guides_sticker_asks_first_and_select_opens_it_at_the_stickers_step() {
    let device = Rc::new(DeviceLog::default());
    let mut driver = driver_with(&device);
    let head = Pose::standing();
    driver.frame(head, 0.0);
    // The All list named it once, so the question names it too.
    driver.input(Input::Command(Command::Menu, Cause::Script));
    device
        .answers
        .borrow_mut()
        .push(DeviceNews::AllList(vec![entry(7, "Pump check")]));
    driver.frame(head, FRAME_S);
    driver.input(Input::Command(Command::Menu, Cause::Script));
    let other = Uuid::from_u128(7);
    let sticker = format!("https://guides.example.com/l/acme/g/{other}/s/2");
    driver.input(seen(&sticker));
    driver.frame(head, FRAME_S);
    assert_eq!(
        driver.report().statuses.last().map(String::as_str),
        Some("Open Pump check? Select to confirm")
    );
    assert_eq!(
        *device.asked.borrow(),
        ["list"],
        "nothing opened before Select"
    );
    assert_eq!(step_number(&driver), Some(1));
    driver.input(Input::Select(any_ray()));
    driver.frame(head, FRAME_S);
    assert_eq!(device.asked.borrow().last(), Some(&format!("open {other}")));
    device.answers.borrow_mut().push(DeviceNews::Opened {
        content: pump_check(7),
        title: "Pump check".into(),
        version: 1,
        notice: None,
    });
    driver.frame(head, FRAME_S);
    assert_eq!(driver.content().guide.title, "Pump check");
    assert_eq!(step_number(&driver), Some(2), "at the sticker's step");
    let report = driver.report();
    assert_eq!(screens(&report).last().map(|s| s.2), Some("QR sticker"));
    // Still in view: its guide is shown now, nothing more happens.
    driver.input(seen(&sticker));
    driver.frame(head, FRAME_S);
    assert_eq!(driver.report().screens.len(), report.screens.len());
}

#[test]
fn back_dismisses_another_guides_question_and_opens_nothing() {
    let device = Rc::new(DeviceLog::default());
    let mut driver = driver_with(&device);
    let head = Pose::standing();
    driver.frame(head, 0.0);
    driver.input(Input::Command(Command::Intent(Intent::Next), Cause::Script));
    driver.input(seen(&format!("hologuide://acme/g/{}", Uuid::from_u128(9))));
    driver.frame(head, FRAME_S);
    assert_eq!(
        driver.report().statuses,
        ["Open the guide on this sticker? Select to confirm"]
    );
    driver.input(Input::Command(Command::Intent(Intent::Back), Cause::Script));
    let frame = driver.frame(head, FRAME_S).clone();
    assert_eq!(
        step_number(&driver),
        Some(2),
        "Back only dismissed the question"
    );
    assert!(!kinds(&frame).contains(&PanelKind::Toast), "question gone");
    driver.input(Input::Select(any_ray()));
    driver.frame(head, FRAME_S);
    assert!(device.asked.borrow().is_empty(), "nothing opened");
}

/// F7: offline, a sticker of a guide never opened on this device opens nothing; the device's
/// own refusal (the one text for it, [`crate::app::access::Refused::NotCached`]) shows.
#[test]
fn offline_a_sticker_of_a_guide_never_opened_here_shows_the_refusal_and_opens_nothing() {
    let device = Rc::new(DeviceLog::default());
    let mut driver = driver_with(&device);
    device.online.set(false);
    let head = Pose::standing();
    driver.frame(head, 0.0);
    driver.input(seen(&format!(
        "hologuide://acme/g/{}/s/4",
        Uuid::from_u128(5)
    )));
    driver.frame(head, FRAME_S);
    driver.input(Input::Select(any_ray()));
    driver.frame(head, FRAME_S);
    let refusal = crate::app::access::Refused::NotCached {
        username: "ana".into(),
    }
    .to_string();
    device
        .answers
        .borrow_mut()
        .push(DeviceNews::Refused(refusal.clone()));
    driver.frame(head, FRAME_S);
    let report = driver.report();
    assert_eq!(report.statuses.last(), Some(&refusal));
    assert!(refusal.contains("Open it once while online"), "{refusal}");
    assert_eq!(report.final_guide, driver.content().guide.title);
    assert_eq!(report.screens.len(), 1, "nothing opened");
    assert!(driver.take_effects().is_empty());
}

#[test]
fn a_scripted_select_answers_a_stickers_question_as_a_pinch_would() {
    let device = Rc::new(DeviceLog::default());
    device.online.set(true);
    let mut driver = Driver::new(
        demo_content(),
        Box::new(Device(device.clone())),
        DriverSettings {
            script: parse("3 select\n").expect("a valid script"),
            ..DriverSettings::default()
        },
    );
    let head = Pose::standing();
    driver.frame(head, 0.0);
    driver.input(seen(&format!("hologuide://acme/g/{}", Uuid::from_u128(4))));
    driver.frame(head, FRAME_S);
    assert!(device.asked.borrow().is_empty());
    driver.frame(head, FRAME_S);
    assert_eq!(
        *device.asked.borrow(),
        [format!("open {}", Uuid::from_u128(4))]
    );
}

#[test]
fn a_button_pressed_by_gaze_dismisses_a_stickers_question_so_a_later_select_opens_nothing() {
    let device = Rc::new(DeviceLog::default());
    device.online.set(true);
    let mut driver = Driver::new(
        demo_content(),
        Box::new(Device(device.clone())),
        DriverSettings {
            dwell_s: Some(0.5),
            ..DriverSettings::default()
        },
    );
    let frame = driver.frame(Pose::standing(), 0.0).clone();
    let ray = aim::at_button(&frame, ButtonAction::Next, Pose::standing());
    let gaze = Pose {
        position: ray.origin,
        orientation: glam::Quat::from_rotation_arc(Vec3::NEG_Z, ray.direction.normalize()),
    };
    driver.input(seen(&format!("hologuide://acme/g/{}", Uuid::from_u128(6))));
    for _ in 0..5 {
        driver.frame(gaze, 0.2);
    }
    assert_eq!(step_number(&driver), Some(2), "the gaze pressed Next");
    driver.input(Input::Select(any_ray()));
    driver.frame(gaze, FRAME_S);
    assert!(device.asked.borrow().is_empty(), "the question was gone");
}

/// N2: a sticker the device cannot vouch for (here signed by a key it does not know) does
/// nothing but say why, once, however many frames it is seen in.
#[test]
fn a_refused_sticker_says_why_once_and_moves_nothing() {
    let device = Rc::new(DeviceLog::default());
    let mut driver = driver_with(&device);
    let head = Pose::standing();
    driver.frame(head, 0.0);
    let key = crate::guide::link_trust::SigningKey::from_pkcs8(
        &crate::guide::link_trust::SigningKey::generate().expect("a key"),
    )
    .expect("a key");
    let link =
        GuideLink::parse(&format!("hologuide://hologuide-demo/g/{DEMO_ID}/s/3")).expect("a link");
    let signed = key.sign(&link).to_string();
    for _ in 0..3 {
        driver.input(seen(&signed));
        driver.frame(head, FRAME_S);
    }
    assert_eq!(step_number(&driver), Some(1));
    let report = driver.report();
    assert_eq!(
        report.statuses,
        [
            "This sticker is signed with a key this device does not know. Sign in while online to \
          update the keys, then look at it again."
        ]
    );
}
