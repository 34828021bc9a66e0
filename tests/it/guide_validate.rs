//! `hologuide guide validate|show`: every broken package is refused with the JSON path and rule.

use serde_json::Value;

use crate::support::*;

const EXIT_INVALID: i32 = 2;

#[test]
fn demo_guide_validates_with_zero_warnings() {
    let output = run(hologuide()
        .args(["guide", "validate", "--json"])
        .arg(repo().join("assets/demo")));
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["warnings"], 0, "{report:#}");
    assert_eq!(report["problems"], Value::Array(vec![]));
}

/// Each folder in tests/data/broken breaks one rule; the error names the rule and where.
#[test]
fn each_broken_package_is_rejected_with_path_and_rule() {
    let cases = [
        ("not-json", "guide.json", "syntax"),
        (
            "unsupported-schema-version",
            "$.schema_version",
            "unsupported-schema-version",
        ),
        ("missing-title", "$.title", "missing-field"),
        ("wrong-type", "$.tasks[0].steps", "wrong-type"),
        (
            "duplicate-step-id",
            "$.tasks[0].steps[1].id",
            "duplicate-id",
        ),
        (
            "unknown-anchor",
            "$.tasks[0].steps[0].holograms[0].anchor",
            "unknown-anchor",
        ),
        (
            "missing-asset",
            "$.tasks[0].steps[0].holograms[0].asset",
            "missing-asset",
        ),
        (
            "asset-escapes-package",
            "$.tasks[0].steps[0].holograms[0].asset",
            "path-escapes-package",
        ),
        ("absurd-anchor-size", "$.anchors[0].size_mm", "out-of-range"),
        (
            "non-finite-transform",
            "$.tasks[0].steps[0].holograms[0].transform.translation[1]",
            "non-finite",
        ),
        (
            "truncated-model",
            "$.tasks[0].steps[0].holograms[0].asset",
            "corrupt-asset",
        ),
        (
            "model-is-a-picture",
            "$.tasks[0].steps[0].holograms[0].asset",
            "unsupported-asset-type",
        ),
        ("no-guide-json", "guide.json", "package"),
        (
            "unknown-animation",
            "$.tasks[0].steps[0].holograms[0].asset",
            "unknown-animation",
        ),
        // Schema version 2 (N6): captures and branching.
        (
            "capture-needs-schema-2",
            "$.tasks[0].steps[1].capture",
            "capture-needs-schema-2",
        ),
        (
            "unknown-step",
            "$.tasks[0].steps[1].capture.options[0].goto",
            "unknown-step",
        ),
        (
            "unreachable-step",
            "$.tasks[0].steps[1]",
            "unreachable-step",
        ),
        ("dead-end-branch", "$.tasks[0].steps[2]", "dead-end-branch"),
    ];
    let broken = data("broken");
    let folders = std::fs::read_dir(&broken).unwrap().count();
    assert_eq!(
        folders,
        cases.len(),
        "every folder in {} has a case here",
        broken.display()
    );
    for (case, path, rule) in cases {
        let output = run(hologuide()
            .args(["guide", "validate", "--json"])
            .arg(broken.join(case)));
        assert_eq!(
            output.status.code(),
            Some(EXIT_INVALID),
            "{case}: {}",
            stderr(&output)
        );
        assert!(stderr(&output).is_empty(), "{case}: {}", stderr(&output));
        let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
        let errors: Vec<(&str, &str)> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["severity"] == "error")
            .map(|p| (p["path"].as_str().unwrap(), p["rule"].as_str().unwrap()))
            .collect();
        assert_eq!(errors, vec![(path, rule)], "{case}");
    }
}

#[test]
fn text_report_lists_the_problem_readably() {
    let output = run(hologuide()
        .args(["guide", "validate"])
        .arg(data("broken/duplicate-step-id")));
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    let text = stdout(&output);
    assert!(text.contains("INVALID — 1 error(s)"), "{text}");
    assert!(
        text.contains("error at $.tasks[0].steps[1].id: step id 's1' is already used at $.tasks[0].steps[0].id [duplicate-id]"),
        "{text}"
    );
}

#[test]
fn several_packages_are_all_reported_and_any_error_fails_the_run() {
    let output = run(hologuide()
        .args(["guide", "validate"])
        .arg(repo().join("assets/demo"))
        .arg(data("broken/missing-title")));
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    let text = stdout(&output);
    assert!(text.contains(": OK"), "{text}");
    assert!(text.contains(": INVALID"), "{text}");
}

#[test]
fn zip_archive_of_the_demo_validates_like_the_folder() {
    let scratch = tempfile::tempdir().unwrap();
    let archive = scratch.path().join("demo.zip");
    zip_dir(&repo().join("assets/demo"), &archive);
    let output = run(hologuide().args(["guide", "validate"]).arg(&archive));
    assert!(output.status.success(), "{}", stdout(&output));
}

#[test]
fn archive_entry_escaping_the_package_is_refused() {
    use std::io::Write;
    let scratch = tempfile::tempdir().unwrap();
    let demo = scratch.path().join("demo");
    copy_dir(&repo().join("assets/demo"), &demo);
    let archive = scratch.path().join("evil.zip");
    zip_dir(&demo, &archive);
    // Append an entry named to land outside the extraction folder (zip-slip).
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&archive)
        .unwrap();
    let mut writer = zip::ZipWriter::new_append(file).unwrap();
    writer
        .start_file("../../etc/evil", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(b"x").unwrap();
    writer.finish().unwrap();

    let output = run(hologuide()
        .args(["guide", "validate", "--json"])
        .arg(&archive));
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["problems"][0]["rule"], "path-escapes-package");
    assert_eq!(
        report["problems"][0]["path"],
        "archive entry '../../etc/evil'"
    );
}

#[test]
fn a_file_that_is_not_a_package_gets_a_clear_error() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("notes.txt");
    std::fs::write(&file, "hello").unwrap();
    let output = run(hologuide().args(["guide", "validate"]).arg(&file));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not a guide package"),
        "{}",
        stderr(&output)
    );
    let output = run(hologuide()
        .args(["guide", "validate"])
        .arg(scratch.path().join("absent")));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("cannot read guide package"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn symlink_to_a_file_outside_the_package_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let package = scratch.path().join("pkg");
    copy_dir(&data("broken/missing-asset"), &package);
    std::fs::write(scratch.path().join("outside.glb"), b"glTF").unwrap();
    std::os::unix::fs::symlink(
        scratch.path().join("outside.glb"),
        package.join("models/pump.glb"),
    )
    .unwrap();
    let output = run(hologuide()
        .args(["guide", "validate", "--json"])
        .arg(&package));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["problems"][0]["rule"], "missing-asset");
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("outside the package"),
        "{report:#}"
    );
}

#[test]
fn show_prints_tasks_and_steps_of_a_package() {
    let output = run(hologuide()
        .args(["guide", "show"])
        .arg(repo().join("assets/demo")));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("Task 1 of 2"), "{text}");
    assert!(text.contains("Task 2 of 2"), "{text}");
    assert!(text.contains("  1. "), "{text}");
}

#[test]
fn show_by_link_opens_the_demo_and_marks_the_step() {
    let link = format!(
        "hologuide://hologuide-demo/g/{}/s/3",
        hologuide::demo::GUIDE_ID
    );
    let output = run(hologuide().args(["guide", "show", &link]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("▶  3. "), "{}", stdout(&output));
}

#[test]
fn show_json_round_trips_through_validation() {
    let output = run(hologuide()
        .args(["guide", "show", "--json"])
        .arg(repo().join("assets/demo")));
    assert!(output.status.success());
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("demo");
    copy_dir(&repo().join("assets/demo"), &copy);
    std::fs::write(copy.join("guide.json"), &output.stdout).unwrap();
    let again = run(hologuide().args(["guide", "show", "--json"]).arg(&copy));
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stdout(&again), stdout(&output));
}

#[test]
fn malformed_and_unknown_links_are_refused_clearly() {
    let output = run(hologuide().args(["guide", "show", "hologuide://acme/g/not-a-uuid"]));
    assert_eq!(output.status.code(), Some(EXIT_INVALID));
    assert!(
        stderr(&output).contains("'not-a-uuid' is not a guide id"),
        "{}",
        stderr(&output)
    );

    let unknown = "hologuide://acme/g/3f0b6c52-6d0e-4a43-9b51-2f4f3b7a9c10";
    let output = run(hologuide().args(["guide", "show", unknown]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not available on this device"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn file_problems_are_reported_together_with_json_problems() {
    let scratch = tempfile::tempdir().unwrap();
    let package = scratch.path().join("pkg");
    copy_dir(&data("broken/missing-asset"), &package);
    let guide = std::fs::read_to_string(package.join("guide.json")).unwrap();
    std::fs::write(
        package.join("guide.json"),
        guide.replace("\"title\": \"Check the oil level\",", ""),
    )
    .unwrap();
    let output = run(hologuide()
        .args(["guide", "validate", "--json"])
        .arg(&package));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let rules: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["missing-field", "missing-asset"], "{report:#}");
}
