//! `hologuide demo`: the bundled demo guide through the app state machine.
//!
//! The text front end prints each step card. The renderer and the OpenXR backend are further
//! front ends over the same `app::App`: they feed the same intents and draw the same `View`.

use std::io::{BufRead, IsTerminal, Write};
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::json;

use hologuide::app::{App, GuideSource, Intent, KeyPress, StepView, View};
use hologuide::demo;
use hologuide::guide::GuidePackage;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How the guide is shown (`--backend` works too). Auto: OpenXR when a runtime answers, else
    /// a window when a display exists, else headless PNGs.
    #[arg(long, alias = "backend", value_enum, default_value_t = Frontend::Auto)]
    frontend: Frontend,
    /// Headless: folder for one PNG per step. Window: the PNG file of --capture-frame.
    #[arg(long, value_name = "PATH", default_value = "shots")]
    out: std::path::PathBuf,
    /// Show the app as if the network were lost (the Offline banner).
    #[arg(long)]
    offline: bool,
    /// Headless image size or window size in pixels, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", default_value = "1280x800", value_parser = parse_size)]
    size: (u32, u32),
    /// Step number to start at.
    #[arg(long, value_name = "N")]
    step: Option<NonZeroU32>,
    /// Wait for a key between steps (default when standard input is a terminal).
    #[arg(long, conflicts_with = "no_wait")]
    wait: bool,
    /// Print every step one after the other without waiting.
    #[arg(long)]
    no_wait: bool,
    /// One JSON object per step on standard output, for scripts.
    #[arg(long)]
    json: bool,
    /// Window: write frame N (from 1, as every backend counts) as a PNG to --out.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    capture_frame: Option<u64>,
    /// Window: close after N frames.
    #[arg(long, value_name = "N")]
    exit_after_frames: Option<u64>,
    /// Window: write step-NN.png into DIR once each step has been shown for 0.8 s (the headless
    /// backend's pictures, from the live window).
    #[arg(long, value_name = "DIR")]
    shots: Option<std::path::PathBuf>,
    /// Window: every frame is 1/60 s after the previous one, whatever the real time (animations
    /// and the card's movement repeat exactly; tests).
    #[arg(long)]
    fixed_clock: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Frontend {
    /// Step cards as text in the terminal.
    Text,
    /// Rendered offscreen with wgpu (lavapipe without a GPU): one PNG per step in --out.
    Headless,
    /// A desktop window (X11): mouse look, WASD, click Next/Back, keys N/B/R/O, Esc quits.
    Window,
    /// On an OpenXR runtime (a headset, or Monado): the same as `hologuide run`.
    Openxr,
    /// OpenXR when a runtime answers, else a window when a display exists, else headless.
    Auto,
}

pub(crate) fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once('x')
        .ok_or("expected WIDTHxHEIGHT, e.g. 1280x800")?;
    let parse = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|n| (16..=8192).contains(n))
            .ok_or_else(|| format!("{v:?} is not a size between 16 and 8192"))
    };
    Ok((parse(w)?, parse(h)?))
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let package = Arc::new(demo::load().context("opening the demo guide")?);
    for warning in &package.warnings {
        tracing::warn!(%warning, "demo guide");
    }
    let window_only = window_only_flags(&args);
    if !matches!(args.frontend, Frontend::Window | Frontend::Auto) && !window_only.is_empty() {
        anyhow::bail!(
            "{} only work(s) with --backend window (or auto on a display)",
            window_only.join(", ")
        );
    }
    match args.frontend {
        Frontend::Headless => {
            super::demo_render::run_headless(&package, &args.out, args.offline, args.size)
        }
        Frontend::Window => run_window(&package, &args).map_err(anyhow::Error::from),
        Frontend::Openxr => super::run_xr::run(super::run_xr::RunArgs::demo(
            args.step,
            args.offline,
            args.json,
        )),
        Frontend::Auto => run_auto(&package, &args),
        Frontend::Text => {
            let mut app = App::open(
                Arc::new(package.guide.clone()),
                GuideSource::Demo,
                args.step,
            );
            let interactive =
                args.wait || (!args.no_wait && !args.json && std::io::stdin().is_terminal());
            run_text(&mut app, interactive, args.json)
        }
    }
}

/// `--backend auto`: says in one line which backend it picked and why (as `run` does).
fn run_auto(package: &Arc<GuidePackage>, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let window_only = window_only_flags(args);
    let openxr = match super::run_xr::openxr_verdict(&window_only) {
        super::run_xr::OpenXrVerdict::Usable(line) => {
            eprintln!("{line}");
            return super::run_xr::run(super::run_xr::RunArgs::demo(
                args.step,
                args.offline,
                args.json,
            ));
        }
        super::run_xr::OpenXrVerdict::Unusable(why) => why,
    };
    let display = match super::demo_window::display_missing() {
        Some(why) => format!("no display: {why}"),
        None => {
            let announce = format!("backend: window ({openxr})");
            match run_window_announced(package, args, Some(announce)) {
                Err(e) if e.nothing_shown() => format!("the window did not open: {e}"),
                result => return result.map_err(anyhow::Error::from),
            }
        }
    };
    eprintln!(
        "backend: headless ({openxr}; {display}) — PNGs in {}",
        args.out.display()
    );
    if !window_only.is_empty() {
        anyhow::bail!(
            "{} need(s) a window, and none could open ({openxr}; {display})",
            window_only.join(", ")
        );
    }
    super::demo_render::run_headless(package, &args.out, args.offline, args.size)
}

/// The options given that only the window backend understands.
fn window_only_flags(args: &DemoArgs) -> Vec<&'static str> {
    [
        (args.capture_frame.is_some(), "--capture-frame"),
        (args.exit_after_frames.is_some(), "--exit-after-frames"),
        (args.shots.is_some(), "--shots"),
        (args.fixed_clock, "--fixed-clock"),
    ]
    .into_iter()
    .filter_map(|(given, name)| given.then_some(name))
    .collect()
}

fn run_window(
    package: &Arc<GuidePackage>,
    args: &DemoArgs,
) -> Result<ExitCode, hologuide::xr::window::WindowError> {
    run_window_announced(package, args, None)
}

/// `announce` is printed once the window is open (auto's one line: so a window that fails to
/// open leaves only the headless line).
fn run_window_announced(
    package: &Arc<GuidePackage>,
    args: &DemoArgs,
    announce: Option<String>,
) -> Result<ExitCode, hologuide::xr::window::WindowError> {
    use hologuide::app::driver::{Driver, DriverSettings};
    use hologuide::xr::window::{self, FrameClock, WindowError, WindowOptions};
    use hologuide::xr::{Content, Standalone};
    if args.capture_frame.is_some()
        && !args
            .out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return Err(WindowError::Write {
            path: args.out.clone(),
            reason: "--capture-frame writes a PNG: give --out a file name ending in .png".into(),
        });
    }
    let options = WindowOptions {
        size: args.size,
        clock: if args.fixed_clock {
            FrameClock::Fixed {
                frame_s: 1.0 / 60.0,
            }
        } else {
            FrameClock::Real
        },
        exit_after_frames: args.exit_after_frames,
        capture: args.capture_frame.map(|n| (n, args.out.clone())),
        camera: None,
        shots: args.shots.clone(),
    };
    let mut printer = super::demo_window::Printer {
        json: args.json,
        announce,
    };
    let driver = Driver::new(
        Content::from_package(Arc::clone(package), GuideSource::Demo),
        Box::new(Standalone),
        DriverSettings {
            start_step: args.step,
            offline: args.offline,
            ..DriverSettings::default()
        },
    );
    window::run(driver, options, &mut printer)?;
    Ok(ExitCode::SUCCESS)
}

fn run_text(app: &mut App, interactive: bool, as_json: bool) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    loop {
        let view = app.view();
        if as_json {
            writeln!(out, "{}", view_json(&view))?;
        } else {
            write!(out, "{}", render_text(&view))?;
        }
        let intent = if interactive {
            let records = match &view {
                View::Step(step) if !step.answers.is_empty() => " · a <number> answer",
                View::Step(step) if step.keypad.is_some() => " · = <value> answer",
                _ => "",
            };
            write!(
                out,
                "[Enter] next · b back · r restart · <number> go to step{records} · q quit > "
            )?;
            out.flush()?;
            let mut line = String::new();
            if input.read_line(&mut line)? == 0 {
                break;
            }
            match parse_key(line.trim()) {
                Key::Intent(intent) => intent,
                Key::Answer(index) => {
                    app.answer(index);
                    continue;
                }
                Key::Typed(typed) => {
                    app.clear_typed();
                    for c in typed.chars() {
                        app.key(KeyPress::Char(c));
                    }
                    app.key(KeyPress::Done);
                    continue;
                }
                Key::Quit => break,
                Key::Unknown => continue,
            }
        } else if matches!(view, View::Complete { .. }) {
            break;
        } else {
            Intent::Next
        };
        app.handle(intent);
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

enum Key {
    Intent(Intent),
    /// N6: the step's answer button of this position (from 0).
    Answer(usize),
    /// N6: a value or text for the step's keypad.
    Typed(String),
    Quit,
    Unknown,
}

fn parse_key(line: &str) -> Key {
    if let Some(typed) = line.strip_prefix('=') {
        return Key::Typed(typed.trim().to_owned());
    }
    if let Some(number) = line.strip_prefix("a ") {
        return number
            .trim()
            .parse::<NonZeroU32>()
            .map_or(Key::Unknown, |n| Key::Answer(n.get() as usize - 1));
    }
    match line {
        "" | "n" | "next" => Key::Intent(Intent::Next),
        "b" | "back" => Key::Intent(Intent::Back),
        "r" | "restart" => Key::Intent(Intent::Restart),
        "q" | "quit" | "exit" => Key::Quit,
        number => number
            .parse::<NonZeroU32>()
            .map_or(Key::Unknown, |n| Key::Intent(Intent::GoToStep(n))),
    }
}

pub(super) fn render_text(view: &View<'_>) -> String {
    match view {
        View::Step(step) => render_step(step),
        View::Complete {
            guide_title,
            step_count,
        } => format!("\n✔ {guide_title}: all {step_count} steps done.\n"),
    }
}

fn render_step(step: &StepView<'_>) -> String {
    let rule = "─".repeat(72);
    let mut text = format!("\n{rule}\n{}", step.guide_title);
    if step.demo {
        text.push_str("  [DEMO]");
    }
    text.push_str(&format!(
        "\nTask {} of {} · {}\nStep {} of {} · {}\n\n",
        step.task_number,
        step.task_count,
        step.task_title,
        step.step_number,
        step.step_count,
        step.title
    ));
    if let Some(notice) = step.notice {
        text.push_str(&format!("! {notice}\n\n"));
    }
    for line in super::wrap(step.body, 72) {
        text.push_str(&format!("{line}\n"));
    }
    if let Some(media) = step.media {
        let kind = if media.is_video() {
            "video (not played in text mode)"
        } else {
            "picture"
        };
        text.push_str(&format!("  ▣ {kind} {}", media.path));
        if !media.caption.is_empty() {
            text.push_str(&format!(" — {}", media.caption));
        }
        text.push('\n');
    }
    for hologram in step.holograms {
        text.push_str(&format!("  ◆ hologram {}", hologram.asset));
        if let Some(animation) = &hologram.animation {
            text.push_str(&format!(" ({animation})"));
        }
        text.push('\n');
    }
    if !step.answers.is_empty() {
        let buttons: Vec<String> = step
            .answers
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let given = step.answered.as_ref().and_then(|a| a.button) == Some(i);
                format!("{}[{}] {label}", if given { "▶" } else { "" }, i + 1)
            })
            .collect();
        text.push_str(&format!("\n  {}\n", buttons.join("   ")));
    }
    if let Some(keypad) = &step.keypad {
        text.push_str(&format!("\n  Enter a value: {}\n", keypad.hint));
    }
    if let Some(answered) = &step.answered {
        let mark = if answered.flagged { "⚠" } else { "✔" };
        text.push_str(&format!("  {mark} {}\n", answered.text));
    }
    let back = if step.can_go_back { "[Back]" } else { "      " };
    let next = if step.is_last { "[Finish]" } else { "[Next]" };
    text.push_str(&format!("\n{back}  {next}\n"));
    text
}

pub(super) fn view_json(view: &View<'_>) -> serde_json::Value {
    match view {
        View::Step(step) => json!({
            "screen": "step",
            "guide": step.guide_title,
            "task": step.task_title,
            "task_number": step.task_number,
            "step_number": step.step_number,
            "step_count": step.step_count,
            "title": step.title,
            "body": step.body,
            "holograms": step.holograms.iter().map(|h| &h.asset).collect::<Vec<_>>(),
            "media": step.media,
            "notice": step.notice,
            "demo": step.demo,
            "answers": step.answers,
            "answered": step.answered.as_ref().map(|a| json!({
                "text": a.text, "button": a.button, "out_of_limits": a.flagged,
            })),
            "keypad": step.keypad.as_ref().map(|k| &k.hint),
        }),
        View::Complete {
            guide_title,
            step_count,
        } => json!({ "screen": "complete", "guide": guide_title, "step_count": step_count }),
    }
}
