//! Command line: parse, run one command, report once.

/// Appends a line to a `String` of output; writing to a `String` cannot fail.
macro_rules! line {
    ($text:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($text, $($arg)*);
    }};
}

#[cfg(feature = "dev-tools")]
mod bench;
#[cfg(feature = "dev-tools")]
mod bench_cache;
#[cfg(feature = "dev-tools")]
mod bench_camera;
#[cfg(feature = "dev-tools")]
mod bench_client;
#[cfg(feature = "dev-tools")]
mod bench_qr;
#[cfg(feature = "dev-tools")]
mod bench_records;
#[cfg(feature = "dev-tools")]
mod bench_render;
#[cfg(feature = "dev-tools")]
mod bench_sync;
#[cfg(feature = "dev-tools")]
mod bench_sync_frames;
#[cfg(feature = "dev-tools")]
mod bench_xr;
mod cache;
#[cfg(feature = "dev-tools")]
mod cache_dev;
mod client;
pub(crate) mod data_dir;
mod demo;
mod demo_render;
mod demo_window;
mod doctor;
mod guide;
mod qr;
mod run_camera;
mod run_service;
mod run_text;
mod run_xr;
mod sim;
mod sync;
mod sync_settings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Something went wrong while doing the work (unreadable file, no runtime, …).
pub const EXIT_FAILURE: u8 = 1;
/// The input was refused: an invalid guide, a malformed link.
pub const EXIT_INVALID: u8 = 2;

/// hologuide shows step-by-step work guides as floating cards and 3D holograms in a mixed-reality
/// headset, and keeps them usable offline.
///
/// Start with `hologuide demo` (no network, no account needed), or check a guide package you
/// wrote with `hologuide guide validate <dir>`. `hologuide doctor` tells what this machine
/// offers (Vulkan, OpenXR runtime) and how to install what is missing.
#[derive(Debug, Parser)]
#[command(name = "hologuide", version, about, long_about, max_term_width = 100)]
struct Cli {
    /// Log detail: error, warn, info, debug or trace (also RUST_LOG).
    #[arg(long, global = true, default_value = "warn", value_name = "LEVEL")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The XR app on an OpenXR runtime (or in a window): the demo guide, a guide package
    /// folder, or a guide of the service by id or link with the live Offline banner.
    Run(run_xr::RunArgs),
    /// Run the bundled demo guide: replacing the filter cartridge of a coolant pump.
    Demo(demo::DemoArgs),
    /// Check, inspect and open guide packages.
    #[command(subcommand)]
    Guide(guide::GuideCommand),
    /// Report what this machine offers: Vulkan devices, the OpenXR runtime, and what is missing.
    Doctor(doctor::DoctorArgs),
    /// Decode QR codes in image files.
    #[command(subcommand)]
    Qr(qr::QrCommand),
    /// Sign in to a guide service (needs the network, F5).
    Login(client::LoginArgs),
    /// Sign out (works offline too); the guides on this device stay.
    Logout(client::Common),
    /// Online or offline, who is signed in, until when offline use works, cache size.
    Status(client::Common),
    /// The All list: every guide available offline on this device.
    Guides(client::Common),
    /// The guide runs whose answers this device keeps (offline too): each step's final answer,
    /// what it corrected, and whether the service has it.
    Runs(client::Common),
    /// Open a guide by id or link: online it downloads the latest version first, offline it
    /// opens this device's copy. Prints its steps.
    Open(client::OpenArgs),
    /// Bring the offline profile onto this device now: its guides downloaded without opening
    /// them, guides that left it removed (unless you opened them). `--dry-run` shows the plan.
    Sync(sync::SyncArgs),
    /// Look into, check and clear the encrypted offline cache (per user, per guide, all).
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// Measure: glTF corpus load rate, renderer frame time, QR decode rate and speed, cache
    /// throughput and cold start.
    #[cfg(feature = "dev-tools")]
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The testers' simulator: Monado with a window and keyboard/mouse headset (headless without
    /// a display), `hologuide run` against it, Monado stopped at the end.
    Sim(sim::SimArgs),
    /// Developer tools for this repository.
    #[cfg(feature = "dev-tools")]
    #[command(subcommand, hide = true)]
    Dev(DevCommand),
}

#[cfg(feature = "dev-tools")]
#[derive(Debug, Subcommand)]
enum DevCommand {
    /// Write the demo guide's glTF models (reproducible: same bytes every run).
    GenerateDemoModels {
        /// Folder to write into, normally assets/demo/models.
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
    /// Write new versions of the demo guide into a user's cache until killed (or --versions).
    CacheWriteLoop {
        #[command(flatten)]
        data: data_dir::DataDirArg,
        /// Whose cache.
        #[arg(long)]
        user: String,
        /// Stop after this many versions.
        #[arg(long)]
        versions: Option<std::num::NonZeroU32>,
    },
    /// Open a user's cache and print the demo guide's first step (cold start of `bench cache`).
    CacheFirstStep {
        #[command(flatten)]
        data: data_dir::DataDirArg,
        /// Whose cache.
        #[arg(long)]
        user: String,
    },
}

pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(&cli.log);
    match cli.command {
        Command::Run(args) => run_xr::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Guide(command) => guide::run(command),
        Command::Doctor(args) => doctor::run(args),
        Command::Qr(command) => qr::run(command),
        Command::Login(args) => client::login(args),
        Command::Logout(args) => client::logout(args),
        Command::Status(args) => client::status(args),
        Command::Guides(args) => client::guides(args),
        Command::Runs(args) => client::runs(args),
        Command::Open(args) => client::open(args),
        Command::Sync(args) => sync::run(args),
        Command::Cache(command) => cache::run(command),
        #[cfg(feature = "dev-tools")]
        Command::Bench(command) => bench::run(command),
        Command::Sim(args) => sim::run(args),
        #[cfg(feature = "dev-tools")]
        Command::Dev(command) => dev(command),
    }
}

fn init_logging(level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

#[cfg(feature = "dev-tools")]
fn dev(command: DevCommand) -> anyhow::Result<ExitCode> {
    match command {
        DevCommand::GenerateDemoModels { out } => generate_demo_models(&out),
        DevCommand::CacheWriteLoop {
            data,
            user,
            versions,
        } => cache_dev::write_loop(&data.resolve()?, &user, versions.map(|n| n.get())),
        DevCommand::CacheFirstStep { data, user } => cache_dev::first_step(&data.resolve()?, &user),
    }
}

#[cfg(feature = "dev-tools")]
fn generate_demo_models(out: &std::path::Path) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for model in hologuide::demo::models::demo_models() {
        let path = out.join(model.file_name);
        std::fs::write(&path, &model.glb).with_context(|| format!("writing {}", path.display()))?;
        println!("{:>8} bytes  {}", model.glb.len(), path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Greedy word wrap; keeps the author's paragraph breaks.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

/// Writes to standard output, returning the error (a closed pipe) instead of panicking as
/// `println!` does.
pub(crate) fn out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}
