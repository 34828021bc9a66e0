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

use hologuide::app::{App, GuideSource, Intent, StepView, View};
use hologuide::demo;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How the guide is shown (`--backend` works too).
    #[arg(long, alias = "backend", value_enum, default_value_t = Frontend::Text)]
    frontend: Frontend,
    /// Folder for the headless backend's PNGs, one per step.
    #[arg(long, value_name = "DIR", default_value = "shots")]
    out: std::path::PathBuf,
    /// Show the app as if the network were lost (the Offline banner).
    #[arg(long)]
    offline: bool,
    /// Headless image size in pixels, WIDTHxHEIGHT.
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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Frontend {
    /// Step cards as text in the terminal.
    Text,
    /// Rendered offscreen with wgpu (lavapipe without a GPU): one PNG per step in --out.
    Headless,
    /// On an OpenXR runtime (a headset, or Monado): the same as `hologuide run`.
    Openxr,
    /// A window when a display exists, else headless. The window backend is not built yet, so
    /// this renders headless and says so.
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
    let package = demo::load().context("opening the demo guide")?;
    for warning in &package.warnings {
        tracing::warn!(%warning, "demo guide");
    }
    match args.frontend {
        Frontend::Headless => {
            super::demo_render::run_headless(&package, &args.out, args.offline, args.size)
        }
        Frontend::Openxr => super::run_xr::run(super::run_xr::RunArgs::demo(
            args.step,
            args.offline,
            args.json,
        )),
        Frontend::Auto => {
            let display = ["DISPLAY", "WAYLAND_DISPLAY"]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
            if display {
                eprintln!(
                    "a display is available, but this build has no window backend yet: rendering headless"
                );
            } else {
                eprintln!("no display: rendering headless");
            }
            let code =
                super::demo_render::run_headless(&package, &args.out, args.offline, args.size)?;
            eprintln!("the demo's steps are in {}", args.out.display());
            Ok(code)
        }
        Frontend::Text => {
            let mut app = App::open(Arc::new(package.guide), GuideSource::Demo, args.step);
            let interactive =
                args.wait || (!args.no_wait && !args.json && std::io::stdin().is_terminal());
            run_text(&mut app, interactive, args.json)
        }
    }
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
            write!(
                out,
                "[Enter] next · b back · r restart · <number> go to step · q quit > "
            )?;
            out.flush()?;
            let mut line = String::new();
            if input.read_line(&mut line)? == 0 {
                break;
            }
            match parse_key(line.trim()) {
                Key::Intent(intent) => intent,
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
    Quit,
    Unknown,
}

fn parse_key(line: &str) -> Key {
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

fn render_text(view: &View<'_>) -> String {
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
    for hologram in step.holograms {
        text.push_str(&format!("  ◆ hologram {}", hologram.asset));
        if let Some(animation) = &hologram.animation {
            text.push_str(&format!(" ({animation})"));
        }
        text.push('\n');
    }
    let back = if step.can_go_back { "[Back]" } else { "      " };
    let next = if step.is_last { "[Finish]" } else { "[Next]" };
    text.push_str(&format!("\n{back}  {next}\n"));
    text
}

fn view_json(view: &View<'_>) -> serde_json::Value {
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
            "notice": step.notice,
            "demo": step.demo,
        }),
        View::Complete {
            guide_title,
            step_count,
        } => json!({ "screen": "complete", "guide": guide_title, "step_count": step_count }),
    }
}
