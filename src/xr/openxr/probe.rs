//! "Does an OpenXR runtime answer?" — for `--backend auto` and for error messages. Bounded in
//! time: a runtime that hangs counts as no runtime.
//!
//! In this process when it can reach a runtime (a system runtime, or already inside the Monado
//! tree); otherwise, when the project's Monado is installed and its service runs, through a
//! child started with the tree's loader (`hologuide doctor --openxr-probe`, as `doctor` does).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::platform::monado::{INSIDE_TREE_ENV, MonadoInstall, SERVICE_SOCKET};

/// How long a probe may take before the runtime counts as absent.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeSummary {
    /// "Monado(XRT) by Collabora et al '25.0.0+dfsg-2' 25.0.0".
    pub runtime: String,
    pub system: Option<String>,
    /// Whether it offers XR_KHR_vulkan_enable2 (hologuide's binding on this platform).
    pub vulkan: bool,
    /// True when the runtime is reached through the Monado tree (the CLI re-executes itself).
    pub through_monado_tree: bool,
}

/// Why there is no usable runtime, in one line a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XrUnavailable(pub String);

/// Asks whether a runtime answers, within [`PROBE_TIMEOUT`]; never hangs. Meant for the
/// `hologuide` binary itself (the probe through the Monado tree re-runs this program).
pub fn probe_runtime() -> Result<RuntimeSummary, XrUnavailable> {
    let exe = std::env::current_exe()
        .map_err(|e| XrUnavailable(format!("cannot find this program to probe with: {e}")))?;
    probe_runtime_with(&exe, &monado_runtime_dir())
}

/// [`probe_runtime`] with the `hologuide` binary to probe through (`hologuide doctor
/// --openxr-probe`) and the directory where the project's monado-service has its socket.
pub fn probe_runtime_with(
    hologuide: &Path,
    runtime_dir: &Path,
) -> Result<RuntimeSummary, XrUnavailable> {
    let in_process = probe_in_process_bounded();
    if in_process.is_ok() || std::env::var_os(INSIDE_TREE_ENV).is_some() {
        return in_process;
    }
    let Ok(install) = MonadoInstall::locate() else {
        return in_process;
    };
    probe_through_tree(&install, hologuide, runtime_dir)
}

/// Where a running monado-service has its socket: `$XDG_RUNTIME_DIR`, else `/run/user/<uid>`.
pub fn monado_runtime_dir() -> PathBuf {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        // SAFETY: getuid cannot fail.
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{}", unsafe { libc::getuid() })))
}

/// Whether the project's monado-service listens in `runtime_dir`.
pub fn monado_service_running(runtime_dir: &Path) -> bool {
    runtime_dir.join(SERVICE_SOCKET).exists()
}

/// Whether a runtime answers this process's own OpenXR loader (a system runtime), within
/// [`PROBE_TIMEOUT`].
pub fn answers_in_process() -> bool {
    probe_in_process_bounded().is_ok()
}

fn probe_in_process_bounded() -> Result<RuntimeSummary, XrUnavailable> {
    let (sender, receiver) = mpsc::channel();
    // A runtime that never answers leaves this thread behind; the process goes on.
    let spawned = std::thread::Builder::new()
        .name("openxr probe".into())
        .spawn(move || {
            let _ = sender.send(probe_in_process());
        });
    if let Err(e) = spawned {
        return Err(XrUnavailable(format!("cannot start the OpenXR probe: {e}")));
    }
    receiver.recv_timeout(PROBE_TIMEOUT).unwrap_or_else(|_| {
        Err(XrUnavailable(format!(
            "the OpenXR runtime did not answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )))
    })
}

fn probe_in_process() -> Result<RuntimeSummary, XrUnavailable> {
    let runtime = crate::platform::probe::openxr_runtime().map_err(XrUnavailable)?;
    Ok(summary(runtime, false))
}

fn summary(runtime: crate::platform::probe::OpenXrRuntime, tree: bool) -> RuntimeSummary {
    RuntimeSummary {
        vulkan: runtime
            .extensions
            .iter()
            .any(|e| e == "XR_KHR_vulkan_enable2"),
        runtime: format!("{} {}", runtime.runtime_name, runtime.runtime_version),
        system: runtime.system.map(|s| s.name),
        through_monado_tree: tree,
    }
}

fn probe_through_tree(
    install: &MonadoInstall,
    exe: &Path,
    runtime_dir: &Path,
) -> Result<RuntimeSummary, XrUnavailable> {
    if !monado_service_running(runtime_dir) {
        return Err(XrUnavailable(format!(
            "no OpenXR runtime is running (the project's Monado is installed, but monado-service has no socket in {}; start it, e.g. with `hologuide sim`)",
            runtime_dir.display()
        )));
    }
    let mut child = install
        .client_command(exe, runtime_dir, None)
        .args(["doctor", "--openxr-probe"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| XrUnavailable(format!("cannot start the OpenXR probe: {e}")))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > PROBE_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(XrUnavailable(format!(
                    "monado-service did not answer within {} s",
                    PROBE_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(XrUnavailable(format!("the OpenXR probe failed: {e}"))),
        }
    }
    let mut stdout = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stdout);
    }
    #[derive(Deserialize)]
    struct Finding {
        found: Option<crate::platform::probe::OpenXrRuntime>,
        error: Option<String>,
    }
    let finding: Finding = serde_json::from_str(stdout.trim())
        .map_err(|e| XrUnavailable(format!("the OpenXR probe gave no answer ({e})")))?;
    match (finding.found, finding.error) {
        (Some(runtime), _) => Ok(summary(runtime, true)),
        (None, error) => {
            Err(XrUnavailable(error.unwrap_or_else(|| {
                "the OpenXR probe gave no answer".to_owned()
            })))
        }
    }
}
