//! The Monado OpenXR runtime that `scripts/setup` installs for testers and CI.
//!
//! Debian 12 has no Monado, so setup builds a private Debian 13 tree under the user's cache
//! (see `PLATFORM.md`). Its libraries need trixie's glibc: anything that loads the runtime — the
//! service itself and every OpenXR client, our own binary included — is started through the
//! tree's dynamic loader with the tree's library path. This module is the one place that knows how.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

/// Set by [`MonadoInstall::client_command`] so a process knows it already runs inside the tree.
pub const INSIDE_TREE_ENV: &str = "HOLOGUIDE_INSIDE_MONADO_TREE";
/// Overrides where the install is looked for (a finished `<stamp>` directory).
pub const INSTALL_ENV: &str = "HOLOGUIDE_MONADO_DIR";
/// The validation layer every test enables (rule: OpenXR is tested with core validation on).
pub const VALIDATION_LAYER: &str = "XR_APILAYER_LUNARG_core_validation";
/// The service's IPC socket, created in its `XDG_RUNTIME_DIR` once it accepts clients.
pub const SERVICE_SOCKET: &str = "monado_comp_ipc";

#[derive(Debug, Error)]
pub enum MonadoError {
    #[error("Monado is not installed (looked in {0}); install it with scripts/setup")]
    NotInstalled(PathBuf),
    #[error("the Monado install at {0} is incomplete; run scripts/setup again")]
    Incomplete(PathBuf),
    #[error("cannot start monado-service: {0}")]
    Spawn(io::Error),
    #[error("monado-service exited during start-up ({status}); its log:\n{log}")]
    ExitedEarly { status: String, log: String },
    #[error("monado-service did not open its socket within {0:?}; its log:\n{1}")]
    StartTimeout(Duration, String),
    #[error("cannot prepare {path}: {source}")]
    Prepare { path: PathBuf, source: io::Error },
}

/// `${HOLOGUIDE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hologuide}`, as `scripts/setup` uses it.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("HOLOGUIDE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("hologuide")
}

/// A finished install: `<dir>/tree` (the trixie root), `<dir>/layers` (validation layer manifests
/// rewritten to point into the tree) and `<dir>/complete`.
#[derive(Debug, Clone)]
pub struct MonadoInstall {
    dir: PathBuf,
}

impl MonadoInstall {
    pub fn locate() -> Result<Self, MonadoError> {
        let dir = std::env::var_os(INSTALL_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| cache_root().join("monado").join("current"));
        Self::at(&dir)
    }

    pub fn at(dir: &Path) -> Result<Self, MonadoError> {
        if !dir.exists() {
            return Err(MonadoError::NotInstalled(dir.to_owned()));
        }
        let dir = dir.canonicalize().map_err(|source| MonadoError::Prepare {
            path: dir.to_owned(),
            source,
        })?;
        let install = Self { dir };
        if !install.dir.join("complete").is_file() || !install.loader().is_file() {
            return Err(MonadoError::Incomplete(install.dir));
        }
        Ok(install)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn tree(&self) -> PathBuf {
        self.dir.join("tree")
    }

    fn loader(&self) -> PathBuf {
        self.tree().join("lib64/ld-linux-x86-64.so.2")
    }

    /// liblapack/libblas are alternatives symlinks in their own folders, libarmadillo lives in
    /// `/usr/lib`: `--library-path` with the main folder alone does not start the service.
    fn library_path(&self) -> OsString {
        let tree = self.tree();
        let lib = tree.join("usr/lib/x86_64-linux-gnu");
        let dirs = [
            lib.clone(),
            lib.join("lapack"),
            lib.join("blas"),
            lib.join("pulseaudio"),
            tree.join("usr/lib"),
        ];
        std::env::join_paths(dirs).unwrap_or_default()
    }

    pub fn runtime_manifest(&self) -> PathBuf {
        self.tree().join("usr/share/openxr/1/openxr_monado.json")
    }

    pub fn vulkan_driver(&self) -> PathBuf {
        self.tree().join("usr/share/vulkan/icd.d/lvp_icd.json")
    }

    pub fn layers_dir(&self) -> PathBuf {
        self.dir.join("layers")
    }

    /// Runs `program` with the tree's loader and libraries — no chroot, no root needed.
    fn through_loader(&self, program: &Path) -> Command {
        let mut command = Command::new(self.loader());
        command
            .arg("--library-path")
            .arg(self.library_path())
            .arg(program);
        command
    }

    /// An OpenXR client (our binary, a test helper) that talks to the service in `runtime_dir`.
    /// With `validation_log`, the Khronos core validation layer is enabled and writes its
    /// messages to that file (by default it prints them on standard output, among the client's own).
    pub fn client_command(
        &self,
        program: &Path,
        runtime_dir: &Path,
        validation_log: Option<&Path>,
    ) -> Command {
        let mut command = self.through_loader(program);
        command
            .env("XR_RUNTIME_JSON", self.runtime_manifest())
            .env("XDG_RUNTIME_DIR", runtime_dir)
            .env("VK_DRIVER_FILES", self.vulkan_driver())
            .env(INSIDE_TREE_ENV, "1");
        match validation_log {
            Some(log) => command
                .env("XR_API_LAYER_PATH", self.layers_dir())
                .env("XR_ENABLE_API_LAYERS", VALIDATION_LAYER)
                .env("XR_CORE_VALIDATION_EXPORT_TYPE", "text")
                .env("XR_CORE_VALIDATION_FILE_NAME", log),
            None => command
                .env_remove("XR_API_LAYER_PATH")
                .env_remove("XR_ENABLE_API_LAYERS"),
        };
        command
    }

    /// Starts a headless service whose socket lives in `runtime_dir` (created 0700 if missing).
    /// Each caller can have its own: tests run side by side without sharing a runtime.
    pub fn start_service(&self, runtime_dir: &Path) -> Result<MonadoService, MonadoError> {
        self.start_service_with(runtime_dir, &[])
    }

    /// [`Self::start_service`] with extra environment for the service, e.g. `QWERTY_ENABLE=1`
    /// for Monado's keyboard-driven headset, which (unlike the default simulated one, which
    /// wobbles with the clock) stays still when nobody types: frames become reproducible.
    pub fn start_service_with(
        &self,
        runtime_dir: &Path,
        extra_env: &[(&str, &str)],
    ) -> Result<MonadoService, MonadoError> {
        self.launch_service(runtime_dir, &ServiceMode::Headless, extra_env)
    }

    /// Starts the service headless or as the testers' windowed simulator (see [`ServiceMode`]).
    pub fn start_service_in(
        &self,
        runtime_dir: &Path,
        mode: &ServiceMode,
    ) -> Result<MonadoService, MonadoError> {
        self.launch_service(runtime_dir, mode, &[])
    }

    fn launch_service(
        &self,
        runtime_dir: &Path,
        mode: &ServiceMode,
        extra_env: &[(&str, &str)],
    ) -> Result<MonadoService, MonadoError> {
        prepare_private_dir(runtime_dir)?;
        let home = runtime_dir.join("home");
        prepare_private_dir(&home)?;
        let log_path = runtime_dir.join("monado-service.log");
        let log = fs::File::create(&log_path).map_err(|source| MonadoError::Prepare {
            path: log_path.clone(),
            source,
        })?;
        let log_err = log.try_clone().map_err(MonadoError::Spawn)?;
        let mut command = self.through_loader(&self.tree().join("usr/bin/monado-service"));
        // Each variable answers a failure measured in PLATFORM.md: no HOME → abort in start-up,
        // stdin not a terminal → IPC main loop fails, no null compositor → segfault headless.
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", runtime_dir)
            .env("XRT_NO_STDIN", "1")
            .env("VK_DRIVER_FILES", self.vulkan_driver())
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        match mode {
            ServiceMode::Headless => {
                command
                    .env("XRT_COMPOSITOR_NULL", "1")
                    .env("SIMULATED_ENABLE", "1");
            }
            // Measured on Monado 25 (Xvfb + lavapipe): XRT_COMPOSITOR_FORCE_XCB opens the
            // compositor's window ("Monado", both eyes side by side) when a session starts;
            // QWERTY_ENABLE makes the qwerty headset and controllers the devices, and their
            // keys are read only from the SDL debug window that XRT_DEBUG_GUI opens
            // ("Monado! ✨⚡🔥", u_debug_gui.c passes its events to qwerty_process_event).
            ServiceMode::Windowed { display } => {
                command
                    .env("DISPLAY", display)
                    .env("XRT_COMPOSITOR_FORCE_XCB", "1")
                    .env("QWERTY_ENABLE", "1")
                    .env("XRT_DEBUG_GUI", "1");
            }
        }
        // Its own process group: Ctrl-C in a terminal reaches the app, which ends its session,
        // and the service is stopped after it rather than under it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().map_err(MonadoError::Spawn)?;
        let mut service = MonadoService {
            child,
            runtime_dir: runtime_dir.to_owned(),
            log_path,
        };
        service.wait_until_ready(Duration::from_secs(20))?;
        Ok(service)
    }
}

/// How the service shows its frames and which devices it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceMode {
    /// No window: the null compositor and Monado's simulated headset (CI, tests).
    Headless,
    /// The testers' simulator on an X display: a compositor window and a keyboard/mouse-driven
    /// headset and controllers (Monado's qwerty driver).
    Windowed { display: OsString },
}

fn prepare_private_dir(dir: &Path) -> Result<(), MonadoError> {
    use std::os::unix::fs::PermissionsExt;
    let prepare = || -> io::Result<()> {
        fs::create_dir_all(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
    };
    prepare().map_err(|source| MonadoError::Prepare {
        path: dir.to_owned(),
        source,
    })
}

/// A running `monado-service`; stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct MonadoService {
    child: Child,
    runtime_dir: PathBuf,
    log_path: PathBuf,
}

impl MonadoService {
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn wait_until_ready(&mut self, timeout: Duration) -> Result<(), MonadoError> {
        let socket = self.runtime_dir.join(SERVICE_SOCKET);
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(MonadoError::ExitedEarly {
                    status: status.to_string(),
                    log: self.log(),
                });
            }
            // A socket left by an earlier, killed service is replaced at start-up; only a
            // socket newer than our start means this service listens.
            let fresh = fs::metadata(&socket)
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age <= started.elapsed()));
            if fresh {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(MonadoError::StartTimeout(timeout, self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the service and waits for it; returns its log.
    pub fn stop(mut self) -> String {
        self.terminate();
        self.log()
    }

    fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: `pid` is our own child, not yet reaped, so it cannot name another process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MonadoService {
    fn drop(&mut self) {
        self.terminate();
    }
}
