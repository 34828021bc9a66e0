//! Schema version 2's `capture` (N6): every kind decodes and round-trips, every rule is
//! reported with its JSON path, and version 1 guides load unchanged.

use serde_json::{Value, json};

use super::tests::{errors_of, problems_of, valid};
use crate::guide::capture::{CaptureKind, Flow};

fn v2() -> Value {
    let mut document = valid();
    document["schema_version"] = json!(2);
    document
}

/// Three steps in one task: s1, s2, s3; `capture` on s1.
fn branching(capture: Value) -> Value {
    let mut document = v2();
    document["tasks"][0]["steps"] = json!([
        { "id": "s1", "title": "Inspect", "body": "Is the cartridge damaged?", "capture": capture },
        { "id": "s2", "title": "Replace it", "body": "Fit a new cartridge." },
        { "id": "s3", "title": "Close", "body": "Close the housing." }
    ]);
    document["anchors"] = json!([]);
    document
}

#[test]
fn n6_every_capture_kind_decodes_and_round_trips() {
    let captures = [
        json!({ "kind": "check", "required": true }),
        json!({ "kind": "choice", "options": [
            { "label": "Damaged", "goto": "s2" }, { "label": "Fine", "goto": "s3" }
        ] }),
        json!({ "kind": "number", "unit": "N·m", "min": 23.0, "max": 27.0, "decimals": 1,
                "on_out_of_limits": "Re-torque the cap and check the thread." }),
        json!({ "kind": "text", "max_length": 200 }),
        json!({ "kind": "photo" }),
        json!({ "kind": "signoff", "required": true }),
    ];
    for capture in captures {
        let document = branching(capture.clone());
        let (guide, problems) = problems_of(&document);
        assert_eq!(problems, vec![], "{capture}");
        let guide = guide.expect("decodes");
        let written: Value = serde_json::from_str(&guide.to_json_pretty()).unwrap();
        assert_eq!(written["tasks"][0]["steps"][0]["capture"], capture);
        assert_eq!(problems_of(&written).0, Some(guide));
    }
}

#[test]
fn n6_a_number_knows_its_limits() {
    let (guide, _) = problems_of(&branching(
        json!({ "kind": "number", "unit": "bar", "min": 2.0, "max": 3.0 }),
    ));
    let guide = guide.unwrap();
    let Some(CaptureKind::Number(number)) =
        guide.tasks[0].steps[0].capture.as_ref().map(|c| &c.kind)
    else {
        panic!("a number");
    };
    assert!(number.within_limits(2.0) && number.within_limits(3.0));
    assert!(!number.within_limits(3.01) && !number.within_limits(1.99));
}

#[test]
fn version_1_guides_load_unchanged_and_capture_needs_version_2() {
    let (guide, problems) = problems_of(&valid());
    assert_eq!(problems, vec![]);
    let guide = guide.unwrap();
    assert_eq!(guide.schema_version, 1, "written back as read");
    let written: Value = serde_json::from_str(&guide.to_json_pretty()).unwrap();
    assert_eq!(written["schema_version"], 1);

    let mut document = branching(json!({ "kind": "check" }));
    document["schema_version"] = json!(1);
    assert_eq!(
        errors_of(&document),
        vec![(
            "$.tasks[0].steps[0].capture".to_owned(),
            "capture-needs-schema-2"
        )]
    );
}

#[test]
fn each_capture_rule_is_reported_with_its_path() {
    let cases = [
        (
            json!({ "kind": "barcode" }),
            "$.tasks[0].steps[0].capture.kind",
            "invalid-value",
        ),
        (
            json!({ "kind": "choice", "options": [{ "label": "Only one" }] }),
            "$.tasks[0].steps[0].capture.options",
            "out-of-range",
        ),
        (
            json!({ "kind": "choice", "options": [
                { "label": "a" }, { "label": "b" }, { "label": "c" }, { "label": "d" },
                { "label": "e" }, { "label": "f" }, { "label": "g" }
            ] }),
            "$.tasks[0].steps[0].capture.options",
            "out-of-range",
        ),
        (
            json!({ "kind": "choice", "options": [
                { "label": "Damaged", "goto": "s9" }, { "label": "Fine" }
            ] }),
            "$.tasks[0].steps[0].capture.options[0].goto",
            "unknown-step",
        ),
        (
            json!({ "kind": "number", "unit": "bar", "min": 3, "max": 2 }),
            "$.tasks[0].steps[0].capture.min",
            "out-of-range",
        ),
        (
            json!({ "kind": "number", "min": 1 }),
            "$.tasks[0].steps[0].capture.unit",
            "missing-field",
        ),
        (
            json!({ "kind": "number", "unit": "bar", "decimals": 9 }),
            "$.tasks[0].steps[0].capture.decimals",
            "out-of-range",
        ),
        (
            json!({ "kind": "text", "max_length": 0 }),
            "$.tasks[0].steps[0].capture.max_length",
            "out-of-range",
        ),
        (
            json!({ "kind": "check", "required": "yes" }),
            "$.tasks[0].steps[0].capture.required",
            "wrong-type",
        ),
    ];
    for (capture, path, rule) in cases {
        assert_eq!(
            errors_of(&branching(capture.clone())),
            vec![(path.to_owned(), rule)],
            "{capture}"
        );
    }
}

#[test]
fn n6_a_step_every_branch_jumps_past_is_unreachable() {
    // Both answers skip s2.
    let errors = errors_of(&branching(json!({ "kind": "choice", "options": [
        { "label": "Damaged", "goto": "s3" }, { "label": "Fine", "goto": "s3" }
    ] })));
    assert_eq!(
        errors,
        vec![("$.tasks[0].steps[1]".to_owned(), "unreachable-step")]
    );
}

#[test]
fn n6_a_branch_that_only_loops_back_can_never_end() {
    let mut document = branching(json!({ "kind": "check" }));
    // s3 asks again and both answers go back to s2: the guide never ends.
    document["tasks"][0]["steps"][2]["capture"] = json!({ "kind": "choice", "options": [
        { "label": "Again", "goto": "s2" }, { "label": "Once more", "goto": "s1" }
    ] });
    let errors = errors_of(&document);
    assert_eq!(
        errors,
        vec![("$.tasks[0].steps[2]".to_owned(), "dead-end-branch")]
    );
    // A loop with a way out is fine (re-check until it passes).
    document["tasks"][0]["steps"][2]["capture"]["options"][1] = json!({ "label": "Done" });
    assert_eq!(problems_of(&document).1, vec![]);
}

#[test]
fn the_flow_follows_the_steps_and_the_branches() {
    let (guide, _) = problems_of(&branching(json!({ "kind": "choice", "options": [
        { "label": "Damaged", "goto": "s2" }, { "label": "Fine", "goto": "s3" }
    ] })));
    let flow = Flow::of(&guide.unwrap());
    assert_eq!(flow.next, vec![vec![1, 2], vec![2], vec![Flow::END]]);
}

#[test]
fn the_new_rules_are_named_the_same_in_text_and_json() {
    use crate::guide::Rule;
    for rule in [
        Rule::CaptureNeedsSchema2,
        Rule::UnknownStep,
        Rule::UnreachableStep,
        Rule::DeadEndBranch,
    ] {
        assert_eq!(serde_json::to_value(rule).unwrap(), json!(rule.name()));
    }
}

#[test]
fn n6_a_recorded_value_must_answer_what_the_step_asks() {
    let (guide, _) = problems_of(&branching(json!({ "kind": "choice", "options": [
        { "label": "Damaged", "goto": "s2" }, { "label": "Fine" }
    ] })));
    let guide = guide.unwrap();
    let capture = guide.tasks[0].steps[0].capture.as_ref().unwrap();
    assert_eq!(capture.check_recorded(None), Ok(()), "a plain completion");
    assert_eq!(
        capture.check_recorded(Some(
            &json!({ "kind": "choice", "option": 1, "label": "Fine" })
        )),
        Ok(())
    );
    assert!(
        capture
            .check_recorded(Some(
                &json!({ "kind": "choice", "option": 1, "label": "Damaged" })
            ))
            .is_err()
    );
    assert!(
        capture
            .check_recorded(Some(
                &json!({ "kind": "choice", "option": 2, "label": "Fine" })
            ))
            .is_err()
    );
    assert_eq!(
        capture
            .check_recorded(Some(&json!({ "pressure_bar": 2.5 })))
            .map_err(|e| e.to_string()),
        Err("the step asks for a choice, and this record is no answer".into())
    );
    let check: crate::guide::capture::Capture =
        serde_json::from_value(json!({ "kind": "check", "required": true })).unwrap();
    assert!(check.required);
    assert_eq!(
        check.check_recorded(Some(&json!({ "kind": "check", "state": "not_applicable" }))),
        Ok(())
    );
    assert!(
        check
            .check_recorded(Some(&json!({ "kind": "check", "state": "maybe" })))
            .is_err()
    );
}

#[test]
fn n6_a_recorded_number_is_in_the_steps_unit_with_the_limits_verdict_of_its_limits() {
    let torque: crate::guide::capture::Capture = serde_json::from_value(json!({
        "kind": "number", "unit": "N·m", "min": 23, "max": 27, "decimals": 1
    }))
    .unwrap();
    let record = |value: f64, unit: &str, within: bool| json!({ "kind": "number", "value": value, "unit": unit, "within_limits": within });
    assert_eq!(
        torque.check_recorded(Some(&record(25.4, "N·m", true))),
        Ok(())
    );
    assert_eq!(
        torque.check_recorded(Some(&record(29.0, "N·m", false))),
        Ok(())
    );
    let refused = |value: &serde_json::Value| {
        torque
            .check_recorded(Some(value))
            .map_err(|e| e.to_string())
            .unwrap_err()
    };
    assert_eq!(
        refused(&record(29.0, "N·m", true)),
        "the record says the value is within the limits, and it is not"
    );
    assert_eq!(
        refused(&record(25.0, "Nm", true)),
        "the step measures in N·m, and this record is in \"Nm\""
    );
    assert_eq!(
        refused(&json!({ "kind": "number", "value": "25", "unit": "N·m" })),
        "a number answer needs a finite value"
    );
    let serial: crate::guide::capture::Capture =
        serde_json::from_value(json!({ "kind": "text", "max_length": 4 })).unwrap();
    assert_eq!(
        serial.check_recorded(Some(&json!({ "kind": "text", "text": "AB12" }))),
        Ok(())
    );
    assert!(
        serial
            .check_recorded(Some(&json!({ "kind": "text", "text": "AB123" })))
            .is_err()
    );
    let signoff: crate::guide::capture::Capture =
        serde_json::from_value(json!({ "kind": "signoff" })).unwrap();
    assert!(
        signoff
            .check_recorded(Some(&json!({ "kind": "signoff", "name": " " })))
            .is_err()
    );
}
