//! N6 on the driver alone: a step's answer buttons pressed by a ray or a script reach the
//! device as answers to record, and a choice's branch is followed.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::app::Answered;
use crate::app::pointer::aim;
use crate::scene::{ButtonAction, PanelKind};

#[derive(Default)]
struct Recorder(RefCell<Vec<Answered>>);

struct Device(Rc<Recorder>);

impl Surroundings for Device {
    fn online(&self) -> bool {
        true
    }
    fn screen_changed(&self, _: &Transition) {}
    fn record_answer(&self, answered: &Answered) {
        self.0.0.borrow_mut().push(answered.clone());
    }
}

fn driver() -> (Rc<Recorder>, Driver) {
    let package = crate::demo::load().expect("the demo guide");
    let log = Rc::new(Recorder::default());
    let driver = Driver::new(
        Content {
            guide: crate::app::tests::branching_guide(),
            source: GuideSource::Service,
            assets: Box::new(package),
        },
        Box::new(Device(log.clone())),
        DriverSettings::default(),
    );
    (log, driver)
}

#[test]
fn n6_an_answer_button_selected_is_recorded_and_its_branch_followed() {
    let (log, mut driver) = driver();
    let head = Pose::standing();
    let frame = driver.frame(head, 0.0).clone();
    let card = &frame.panels[0];
    assert_eq!(card.kind, PanelKind::StepCard);
    let labels: Vec<&str> = card
        .buttons
        .iter()
        .filter(|b| matches!(b.action, ButtonAction::Answer(_)))
        .map(|b| b.label.as_str())
        .collect();
    assert_eq!(labels, vec!["Damaged", "Fine"]);

    driver.input(Input::Select(aim::at_button(
        &frame,
        ButtonAction::Answer(1),
        head,
    )));
    let recorded = log.0.borrow();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (recorded[0].step_id.as_str(), recorded[0].answer.label()),
        ("s1", "Fine".to_owned())
    );
    drop(recorded);
    let frame = driver.frame(head, 1.0 / 60.0).clone();
    let fine = frame.panels[0]
        .buttons
        .iter()
        .find(|b| b.label == "Fine")
        .unwrap();
    assert!(fine.primary, "the answer given is filled");

    driver.input(Input::Command(Command::Intent(Intent::Next), Cause::Script));
    assert_eq!(
        driver.report().final_screen,
        "step 3 of 3",
        "Fine skips step 2"
    );
    assert_eq!(driver.report().answers, vec!["s1: Fine (click Answer(1))"]);
}

#[test]
fn n6_a_script_answers_by_number_as_a_key_would() {
    let (log, mut driver) = driver();
    let script = crate::app::script::parse("1 answer 1\n2 next\n").unwrap();
    for command in script {
        driver.input(Input::Command(command.command, Cause::Script));
    }
    assert_eq!(log.0.borrow()[0].answer.label(), "Damaged");
    assert_eq!(driver.report().final_screen, "step 2 of 3");
}

#[test]
fn n6_keys_of_the_keypad_pressed_by_a_ray_record_the_typed_value() {
    let package = crate::demo::load().expect("the demo guide");
    let log = Rc::new(Recorder::default());
    let mut driver = Driver::new(
        Content {
            guide: Arc::new(package.guide.clone()),
            source: GuideSource::Service,
            assets: Box::new(package),
        },
        Box::new(Device(log.clone())),
        DriverSettings {
            // The demo's torque step.
            start_step: NonZeroU32::new(9),
            ..DriverSettings::default()
        },
    );
    let head = Pose::standing();
    for action in [
        ButtonAction::Key('2'),
        ButtonAction::Key('6'),
        ButtonAction::Key('.'),
        ButtonAction::Key('5'),
        ButtonAction::KeyDone,
    ] {
        let frame = driver.frame(head, 1.0 / 60.0).clone();
        assert!(
            frame.panels.iter().any(|p| p.kind == PanelKind::Keypad),
            "the torque step shows its keypad"
        );
        driver.input(Input::Select(aim::at_button(&frame, action, head)));
    }
    let recorded = log.0.borrow();
    assert_eq!(recorded.len(), 1, "only OK gives an answer");
    assert_eq!(recorded[0].step_id, "refit-cap");
    assert_eq!(recorded[0].answer.label(), "26.5 N·m");
    assert!(!recorded[0].answer.out_of_limits());
    drop(recorded);
    let frame = driver.frame(head, 1.0 / 60.0).clone();
    let card = &frame.panels[0];
    assert!(
        card.texts.iter().any(|t| t.text == "26.5 N·m"),
        "the card shows the answer"
    );
}
