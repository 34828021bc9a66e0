//! `hologuide run` (and `demo --backend openxr`): the app on an OpenXR runtime, or in a desktop
//! window with `--backend window`.
//!
//! On these Debian 12 machines the project's Monado only loads into a process that runs on its
//! Debian 13 tree's libraries, so when no runtime answers in this process and the project's
//! Monado is installed, the command re-executes itself through the tree's loader — the user
//! types the same command either way. A guide of the service is opened after that choice, so
//! only the process that shows it downloads it.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use hologuide::app::GuideSource;
use hologuide::app::driver::{Driver, DriverSettings};
use hologuide::app::script::{self, ScriptedCommand};
use hologuide::guide::GuidePackage;
use hologuide::xr::{Content, Standalone, Surroundings};

use super::data_dir::DataDirArg;
use super::run_camera::{CameraArgs, DriverCamera};
use super::run_service::{self, Chosen};

#[path = "run_openxr.rs"]
mod on_openxr;

use on_openxr::run_on_openxr;
pub use on_openxr::{OpenXrVerdict, openxr_verdict};

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// What to show: a guide package folder (or .zip); or a guide id or guide link
    /// (hologuide://<org>/g/<id>[/s/<step>], https://…/l/…) of the account signed in with
    /// `hologuide login`, opened as `hologuide open` does (downloaded online, from this device's
    /// cache offline) with the live Offline banner. The bundled demo guide when left out.
    #[arg(value_name = "GUIDE")]
    guide: Option<String>,
    /// Where to show it: on the OpenXR runtime, in a desktop window (X11: mouse look, WASD,
    /// keys N/B/R/O, M for the All list and 1-9 to open its guides, Esc quits), offscreen
    /// (headless: a fixed clock, --frames needed), or auto: OpenXR if a runtime answers, else
    /// the window if a display exists, else headless, said in one line.
    #[arg(long, value_enum, default_value_t = RunBackend::Openxr)]
    backend: RunBackend,
    /// Step number to start at (overrides a link's step).
    #[arg(long, value_name = "N")]
    step: Option<NonZeroU32>,
    /// Show the Offline banner whatever the network does (a guide of the service shows it by
    /// itself while its service cannot be reached).
    #[arg(long)]
    offline: bool,
    /// End the session after this many frames have been rendered.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    frames: Option<u64>,
    /// End the session after this many seconds of rendering (OpenXR).
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// Copy the left eye's image (the window's image) of rendered frame N (from 1) to the PNG
    /// given by --out.
    #[arg(long, value_name = "N", requires = "out", value_parser = clap::value_parser!(u64).range(1..))]
    capture_frame: Option<u64>,
    /// Where --capture-frame writes its PNG.
    #[arg(long, value_name = "FILE", requires = "capture_frame")]
    out: Option<PathBuf>,
    /// Scripted input: lines of `FRAME ACTION` (next, back, restart, step N, answer N, menu,
    /// open N, select, exit), fed through the same path as the controllers, keys and clicks, on every
    /// backend (README: "On an OpenXR runtime").
    #[arg(long, value_name = "FILE")]
    input_script: Option<PathBuf>,
    #[command(flatten)]
    camera: CameraArgs,
    /// Swapchain size per eye, WIDTHxHEIGHT; the runtime's recommended size by default.
    #[arg(long, value_name = "WxH", value_parser = super::demo::parse_size)]
    eye_size: Option<(u32, u32)>,
    /// The window's or the headless image's size, WIDTHxHEIGHT (default 1280x800).
    #[arg(long, value_name = "WxH", value_parser = super::demo::parse_size)]
    size: Option<(u32, u32)>,
    /// Head-gaze dwell before a looked-at button is pressed, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1500,
          value_parser = clap::value_parser!(u64).range(200..=10_000))]
    dwell_ms: u64,
    /// The run's report as one JSON object on standard output (the window: one JSON line per
    /// screen shown and per change of the Offline banner).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    data: DataDirArg,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
enum RunBackend {
    /// On the OpenXR runtime (a headset, or Monado).
    #[default]
    Openxr,
    /// In a desktop window (X11).
    Window,
    /// Offscreen, with a fixed clock and the scripted head pose (tests, machines with neither).
    Headless,
    /// Step cards as text in the terminal, one typed action per line (`next`, `answer 2`,
    /// `enter 25.4`, `photo FILE`, `menu`, `q`).
    Text,
    /// OpenXR when a runtime answers, else a window when a display exists, else headless.
    Auto,
}

impl RunBackend {
    fn name(self) -> &'static str {
        match self {
            Self::Openxr => "openxr",
            Self::Window => "window",
            Self::Headless => "headless",
            Self::Text => "text",
            Self::Auto => "auto",
        }
    }
}

impl RunArgs {
    /// `demo --backend openxr`: the demo guide with the demo's own options.
    pub fn demo(step: Option<NonZeroU32>, offline: bool, json: bool) -> Self {
        Self {
            step,
            offline,
            json,
            dwell_ms: 1500,
            ..Self::default()
        }
    }

    /// The options given that `backend` does not understand.
    fn foreign_options(&self, backend: RunBackend) -> Vec<&'static str> {
        let given = match backend {
            RunBackend::Openxr => vec![(self.size.is_some(), "--size")],
            RunBackend::Window | RunBackend::Headless => vec![
                (self.seconds.is_some(), "--seconds"),
                (self.eye_size.is_some(), "--eye-size"),
            ],
            RunBackend::Text => vec![
                (self.size.is_some(), "--size"),
                (self.seconds.is_some(), "--seconds"),
                (self.eye_size.is_some(), "--eye-size"),
                (self.frames.is_some(), "--frames"),
                (self.input_script.is_some(), "--input-script"),
                (self.capture_frame.is_some(), "--capture-frame"),
            ],
            RunBackend::Auto => Vec::new(),
        };
        given
            .into_iter()
            .filter_map(|(given, name)| given.then_some(name))
            .collect()
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let chosen = match run_service::choose(args.guide.as_deref()) {
        Ok(chosen) => chosen,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(ExitCode::from(super::EXIT_INVALID));
        }
    };
    let foreign = args.foreign_options(args.backend);
    if !foreign.is_empty() {
        anyhow::bail!(
            "{} do(es) not apply to --backend {}",
            foreign.join(", "),
            args.backend.name()
        );
    }
    if args.backend == RunBackend::Headless && args.frames.is_none() {
        anyhow::bail!("--backend headless needs --frames N: nobody is there to close it");
    }
    if let Some(out) = &args.out
        && args.backend != RunBackend::Openxr
        && !out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        anyhow::bail!("--capture-frame writes a PNG: give --out a file name ending in .png");
    }
    let script = match &args.input_script {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the input script {}", path.display()))?;
            script::parse(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Vec::new(),
    };
    match args.backend {
        RunBackend::Openxr => run_on_openxr(&args, chosen, script),
        RunBackend::Window => run_window(&args, chosen, script, None),
        RunBackend::Headless => run_headless(&args, chosen, script),
        RunBackend::Text => {
            let (driver, opened) = driver(
                &args,
                open_chosen(&args, chosen)?,
                Vec::new(),
                false,
                DriverCamera::default(),
            );
            print_opened(opened.as_ref(), driver.content(), args.json)?;
            super::run_text::run(driver, args.json)
        }
        RunBackend::Auto => run_auto(&args, chosen, script),
    }
}

/// `--backend auto`: the same choice and the same one line as `demo --backend auto`.
fn run_auto(
    args: &RunArgs,
    chosen: Chosen,
    script: Vec<ScriptedCommand>,
) -> anyhow::Result<ExitCode> {
    let openxr = match openxr_verdict(&[]) {
        OpenXrVerdict::Usable(line) => {
            eprintln!("{line}");
            return run_on_openxr(args, chosen, script);
        }
        OpenXrVerdict::Unusable(why) => why,
    };
    let frames = args
        .frames
        .map_or(String::new(), |n| format!(" for {n} frames"));
    let display = match super::demo_window::display_missing() {
        Some(why) => format!("no display: {why}"),
        None => {
            let announce = format!("backend: window ({openxr})");
            match run_window(args, chosen.clone(), script.clone(), Some(announce)) {
                Err(e)
                    if e.downcast_ref::<hologuide::xr::window::WindowError>()
                        .is_some_and(|e| e.nothing_shown()) =>
                {
                    format!("the window did not open: {e}")
                }
                result => return result,
            }
        }
    };
    eprintln!("backend: headless ({openxr}; {display}){frames}");
    if args.frames.is_none() {
        anyhow::bail!("headless needs --frames N: nobody is there to close it");
    }
    run_headless(args, chosen, script)
}

/// What to show, opened for the process that shows it: the demo, a package (checked), or a
/// guide of the service (downloaded online, from this device's cache offline).
struct Shown {
    content: Content,
    surroundings: Box<dyn Surroundings>,
    start_step: Option<NonZeroU32>,
    /// How a guide of the service was opened, for `--json`.
    opened: Option<hologuide::client::Opened>,
}

fn open_chosen(args: &RunArgs, chosen: Chosen) -> anyhow::Result<Shown> {
    let standalone = |package, source| Shown {
        content: Content::from_package(Arc::new(package), source),
        surroundings: Box::new(Standalone),
        start_step: args.step,
        opened: None,
    };
    Ok(match chosen {
        Chosen::Demo => standalone(
            hologuide::demo::load().context("opening the demo guide")?,
            GuideSource::Demo,
        ),
        Chosen::Package(path) => standalone(load_package(&path)?, GuideSource::Local),
        Chosen::Service(target) => {
            let opening = run_service::open(&target, &args.data, args.step, args.json)?;
            Shown {
                content: opening.content,
                surroundings: opening.surroundings,
                start_step: opening.start_step,
                opened: Some(opening.opened),
            }
        }
    })
}

/// The app for what was chosen: every backend drives the same one. `dwell`: head-gaze dwell
/// presses buttons (not in the window, where the mouse points).
fn driver(
    args: &RunArgs,
    shown: Shown,
    script: Vec<ScriptedCommand>,
    dwell: bool,
    camera: DriverCamera,
) -> (Driver, Option<hologuide::client::Opened>) {
    let settings = DriverSettings {
        start_step: shown.start_step,
        offline: args.offline,
        dwell_s: dwell.then(|| Duration::from_millis(args.dwell_ms).as_secs_f32()),
        script,
        camera: camera.looking,
        head_feed: camera.follows,
    };
    (
        Driver::new(shown.content, shown.surroundings, settings),
        shown.opened,
    )
}

fn load_package(path: &std::path::Path) -> anyhow::Result<GuidePackage> {
    let package =
        GuidePackage::load(path).with_context(|| format!("opening {}", path.display()))?;
    for warning in &package.warnings {
        tracing::warn!(%warning, "guide");
    }
    Ok(package)
}

/// The first `--json` line of a guide of the service: how it was opened.
fn print_opened(
    opened: Option<&hologuide::client::Opened>,
    content: &Content,
    json: bool,
) -> anyhow::Result<()> {
    if json && let Some(opened) = opened {
        // The demo guide opened by id without an account stays the demo (F8).
        let source = hologuide::app::driver::source_name(content.source);
        let line = serde_json::json!({ "opened": opened, "source": source });
        super::out(&format!("{line}\n"))?;
    }
    Ok(())
}

/// `run --backend window`: the same guide choice as on OpenXR, in a desktop window.
fn run_window(
    args: &RunArgs,
    chosen: Chosen,
    script: Vec<ScriptedCommand>,
    announce: Option<String>,
) -> anyhow::Result<ExitCode> {
    use hologuide::xr::window::{self, FrameClock, WindowOptions};
    args.camera
        .no_poses_here("in the window WASD and the mouse move the head")?;
    let (camera, sees) = args.camera.start_real_time()?;
    let (driver, opened) = driver(args, open_chosen(args, chosen)?, script, false, sees);
    print_opened(opened.as_ref(), driver.content(), args.json)?;
    let options = WindowOptions {
        size: args.size.unwrap_or((1280, 800)),
        clock: FrameClock::Real,
        exit_after_frames: args.frames,
        capture: args.capture_frame.zip(args.out.clone()),
        shots: None,
        camera: camera.map(Arc::new),
    };
    let mut printer = super::demo_window::Printer {
        json: args.json,
        announce,
    };
    window::run(driver, options, &mut printer)?;
    Ok(ExitCode::SUCCESS)
}

/// `run --backend headless`: the app's frame loop offscreen, the report as on OpenXR.
fn run_headless(
    args: &RunArgs,
    chosen: Chosen,
    script: Vec<ScriptedCommand>,
) -> anyhow::Result<ExitCode> {
    use hologuide::xr::headless::{self, HeadlessCamera, HeadlessOptions};
    let head_path = args.camera.head_path()?;
    let camera = args.camera.open()?;
    let sees = DriverCamera {
        looking: camera.is_some(),
        follows: camera.as_ref().and_then(|c| c.follows.clone()),
    };
    let (driver, opened) = driver(args, open_chosen(args, chosen)?, script, true, sees);
    print_opened(opened.as_ref(), driver.content(), args.json)?;
    let options = HeadlessOptions {
        size: args.size.unwrap_or((1280, 800)),
        frames: args.frames.unwrap_or(1),
        capture: args.capture_frame.zip(args.out.clone()),
        camera: camera.map(|c| HeadlessCamera::lockstep(c.source, c.period, c.follows)),
        head_path,
    };
    let report = headless::run(driver, options).context("running headless")?;
    if args.json {
        super::out(&format!("{}\n", serde_json::to_value(&report)?))?;
    } else {
        eprintln!(
            "headless: {} frames; {}",
            report.frames, report.final_screen
        );
    }
    if let Some(path) = &args.out
        && args.capture_frame.is_some()
    {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
