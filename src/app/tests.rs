use std::num::NonZeroU32;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::guide::{Problems, decode};

fn guide() -> Arc<Guide> {
    let step = |id: &str| json!({ "id": id, "title": format!("Step {id}"), "body": "Do it." });
    let document = json!({
        "schema_version": 1,
        "id": "3f0b6c52-6d0e-4a43-9b51-2f4f3b7a9c10",
        "version": 1,
        "title": "Pump filter",
        "organisation": "acme",
        "modified_at": "2026-11-20T08:15:00Z",
        "tasks": [
            { "id": "a", "title": "Remove", "steps": [step("a1"), step("a2")] },
            { "id": "b", "title": "Refit", "steps": [step("b1")] }
        ]
    });
    Arc::new(decode(&document, &mut Problems::default()).expect("fixture is valid"))
}

fn step_number(app: &App) -> Option<usize> {
    match app.view() {
        View::Step(step) => Some(step.step_number),
        View::Complete { .. } => None,
    }
}

fn step(n: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n)
}

#[test]
fn next_walks_every_step_across_tasks_then_completes() {
    let mut app = App::open(guide(), GuideSource::Demo, None);
    let mut seen = vec![];
    while let View::Step(view) = app.view() {
        seen.push((view.task_number, view.step_number, view.title.to_owned()));
        app.handle(Intent::Next);
    }
    assert_eq!(
        seen,
        vec![
            (1, 1, "Step a1".to_owned()),
            (1, 2, "Step a2".to_owned()),
            (2, 3, "Step b1".to_owned()),
        ]
    );
    assert_eq!(
        app.view(),
        View::Complete {
            guide_title: "Pump filter",
            step_count: 3
        }
    );
}

#[test]
fn back_on_first_step_is_ignored_and_back_from_complete_returns_to_last_step() {
    let mut app = App::open(guide(), GuideSource::Demo, None);
    assert_eq!(app.handle(Intent::Back), Transition::Ignored);
    app.handle(Intent::GoToStep(NonZeroU32::MIN.saturating_add(2)));
    app.handle(Intent::Next);
    assert_eq!(app.screen(), &Screen::Complete);
    assert_eq!(app.handle(Intent::Next), Transition::Ignored);
    app.handle(Intent::Back);
    assert_eq!(step_number(&app), Some(3));
}

#[test]
fn guide_link_step_opens_that_step() {
    let app = App::open(guide(), GuideSource::Local, step(2));
    assert_eq!(step_number(&app), Some(2));
}

#[test]
fn step_past_the_end_opens_first_step_with_a_notice() {
    let app = App::open(guide(), GuideSource::Local, step(12));
    let View::Step(view) = app.view() else {
        panic!("expected a step");
    };
    assert_eq!(view.step_number, 1);
    assert_eq!(
        view.notice,
        Some("This guide has 3 steps; there is no step 12. Showing step 1.")
    );
}

#[test]
fn notice_is_cleared_by_the_next_intent() {
    let mut app = App::open(guide(), GuideSource::Local, step(12));
    app.handle(Intent::Next);
    let View::Step(view) = app.view() else {
        panic!("expected a step");
    };
    assert_eq!(view.notice, None);
}

#[test]
fn last_step_is_marked_and_first_step_cannot_go_back() {
    let mut app = App::open(guide(), GuideSource::Demo, None);
    let View::Step(first) = app.view() else {
        panic!()
    };
    assert!(!first.can_go_back && !first.is_last && first.demo);
    app.handle(Intent::GoToStep(NonZeroU32::MIN.saturating_add(2)));
    let View::Step(last) = app.view() else {
        panic!()
    };
    assert!(last.can_go_back && last.is_last);
}

#[test]
fn restart_returns_to_step_one() {
    let mut app = App::open(guide(), GuideSource::Demo, step(3));
    app.handle(Intent::Next);
    app.handle(Intent::Restart);
    assert_eq!(step_number(&app), Some(1));
}

/// s1 asks whether the cartridge is damaged (required): Damaged → s2 (replace), Fine → s3.
pub(super) fn branching_guide() -> Arc<Guide> {
    let document = json!({
        "schema_version": 2,
        "id": "3f0b6c52-6d0e-4a43-9b51-2f4f3b7a9c10",
        "version": 1,
        "title": "Pump filter",
        "organisation": "acme",
        "modified_at": "2026-11-20T08:15:00Z",
        "tasks": [{ "id": "t", "title": "Inspect", "steps": [
            { "id": "s1", "title": "Inspect", "body": "Is the cartridge damaged?",
              "capture": { "kind": "choice", "required": true, "options": [
                  { "label": "Damaged", "goto": "s2" }, { "label": "Fine", "goto": "s3" } ] } },
            { "id": "s2", "title": "Replace", "body": "Fit a new cartridge.",
              "capture": { "kind": "check" } },
            { "id": "s3", "title": "Close", "body": "Close the housing." }
        ] }]
    });
    Arc::new(decode(&document, &mut Problems::default()).expect("fixture is valid"))
}

#[test]
fn n6_a_required_answer_blocks_next_and_says_why() {
    let mut app = App::open(branching_guide(), GuideSource::Demo, None);
    assert_eq!(app.handle(Intent::Next), Transition::Ignored);
    let View::Step(view) = app.view() else {
        panic!("still on the step");
    };
    assert_eq!(view.notice, Some(ANSWER_FIRST));
    assert_eq!(view.answers, vec!["Damaged", "Fine"]);
    assert_eq!(view.answered, None);
}

#[test]
fn n6_a_choice_jumps_to_its_step_and_back_returns_along_the_path_taken() {
    let mut app = App::open(branching_guide(), GuideSource::Demo, None);
    let answered = app.answer(1).expect("Fine is an answer");
    assert_eq!(answered.step_id, "s1");
    assert_eq!(answered.answer.label(), "Fine");
    app.handle(Intent::Next);
    assert_eq!(step_number(&app), Some(3), "Fine skips the replacement");
    app.handle(Intent::Back);
    assert_eq!(
        step_number(&app),
        Some(1),
        "back along the path, not to step 2"
    );

    // Changed to Damaged: a correction of the first answer, and the other branch.
    let corrected = app.answer(0).unwrap();
    assert_eq!(
        corrected.corrects.map(|a| a.label().to_owned()),
        Some("Fine".into())
    );
    app.handle(Intent::Next);
    assert_eq!(step_number(&app), Some(2));
    let View::Step(view) = app.view() else {
        panic!()
    };
    assert_eq!(view.answers, vec!["Done", "Not done", "N/A"]);
    app.handle(Intent::Next);
    app.handle(Intent::Next);
    assert_eq!(
        app.view(),
        View::Complete {
            guide_title: "Pump filter",
            step_count: 3
        }
    );
    app.handle(Intent::Back);
    app.handle(Intent::Back);
    app.handle(Intent::Back);
    assert_eq!(step_number(&app), Some(1));
    let View::Step(view) = app.view() else {
        panic!()
    };
    assert_eq!(
        view.answered.map(|a| (a.text, a.button)),
        Some(("Damaged".to_owned(), Some(0))),
        "Back shows the answer given"
    );
}

#[test]
fn n6_a_step_without_capture_offers_no_answer() {
    let mut app = App::open(guide(), GuideSource::Demo, None);
    assert_eq!(app.answer(0), None);
    let mut branching = App::open(branching_guide(), GuideSource::Demo, None);
    assert_eq!(branching.answer(2), None, "no third option");
}
