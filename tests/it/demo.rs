//! `hologuide demo` (F8): the demo guide runs with no network and no account.

use serde_json::Value;

use crate::support::*;

#[test]
fn demo_walks_every_step_of_both_tasks_then_completes() {
    let output = run(hologuide().args(["demo", "--frontend", "text", "--json"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let views = json_lines(&stdout(&output));
    let (complete, steps) = views.split_last().unwrap();
    assert_eq!(complete["screen"], "complete");
    assert!((6..=10).contains(&steps.len()), "{} steps", steps.len());
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step["step_number"], i + 1);
        assert_eq!(step["demo"], true);
    }
    assert_eq!(steps[0]["task_number"], 1);
    assert_eq!(steps.last().unwrap()["task_number"], 2);
}

#[test]
fn demo_text_mode_prints_each_step_card() {
    let output = run(hologuide().args(["demo", "--frontend", "text", "--no-wait"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("Step 1 of "), "{text}");
    assert!(text.contains("[DEMO]"), "{text}");
    assert!(text.contains("[Finish]"), "{text}");
    assert!(text.contains("steps done."), "{text}");
}

#[test]
fn demo_follows_keys_typed_by_the_operator() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = hologuide()
        .args(["demo", "--frontend", "text", "--wait", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // next, next, back, jump to 5, nonsense (ignored, card shown again), quit
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\nn\nb\n5\nxyz\nq\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let text = stdout(&output);
    let numbers: Vec<u64> = text
        .lines()
        .filter_map(|l| l.find('{').map(|at| &l[at..]))
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["step_number"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(numbers, vec![1, 2, 3, 2, 5, 5]);
}

#[test]
fn demo_can_start_at_a_step() {
    let output = run(hologuide().args(["demo", "--frontend", "text", "--json", "--step", "4"]));
    let views = json_lines(&stdout(&output));
    assert_eq!(views[0]["step_number"], 4);
}

/// The demo's models are generated; the committed files are exactly what the generator makes.
/// Regenerate with `cargo run -- dev generate-demo-models --out assets/demo/models`.
#[test]
fn committed_demo_models_are_reproduced_by_the_generator() {
    let models = hologuide::demo::models::demo_models();
    let folder = repo().join("assets/demo/models");
    let mut committed: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    let mut generated: Vec<String> = models.iter().map(|m| m.file_name.to_owned()).collect();
    generated.sort();
    assert_eq!(committed, generated);
    for model in models {
        let on_disk = std::fs::read(folder.join(model.file_name)).unwrap();
        assert!(
            on_disk == model.glb,
            "{} differs from the generator's output",
            model.file_name
        );
    }
}

#[test]
fn every_demo_model_is_used_by_the_demo_guide() {
    let package = hologuide::guide::GuidePackage::load(&repo().join("assets/demo")).unwrap();
    let used = package.guide.asset_paths();
    for model in hologuide::demo::models::demo_models() {
        let path = format!("models/{}", model.file_name);
        assert!(
            used.contains(&path.as_str()),
            "{path} is generated but no step shows it"
        );
        assert!(
            package.read_asset(&path).unwrap() == model.glb,
            "{path} read back differs"
        );
    }
}
