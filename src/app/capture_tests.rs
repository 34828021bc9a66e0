//! N6 on the card: numbers and texts typed on the keypad, sign-off by the signed-in user, the
//! limits verdict, and a Restart starting a new run.

use std::sync::Arc;

use serde_json::json;

use super::answers::{Answer, SIGNOFF_NEEDS_USER};
use super::*;
use crate::guide::{Problems, decode};

/// Torque (a number with limits), a serial number (a text) and a sign-off.
fn recording_guide() -> Arc<Guide> {
    let document = json!({
        "schema_version": 2,
        "id": "3f0b6c52-6d0e-4a43-9b51-2f4f3b7a9c11",
        "version": 1,
        "title": "Cap torque",
        "organisation": "acme",
        "modified_at": "2026-11-20T08:15:00Z",
        "tasks": [{ "id": "a", "title": "Refit", "steps": [
            { "id": "torque", "title": "Tighten the cap", "body": "25 ± 2 N·m.",
              "capture": { "kind": "number", "unit": "N·m", "min": 23, "max": 27,
                           "decimals": 1, "required": true,
                           "on_out_of_limits": "Tell the shift lead before you go on." } },
            { "id": "serial", "title": "Serial number", "body": "From the plate.",
              "capture": { "kind": "text", "max_length": 6 } },
            { "id": "sign", "title": "Sign off", "body": "Confirm the work.",
              "capture": { "kind": "signoff", "required": true } },
            { "id": "seal", "title": "Photograph the seal", "body": "All of the cap.",
              "capture": { "kind": "photo" } }
        ]}]
    });
    Arc::new(decode(&document, &mut Problems::default()).expect("fixture is valid"))
}

fn type_keys(app: &mut App, keys: &str) {
    for c in keys.chars() {
        assert_eq!(
            app.key(KeyPress::Char(c)),
            None,
            "a key alone answers nothing"
        );
    }
}

fn card(app: &App) -> StepView<'_> {
    match app.view() {
        View::Step(step) => step,
        View::Complete { .. } => panic!("expected a step"),
    }
}

#[test]
fn n6_a_number_typed_on_the_keypad_is_rounded_to_its_decimals_and_within_limits() {
    let mut app = App::open(recording_guide(), GuideSource::Service, None);
    let keypad = card(&app).keypad.expect("a number step shows its keypad");
    assert_eq!(keypad.hint, "23 to 27 N·m");
    assert_eq!(keypad.typed, "");
    type_keys(&mut app, "25.44x");
    assert_eq!(
        card(&app).keypad.map(|k| k.typed),
        Some("25.44"),
        "x is no digit"
    );
    let answered = app.key(KeyPress::Done).expect("OK answers");
    assert_eq!(
        answered.answer,
        Answer::Number {
            value: 25.4,
            unit: "N·m".into(),
            within_limits: true
        }
    );
    let line = card(&app).answered.expect("the card shows the answer");
    assert_eq!((line.text.as_str(), line.flagged), ("25.4 N·m", false));
    assert_eq!(
        card(&app).keypad.map(|k| k.typed),
        Some(""),
        "OK empties the keypad"
    );
    assert_eq!(card(&app).notice, None);
}

#[test]
fn n6_a_value_outside_the_limits_is_recorded_flagged_and_the_step_says_what_to_do() {
    let mut app = App::open(recording_guide(), GuideSource::Service, None);
    type_keys(&mut app, "29");
    let answered = app.key(KeyPress::Done).expect("recorded anyway");
    assert!(answered.answer.out_of_limits());
    let view = card(&app);
    let line = view.answered.expect("shown");
    assert!(line.flagged);
    assert_eq!(line.text, "29 N·m · outside the limits");
    assert_eq!(
        view.notice,
        Some(
            "29 N·m is outside 23 to 27 N·m: recorded and flagged. \
             Tell the shift lead before you go on."
        )
    );
    // Corrected within the limits: a new answer that corrects the first.
    type_keys(&mut app, "26");
    let corrected = app.key(KeyPress::Done).expect("answered");
    assert_eq!(corrected.corrects, Some(answered.answer));
    assert!(!card(&app).answered.expect("shown").flagged);
}

#[test]
fn n6_a_typed_entry_that_is_no_number_is_refused_on_the_card() {
    let mut app = App::open(recording_guide(), GuideSource::Service, None);
    assert_eq!(app.key(KeyPress::Done), None);
    assert_eq!(card(&app).notice, Some("Type the value first."));
    type_keys(&mut app, "2-");
    assert_eq!(app.key(KeyPress::Done), None);
    assert_eq!(card(&app).notice, Some("\"2-\" is not a number."));
    app.key(KeyPress::Erase);
    assert_eq!(card(&app).keypad.map(|k| k.typed), Some("2"));
    assert_eq!(app.handle(Intent::Next), Transition::Ignored);
    assert_eq!(card(&app).notice, Some(ANSWER_FIRST), "required");
    assert_eq!(
        card(&app).keypad.map(|k| k.typed),
        Some("2"),
        "a refused Next keeps it"
    );
}

#[test]
fn n6_a_text_answer_keeps_to_its_length() {
    let mut app = App::open(recording_guide(), GuideSource::Service, step(2));
    assert_eq!(
        card(&app).keypad.map(|k| k.hint),
        Some("Up to 6 characters".into())
    );
    type_keys(&mut app, "AB-123");
    assert_eq!(app.key(KeyPress::Char('4')), None);
    assert_eq!(card(&app).notice, Some("At most 6 characters here."));
    let answered = app.key(KeyPress::Done).expect("answered");
    assert_eq!(
        answered.answer,
        Answer::Text {
            text: "AB-123".into()
        }
    );
}

#[test]
fn n6_a_signoff_names_the_signed_in_user_and_needs_one() {
    let mut app = App::open(recording_guide(), GuideSource::Local, step(3));
    assert_eq!(card(&app).answers, vec!["Sign off".to_owned()]);
    assert_eq!(app.answer(0), None);
    assert_eq!(card(&app).notice, Some(SIGNOFF_NEEDS_USER));
    app.set_operator(Some("Alice Martin".into()));
    assert_eq!(
        card(&app).answers,
        vec!["Sign off as Alice Martin".to_owned()]
    );
    let answered = app.answer(0).expect("signed");
    assert_eq!(answered.answer.label(), "Signed off by Alice Martin");
    assert_eq!(card(&app).answered.and_then(|a| a.button), Some(0));
}

#[test]
fn n6_the_card_says_when_the_device_kept_the_answer_and_a_restart_begins_a_new_run() {
    let mut app = App::open(recording_guide(), GuideSource::Service, None);
    type_keys(&mut app, "25");
    let answered = app.key(KeyPress::Done).expect("answered");
    assert_eq!(answered.run, 0);
    app.kept(0, "torque", "14:02".into());
    assert_eq!(
        card(&app).answered.map(|a| a.text),
        Some("25 N·m · kept 14:02".into())
    );
    app.handle(Intent::Restart);
    assert_eq!(app.run(), 1);
    assert_eq!(card(&app).answered, None, "a new run starts unanswered");
    app.kept(0, "torque", "14:03".into());
    assert_eq!(
        card(&app).answered,
        None,
        "news of the last run is not this one's"
    );
    type_keys(&mut app, "24");
    assert_eq!(
        app.key(KeyPress::Done).map(|a| (a.run, a.corrects)),
        Some((1, None))
    );
}

fn step(n: u32) -> Option<std::num::NonZeroU32> {
    std::num::NonZeroU32::new(n)
}

#[test]
fn n6_every_answer_the_card_gives_is_a_record_the_service_accepts() {
    let guide = recording_guide();
    let mut app = App::open(Arc::clone(&guide), GuideSource::Service, None);
    app.set_operator(Some("alice".into()));
    let mut records = Vec::new();
    type_keys(&mut app, "29");
    records.extend(app.key(KeyPress::Done));
    app.handle(Intent::Next);
    type_keys(&mut app, "AB 12");
    records.extend(app.key(KeyPress::Done));
    app.handle(Intent::Next);
    records.extend(app.answer(0));
    assert_eq!(records.len(), 3);
    for answered in records {
        let step = guide
            .steps()
            .find(|p| p.step.id == answered.step_id)
            .unwrap();
        let value = serde_json::to_value(&answered.answer).unwrap();
        let capture = step.step.capture.as_ref().unwrap();
        assert_eq!(capture.check_recorded(Some(&value)), Ok(()), "{value}");
        let read: Answer = serde_json::from_value(value).unwrap();
        assert_eq!(read, answered.answer, "records read back as answers");
    }
}

#[test]
fn n6_a_photo_step_asks_for_the_camera_and_the_photo_taken_is_its_answer() {
    let mut app = App::open(recording_guide(), GuideSource::Service, step(4));
    assert_eq!(card(&app).answers, vec!["Take photo".to_owned()]);
    assert_eq!(app.asks_photo(), Some(3));
    assert_eq!(
        app.answer(0),
        None,
        "the button asks the camera; the photo is the answer"
    );
    let photo = crate::camera::photo::Photo {
        jpeg: vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
        sha256: "ab".repeat(32),
        width: 640,
        height: 480,
    };
    // Taken for step 4 while the operator went back: still step 4's answer.
    app.handle(Intent::Back);
    let answered = app.photo(3, photo.clone()).expect("a photo step");
    assert_eq!(answered.step_id, "seal");
    assert_eq!(answered.answer.label(), "Photo (1 KB)");
    assert_eq!(answered.attachment.as_deref(), Some(&photo.jpeg));
    assert_eq!(app.photo(0, photo), None, "step 1 asks for no photo");
}
