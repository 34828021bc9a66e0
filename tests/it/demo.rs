//! `hologuide demo` (F8): the demo guide runs with no network and no account.

use serde_json::Value;

use crate::support::*;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn demo_walks_every_step_of_both_tasks_then_completes() {
    let output = run(hologuide().args(["demo", "--json"]));
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
    let output = run(hologuide().args(["demo", "--no-wait"]));
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
        .args(["demo", "--wait", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // next, next, back, jump to 5, nonsense (ignored, card shown again), quit
    child.stdin.take().unwrap().write_all(b"\nn\nb\n5\nxyz\nq\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let text = stdout(&output);
    let numbers: Vec<u64> = text
        .lines()
        .filter_map(|l| l.find('{').map(|at| &l[at..]))
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["step_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2, 3, 2, 5, 5]);
}

#[test]
fn demo_can_start_at_a_step() {
    let output = run(hologuide().args(["demo", "--json", "--step", "4"]));
    let views = json_lines(&stdout(&output));
    assert_eq!(views[0]["step_number"], 4);
}
