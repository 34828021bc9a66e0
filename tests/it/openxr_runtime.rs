//! The OpenXR runtime that `scripts/setup` installs really answers: Monado, headless, with the
//! Khronos core validation layer. Later OpenXR tests stand on this.

use std::path::Path;

use serde_json::Value;

use hologuide::platform::monado::{INSTALL_ENV, MonadoInstall};

use crate::support::*;

/// In CI the runtime must be there (the test fails); on a developer's machine without it the
/// test says so and passes, so `cargo test` works before `scripts/setup` has run.
pub(crate) fn monado_or_skip() -> Option<MonadoInstall> {
    match MonadoInstall::locate() {
        Ok(install) => Some(install),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and the OpenXR runtime is missing: {e}")
        }
        Err(e) => {
            eprintln!("skipping: {e}");
            None
        }
    }
}

/// Unix socket paths are limited to 108 bytes: keep runtime directories short.
pub(crate) fn runtime_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hg-xr-")
        .tempdir_in("/tmp")
        .unwrap()
}

fn doctor_json(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| {
        panic!(
            "doctor --json printed no JSON ({e}):\n{}\n{}",
            stdout(output),
            stderr(output)
        )
    })
}

fn assert_reports_monado(report: &Value) {
    let runtime = &report["openxr"]["found"];
    let name = runtime["runtime_name"].as_str().unwrap_or_default();
    assert!(name.starts_with("Monado"), "runtime: {report:#}");
    assert!(
        runtime["system"]["name"]
            .as_str()
            .unwrap_or_default()
            .contains("Monado"),
        "system: {report:#}"
    );
    let extensions: Vec<&str> = runtime["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        extensions.contains(&"XR_KHR_vulkan_enable2"),
        "{extensions:?}"
    );
    assert_eq!(
        runtime["system"]["views"].as_array().unwrap().len(),
        2,
        "primary stereo has two views"
    );
    assert!(
        !runtime["system"]["blend_modes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(report["validation_layer"], true, "{report:#}");
}

#[test]
fn monado_answers_through_openxr_with_the_validation_layer() {
    let Some(install) = monado_or_skip() else {
        return;
    };
    let dir = runtime_dir();
    let service = install
        .start_service(dir.path())
        .expect("monado-service starts");
    let validation_log = dir.path().join("validation.log");
    let output = install
        .client_command(
            Path::new(env!("CARGO_BIN_EXE_hologuide")),
            dir.path(),
            Some(&validation_log),
        )
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let log = service.stop();
    let report = doctor_json(&output);
    assert_reports_monado(&report);
    assert!(output.status.success(), "{report:#}\nservice log:\n{log}");
    // The layer really ran: it logs its own start and end, and nothing else for a clean client.
    let messages =
        std::fs::read_to_string(&validation_log).expect("the validation layer wrote its log");
    assert!(
        messages.contains("Core Validation Layer is initialized"),
        "{messages}"
    );
    let complaints: Vec<&str> = messages
        .lines()
        .filter(|l| l.starts_with('[') && !l.contains("VALID_DEBUG"))
        .collect();
    assert_eq!(complaints, Vec::<&str>::new(), "validation layer messages");
}

#[test]
fn doctor_on_a_set_up_machine_starts_the_runtime_itself_and_names_it() {
    let Some(_) = monado_or_skip() else { return };
    let empty = runtime_dir();
    let output = run(hologuide()
        .args(["doctor", "--json"])
        .env("XDG_RUNTIME_DIR", empty.path()));
    assert_reports_monado(&doctor_json(&output));

    let text = run(hologuide()
        .arg("doctor")
        .env("XDG_RUNTIME_DIR", empty.path()));
    assert!(
        stdout(&text).contains("OpenXR   Monado"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn doctor_without_monado_says_what_is_missing_and_how_to_install_it() {
    let output = run(hologuide()
        .args(["doctor", "--json"])
        .env(INSTALL_ENV, "/nonexistent/monado"));
    assert_eq!(output.status.code(), Some(1));
    let report = doctor_json(&output);
    assert!(report["monado"]["found"].is_null());
    let missing = report["missing"].as_array().unwrap();
    let monado = missing
        .iter()
        .find(|m| m["what"].as_str().unwrap().contains("Monado"))
        .expect("Monado is listed as missing");
    assert!(
        monado["fix"].as_str().unwrap().ends_with("scripts/setup"),
        "{monado}"
    );
}
