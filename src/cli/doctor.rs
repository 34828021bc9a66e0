//! `hologuide doctor`: what this machine offers for rendering and XR, and how to get what is missing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};

use hologuide::platform::monado::{self, MonadoInstall, SERVICE_SOCKET};
use hologuide::platform::probe::{self, OpenXrRuntime, VulkanDevice};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The report as one JSON object on standard output.
    #[arg(long)]
    json: bool,
    /// Internal: probe OpenXR in this process and print JSON (used through the Monado tree).
    #[arg(long, hide = true)]
    openxr_probe: bool,
}

const SETUP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/setup");

#[derive(Debug, Serialize)]
struct Report {
    vulkan: Finding<Vec<VulkanDevice>>,
    monado: Finding<PathBuf>,
    openxr: Finding<OpenXrRuntime>,
    validation_layer: bool,
    missing: Vec<Missing>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Finding<T> {
    found: Option<T>,
    error: Option<String>,
}

impl<T> From<Result<T, String>> for Finding<T> {
    fn from(result: Result<T, String>) -> Self {
        match result {
            Ok(found) => Self {
                found: Some(found),
                error: None,
            },
            Err(error) => Self {
                found: None,
                error: Some(error),
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct Missing {
    what: String,
    fix: String,
}

pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    if args.openxr_probe {
        let result: Finding<OpenXrRuntime> = probe::openxr_runtime().into();
        println!("{}", serde_json::to_string(&result)?);
        return Ok(ExitCode::SUCCESS);
    }
    let report = examine();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILURE)
    })
}

fn examine() -> Report {
    let vulkan = probe::vulkan_devices().and_then(|devices| {
        if devices.is_empty() {
            Err("the Vulkan loader found no device".to_owned())
        } else {
            Ok(devices)
        }
    });
    let install = MonadoInstall::locate().map_err(|e| e.to_string());
    let openxr = probe_openxr(install.as_ref().ok());

    let mut missing = Vec::new();
    if vulkan.is_err() {
        missing.push(Missing {
            what: "a Vulkan driver (lavapipe on machines without a GPU)".to_owned(),
            fix: format!("{SETUP}   (or: apt-get install -y libvulkan1 mesa-vulkan-drivers)"),
        });
    }
    if install.is_err() {
        missing.push(Missing {
            what: "the Monado OpenXR runtime (headless simulator for tests)".to_owned(),
            fix: SETUP.to_owned(),
        });
    }
    if install.is_ok() && openxr.is_err() {
        missing.push(Missing {
            what: "a working OpenXR runtime".to_owned(),
            fix: format!("{SETUP}   (re-run it to repair the Monado install)"),
        });
    }
    let validation_layer = openxr
        .as_ref()
        .is_ok_and(|rt| rt.api_layers.iter().any(|l| l == monado::VALIDATION_LAYER));
    if openxr.is_ok() && !validation_layer {
        missing.push(Missing {
            what: format!("the OpenXR validation layer {}", monado::VALIDATION_LAYER),
            fix: SETUP.to_owned(),
        });
    }
    Report {
        vulkan: vulkan.into(),
        monado: install.map(|i| i.dir().to_owned()).into(),
        openxr: openxr.into(),
        validation_layer,
        missing,
    }
}

/// Tries this process's own OpenXR loader first (a system runtime), then the Monado tree:
/// its libraries need the tree's glibc, so the probe runs in a child started through the tree.
fn probe_openxr(install: Option<&MonadoInstall>) -> Result<OpenXrRuntime, String> {
    if std::env::var_os(monado::INSIDE_TREE_ENV).is_some() {
        return probe::openxr_runtime();
    }
    let in_process = probe::openxr_runtime();
    let Some(install) = install else {
        return in_process;
    };
    if in_process.is_ok() {
        return in_process;
    }
    probe_through_tree(install).map_err(|e| format!("{e:#}"))
}

fn probe_through_tree(install: &MonadoInstall) -> anyhow::Result<OpenXrRuntime> {
    let exe = std::env::current_exe().context("finding this program")?;
    // A tester's running service (or a test's) is used as it is; otherwise start one for the probe.
    let running = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.join(SERVICE_SOCKET).exists());
    let scratch;
    let (runtime_dir, service) = match running {
        Some(dir) => (dir, None),
        None => {
            scratch = ScratchDir::new(
                &monado::cache_root().join(format!("doctor-{}", std::process::id())),
            )?;
            let service = install
                .start_service(&scratch.0)
                .context("starting monado-service for the probe")?;
            (scratch.0.clone(), Some(service))
        }
    };
    let validation_log = runtime_dir.join(format!("doctor-validation-{}.log", std::process::id()));
    let output = install
        .client_command(&exe, &runtime_dir, Some(&validation_log))
        .args(["doctor", "--openxr-probe"])
        .output()
        .context("running the OpenXR probe through the Monado tree")?;
    drop(service);
    let _ = std::fs::remove_file(&validation_log);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let finding: Finding<OpenXrRuntime> =
        serde_json::from_str(stdout.trim()).with_context(|| {
            format!(
                "the OpenXR probe failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })?;
    match (finding.found, finding.error) {
        (Some(runtime), _) => Ok(runtime),
        (None, error) => anyhow::bail!(error.unwrap_or_else(|| "no answer".to_owned())),
    }
}

/// A directory removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(path: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path.to_owned()))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn print_report(report: &Report) {
    let mark = |ok: bool| if ok { "ok     " } else { "MISSING" };
    match (&report.vulkan.found, &report.vulkan.error) {
        (Some(devices), _) => {
            for device in devices {
                println!(
                    "{} Vulkan   {} ({}, Vulkan {})",
                    mark(true),
                    device.name,
                    device.kind,
                    device.api_version
                );
            }
        }
        (None, error) => println!(
            "{} Vulkan   {}",
            mark(false),
            error.as_deref().unwrap_or("")
        ),
    }
    match (&report.monado.found, &report.monado.error) {
        (Some(dir), _) => println!("{} Monado   installed at {}", mark(true), dir.display()),
        (None, error) => println!(
            "{} Monado   {}",
            mark(false),
            error.as_deref().unwrap_or("")
        ),
    }
    match (&report.openxr.found, &report.openxr.error) {
        (Some(runtime), _) => {
            println!(
                "{} OpenXR   {} (runtime version {})",
                mark(true),
                runtime.runtime_name,
                runtime.runtime_version
            );
            match (&runtime.system, &runtime.system_error) {
                (Some(system), _) => {
                    println!("           system: {}", system.name);
                    println!("           blend modes: {}", system.blend_modes.join(", "));
                    for (i, view) in system.views.iter().enumerate() {
                        println!(
                            "           view {i}: {}×{} recommended, {}×{} max",
                            view.recommended[0], view.recommended[1], view.max[0], view.max[1]
                        );
                    }
                }
                (None, error) => {
                    println!("           no system: {}", error.as_deref().unwrap_or(""))
                }
            }
            println!(
                "{} OpenXR validation layer {}",
                mark(report.validation_layer),
                monado::VALIDATION_LAYER
            );
            let mut extensions = runtime.extensions.clone();
            extensions.sort();
            println!("           {} extensions:", extensions.len());
            for line in super::wrap(&extensions.join(" "), 84) {
                println!("             {line}");
            }
        }
        (None, error) => println!(
            "{} OpenXR   {}",
            mark(false),
            error.as_deref().unwrap_or("")
        ),
    }
    if report.missing.is_empty() {
        println!("\nEverything the renderer and the OpenXR tests need is here.");
    } else {
        println!("\nMissing:");
        for missing in &report.missing {
            println!("  - {}\n    fix: {}", missing.what, missing.fix);
        }
    }
}
