//! S7 on the driver alone: the background sync's offer shows as a prompt over the card, and
//! the operator's answer — a button selected, looked at, or its number — goes to the device.

use std::cell::RefCell;
use std::rc::Rc;

use glam::Vec3;

use super::*;
use crate::app::device::DeviceNews;
use crate::app::pointer::aim;
use crate::app::updates::{UpdateAnswer, UpdateOffer};
use crate::scene::{ButtonAction, PanelKind};

const FRAME_S: f32 = 1.0 / 60.0;

#[derive(Default)]
struct Log {
    news: RefCell<Vec<DeviceNews>>,
    answers: RefCell<Vec<UpdateAnswer>>,
}

struct Syncing(Rc<Log>);

impl Surroundings for Syncing {
    fn online(&self) -> bool {
        true
    }
    fn screen_changed(&self, _: &Transition) {}
    fn news(&self) -> Option<DeviceNews> {
        let mut news = self.0.news.borrow_mut();
        (!news.is_empty()).then(|| news.remove(0))
    }
    fn answer_updates(&self, answer: UpdateAnswer) {
        self.0.answers.borrow_mut().push(answer);
    }
}

fn offer() -> UpdateOffer {
    UpdateOffer {
        guides: vec!["Pump filter".into(), "Valve check".into()],
        bytes: 40 << 20,
        size: "40 MiB".into(),
    }
}

fn offered(dwell_s: Option<f32>) -> (Rc<Log>, Driver) {
    let log = Rc::new(Log::default());
    let package = crate::demo::load().expect("the demo guide");
    let mut driver = Driver::new(
        Content::from_package(Arc::new(package), GuideSource::Service),
        Box::new(Syncing(log.clone())),
        DriverSettings {
            dwell_s,
            ..DriverSettings::default()
        },
    );
    driver.frame(Pose::standing(), 0.0);
    log.news
        .borrow_mut()
        .push(DeviceNews::UpdatesAvailable(offer()));
    (log, driver)
}

fn prompt_text(frame: &Frame) -> Option<String> {
    frame
        .panels
        .iter()
        .find(|p| p.kind == PanelKind::UpdatePrompt)
        .map(|p| p.texts[0].text.clone())
}

#[test]
fn s7_an_offer_shows_the_prompt_and_download_now_selected_goes_to_the_device() {
    let (log, mut driver) = offered(None);
    let frame = driver.frame(Pose::standing(), FRAME_S).clone();
    assert_eq!(
        prompt_text(&frame).as_deref(),
        Some("Updates available: 2 guides, 40 MiB")
    );
    assert!(
        frame.panels.iter().any(|p| p.kind == PanelKind::StepCard),
        "the card stays: the operator may go on working"
    );
    let ray = aim::at_button(&frame, ButtonAction::DownloadUpdates, Pose::standing());
    driver.input(Input::Select(ray));
    assert_eq!(*log.answers.borrow(), vec![UpdateAnswer::DownloadNow]);
    let frame = driver.frame(Pose::standing(), FRAME_S).clone();
    assert_eq!(prompt_text(&frame), None, "answered, the prompt goes");
    let report = driver.report();
    assert_eq!(
        report.update_prompts,
        vec!["Updates available: 2 guides, 40 MiB"]
    );
    assert_eq!(
        report.update_answers,
        vec!["download now (click DownloadUpdates)"]
    );
    assert_eq!(
        report.statuses.last().map(String::as_str),
        Some("Downloading updates: 40 MiB…")
    );
    assert_eq!(
        report.final_screen, "step 1 of 10",
        "the guide did not move"
    );
}

#[test]
fn s7_later_by_its_number_as_in_the_all_list_postpones_and_a_sync_line_shows_after() {
    let (log, mut driver) = offered(None);
    driver.frame(Pose::standing(), FRAME_S);
    driver.input(Input::Command(
        Command::Open(std::num::NonZeroU32::new(2).unwrap()),
        Cause::Key("2"),
    ));
    assert_eq!(*log.answers.borrow(), vec![UpdateAnswer::Later]);
    assert!(driver.update_offer().is_none());
    assert_eq!(
        driver.report().statuses.last().map(String::as_str),
        Some("Updates postponed: you will be asked again at the next sync.")
    );
    // A number with no prompt and no list on screen answers nothing more.
    driver.input(Input::Command(
        Command::Open(std::num::NonZeroU32::new(1).unwrap()),
        Cause::Key("1"),
    ));
    assert_eq!(log.answers.borrow().len(), 1);

    log.news.borrow_mut().push(DeviceNews::Synced(
        "Offline guides updated: 2 guides downloaded (40 MiB).".into(),
    ));
    driver.frame(Pose::standing(), FRAME_S);
    assert_eq!(
        driver.report().statuses.last().map(String::as_str),
        Some("Offline guides updated: 2 guides downloaded (40 MiB).")
    );
}

#[test]
fn s7_gaze_held_on_a_prompt_button_answers_it_without_moving_the_guide() {
    let (log, mut driver) = offered(Some(0.5));
    let frame = driver.frame(Pose::standing(), FRAME_S).clone();
    let ray = aim::at_button(&frame, ButtonAction::UpdatesLater, Pose::standing());
    let gaze = Pose {
        position: ray.origin,
        orientation: glam::Quat::from_rotation_arc(Vec3::NEG_Z, ray.direction.normalize()),
    };
    for _ in 0..10 {
        driver.frame(gaze, 0.2);
    }
    assert_eq!(*log.answers.borrow(), vec![UpdateAnswer::Later]);
    assert_eq!(driver.report().final_screen, "step 1 of 10");
}

#[test]
fn s7_a_newer_offer_replaces_one_not_answered() {
    let (log, mut driver) = offered(None);
    driver.frame(Pose::standing(), FRAME_S);
    let newer = UpdateOffer {
        guides: vec!["Pump filter".into()],
        bytes: 30 << 20,
        size: "30 MiB".into(),
    };
    log.news
        .borrow_mut()
        .push(DeviceNews::UpdatesAvailable(newer.clone()));
    let frame = driver.frame(Pose::standing(), FRAME_S).clone();
    assert_eq!(
        prompt_text(&frame).as_deref(),
        Some("Updates available: 1 guide, 30 MiB")
    );
    assert_eq!(driver.update_offer(), Some(&newer));
}
