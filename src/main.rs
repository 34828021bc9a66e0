//! `hologuide`: the mixed-reality guide runtime and its command line.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_mesa_device_select();
    match cli::run() {
        Ok(code) => code,
        // `hologuide … | head` closing the pipe early is not a failure worth a message.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(cli::EXIT_FAILURE)
        }
    }
}

/// Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select` opens a Wayland connection while
/// it orders GPUs, and libwayland prints `error: XDG_RUNTIME_DIR is invalid or not set` when
/// there is no session (SSH, CI, services) — a line users read as ours. Without a session there
/// is no display for that layer to pick a GPU for, so it is switched off, as Mesa documents, with
/// `NODEVICE_SELECT`. A value the user set is kept.
fn quiet_mesa_device_select() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none()
        && std::env::var_os("NODEVICE_SELECT").is_none()
    {
        // SAFETY: first thing in `main`, before any thread of ours or of a library exists, so no
        // other thread can be reading the environment.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
