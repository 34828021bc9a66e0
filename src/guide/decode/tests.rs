use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::guide::{Problem, Severity};

pub(super) fn valid() -> Value {
    json!({
        "schema_version": 1,
        "id": "3f0b6c52-6d0e-4a43-9b51-2f4f3b7a9c10",
        "version": 4,
        "title": "Replace the filter",
        "description": "Monthly maintenance",
        "organisation": "acme-pumps",
        "modified_at": "2026-11-20T08:15:00Z",
        "anchors": [{ "id": "pump-front", "label": "Front of the pump", "size_mm": 50.0 }],
        "tasks": [{
            "id": "remove",
            "title": "Remove the old filter",
            "steps": [
                { "id": "s1", "title": "Stop the pump", "body": "Press the red stop button." },
                {
                    "id": "s2",
                    "title": "Open the cap",
                    "body": "Turn the cap anticlockwise.",
                    "media": { "path": "media/cap.png", "caption": "The cap" },
                    "holograms": [{
                        "asset": "models/cap.glb",
                        "anchor": "pump-front",
                        "transform": {
                            "translation": [0.1, 0.2, 0.0],
                            "rotation": [0.0, 0.0, 0.0, 1.0],
                            "scale": [1.0, 1.0, 1.0]
                        },
                        "animation": "unscrew"
                    }]
                }
            ]
        }]
    })
}

pub(super) fn problems_of(document: &Value) -> (Option<Guide>, Vec<Problem>) {
    let mut problems = Problems::default();
    let guide = decode(document, &mut problems);
    (guide, problems.into_vec())
}

pub(super) fn errors_of(document: &Value) -> Vec<(String, &'static str)> {
    let (guide, problems) = problems_of(document);
    assert!(guide.is_none(), "a guide with errors must not decode");
    problems
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| (p.path, p.rule.name()))
        .collect()
}

fn with(mut document: Value, pointer: &str, replacement: Value) -> Value {
    *document
        .pointer_mut(pointer)
        .expect("pointer exists in fixture") = replacement;
    document
}

fn hologram_transform() -> &'static str {
    "/tasks/0/steps/1/holograms/0/transform"
}

#[test]
fn valid_guide_decodes_without_problems() {
    let (guide, problems) = problems_of(&valid());
    assert_eq!(problems, vec![]);
    let guide = guide.expect("valid guide decodes");
    assert_eq!(guide.step_count(), 2);
    assert_eq!(
        guide.steps().nth(1).unwrap().step.holograms[0]
            .animation
            .as_deref(),
        Some("unscrew")
    );
}

#[test]
fn serialise_round_trips() {
    let guide = problems_of(&valid()).0.unwrap();
    let written: Value = serde_json::from_str(&guide.to_json_pretty()).unwrap();
    let (again, problems) = problems_of(&written);
    assert_eq!(problems, vec![]);
    assert_eq!(again.unwrap(), guide);
}

#[test]
fn unknown_schema_version_is_refused_by_name() {
    let errors = errors_of(&with(valid(), "/schema_version", json!(3)));
    assert_eq!(
        errors,
        vec![("$.schema_version".to_owned(), "unsupported-schema-version")]
    );
}

#[test]
fn every_problem_is_reported_with_its_path_not_just_the_first() {
    let mut document = valid();
    document["id"] = json!("not-a-uuid");
    document["tasks"][0]["title"] = json!(42);
    document["tasks"][0]["steps"][0]
        .as_object_mut()
        .unwrap()
        .remove("body");
    document["tasks"][0]["steps"][1]["id"] = json!("s1");
    document["tasks"][0]["steps"][1]["holograms"][0]["anchor"] = json!("nowhere");
    let errors = errors_of(&document);
    assert_eq!(
        errors,
        vec![
            ("$.id".to_owned(), "invalid-value"),
            ("$.tasks[0].title".to_owned(), "wrong-type"),
            ("$.tasks[0].steps[0].body".to_owned(), "missing-field"),
            ("$.tasks[0].steps[1].id".to_owned(), "duplicate-id"),
            (
                "$.tasks[0].steps[1].holograms[0].anchor".to_owned(),
                "unknown-anchor"
            ),
        ]
    );
}

#[test]
fn duplicate_id_names_where_it_was_first_used() {
    let document = with(valid(), "/tasks/0/steps/1/id", json!("s1"));
    let (_, problems) = problems_of(&document);
    assert!(
        problems[0].message.contains("$.tasks[0].steps[0].id"),
        "{}",
        problems[0]
    );
}

#[test]
fn transform_beyond_f32_range_is_non_finite() {
    let document = with(
        valid(),
        &format!("{}/scale", hologram_transform()),
        json!([1.0, 1e39, 1.0]),
    );
    assert_eq!(
        errors_of(&document),
        vec![(
            "$.tasks[0].steps[1].holograms[0].transform.scale[1]".to_owned(),
            "non-finite"
        )]
    );
}

#[test]
fn absurd_sizes_are_out_of_range() {
    let transform = "$.tasks[0].steps[1].holograms[0].transform";
    let cases = [
        (
            "translation",
            json!([0.0, 250.0, 0.0]),
            format!("{transform}.translation"),
        ),
        (
            "scale",
            json!([0.0, 1.0, 1.0]),
            format!("{transform}.scale"),
        ),
        (
            "scale",
            json!([1.0, -1.0, 1.0]),
            format!("{transform}.scale"),
        ),
    ];
    for (field, value, expected) in cases {
        let pointer = format!("{}/{field}", hologram_transform());
        assert_eq!(
            errors_of(&with(valid(), &pointer, value)),
            vec![(expected, "out-of-range")]
        );
    }
    let cases = [
        ("/anchors/0/size_mm", json!(5000), "$.anchors[0].size_mm"),
        ("/anchors/0/size_mm", json!(1), "$.anchors[0].size_mm"),
        ("/version", json!(0), "$.version"),
    ];
    for (pointer, value, expected) in cases {
        let errors = errors_of(&with(valid(), pointer, value));
        assert_eq!(
            errors,
            vec![(expected.to_owned(), "out-of-range")],
            "{pointer}"
        );
    }
}

#[test]
fn rotation_must_be_a_unit_quaternion() {
    let document = with(
        valid(),
        &format!("{}/rotation", hologram_transform()),
        json!([0.0, 0.0, 0.0, 2.0]),
    );
    assert_eq!(
        errors_of(&document),
        vec![(
            "$.tasks[0].steps[1].holograms[0].transform.rotation".to_owned(),
            "invalid-value"
        )]
    );
}

#[test]
fn text_too_long_for_a_card_is_a_warning_and_far_too_long_an_error() {
    let (guide, problems) = problems_of(&with(
        valid(),
        "/tasks/0/steps/0/body",
        json!("x".repeat(700)),
    ));
    assert!(guide.is_some());
    assert_eq!(problems.len(), 1);
    assert_eq!(
        (problems[0].severity, problems[0].rule),
        (Severity::Warning, Rule::TooLong)
    );

    let errors = errors_of(&with(
        valid(),
        "/tasks/0/steps/0/body",
        json!("x".repeat(5000)),
    ));
    assert_eq!(
        errors,
        vec![("$.tasks[0].steps[0].body".to_owned(), "too-long")]
    );
}

#[test]
fn unknown_fields_and_unused_anchors_are_warnings() {
    let mut document = valid();
    document["colour"] = json!("blue");
    document["anchors"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "id": "spare", "size_mm": 40 }));
    let (guide, problems) = problems_of(&document);
    assert!(guide.is_some());
    let found: Vec<_> = problems.iter().map(|p| (p.path.as_str(), p.rule)).collect();
    assert_eq!(
        found,
        vec![
            ("$.colour", Rule::UnknownField),
            ("$.anchors[1]", Rule::UnusedAnchor)
        ]
    );
}

#[test]
fn empty_guide_and_empty_task_are_refused() {
    assert_eq!(
        errors_of(&with(valid(), "/tasks", json!([]))),
        vec![("$.tasks".to_owned(), "empty")]
    );
    assert_eq!(
        errors_of(&with(valid(), "/tasks/0/steps", json!([]))),
        vec![("$.tasks[0].steps".to_owned(), "empty")]
    );
}

#[test]
fn bad_ids_timestamps_and_organisations_are_invalid_values() {
    let cases = [
        ("/tasks/0/id", json!("has space")),
        ("/modified_at", json!("yesterday")),
        ("/organisation", json!("Acme Pumps")),
        ("/id", json!("00000000-0000-0000-0000-000000000000")),
    ];
    for (pointer, value) in cases {
        let errors = errors_of(&with(valid(), pointer, value));
        assert_eq!(errors.len(), 1, "{pointer}: {errors:?}");
        assert_eq!(errors[0].1, "invalid-value", "{pointer}");
    }
}

#[test]
fn a_document_that_is_not_an_object_is_a_wrong_type() {
    assert_eq!(
        errors_of(&json!([1, 2])),
        vec![("$".to_owned(), "wrong-type")]
    );
}

proptest! {
    #[test]
    fn decoder_never_panics_on_arbitrary_json(document in arbitrary_json()) {
        let mut problems = Problems::default();
        let _ = decode(&document, &mut problems);
    }

    #[test]
    fn decoder_never_panics_on_mutations_of_a_valid_guide(
        pointer in prop::sample::select(vec![
            "/id", "/version", "/title", "/tasks", "/tasks/0", "/tasks/0/steps", "/tasks/0/steps/1",
            "/tasks/0/steps/1/holograms/0", "/tasks/0/steps/1/holograms/0/transform",
            "/tasks/0/steps/1/holograms/0/transform/rotation", "/anchors/0/size_mm", "/anchors",
        ]),
        replacement in arbitrary_json(),
    ) {
        let mut problems = Problems::default();
        let _ = decode(&with(valid(), pointer, replacement), &mut problems);
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(|f| json!(f)),
        any::<i64>().prop_map(|i| json!(i)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("tasks".to_owned()),
                    Just("steps".to_owned()),
                    Just("title".to_owned()),
                    "[a-z_]{1,12}"
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
