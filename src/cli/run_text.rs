//! `run --backend text`: the app as text in a terminal, over the same driver as the 3D
//! backends — a guide of the service keeps its answers as records and uploads them, the Offline
//! banner follows the network. Each line typed is one action, in the words of an input script
//! without the frame number (`next`, `back`, `answer 2`, `enter 25.4`, `menu`, `open 1`, …),
//! plus `photo PATH`: a picture file as the answer of a step that asks for a photo. An empty
//! line is Next; `q` quits.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use hologuide::app::Intent;
use hologuide::app::View;
use hologuide::app::driver::{Driver, Input};
use hologuide::app::report::{Cause, Observation};
use hologuide::app::script::{self, Command};
use hologuide::scene::Pose;

/// How long the device's worker gets after each line to answer it (an answer kept, the All
/// list, a guide opened): the next card shows what came.
const SETTLE: Duration = Duration::from_millis(150);

pub fn run(mut driver: Driver, json: bool) -> anyhow::Result<ExitCode> {
    let interactive = std::io::stdin().is_terminal() && !json;
    settle(&mut driver, Duration::ZERO);
    show(&mut driver, json)?;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            let mut out = std::io::stdout().lock();
            write!(
                out,
                "[Enter] next · back · answer N · enter VALUE · photo FILE · menu · q quit > "
            )?;
            out.flush()?;
        }
        let Some(line) = lines.next() else {
            break;
        };
        let line = line.context("reading standard input")?;
        let line = line.trim();
        match line {
            "q" | "quit" | "exit" => break,
            "" => driver.input(Input::Command(Command::Intent(Intent::Next), Cause::Typed)),
            _ if line.starts_with("photo ") => {
                let path = line["photo ".len()..].trim();
                match std::fs::read(path) {
                    Ok(bytes) => match hologuide::camera::photo::from_picture(&bytes, path) {
                        Ok(photo) => driver.photo_from(photo, Cause::Typed),
                        Err(e) => eprintln!("! {e}"),
                    },
                    Err(e) => eprintln!("! {path}: {e}"),
                }
            }
            _ => match script::parse(&format!("1 {line}")) {
                Ok(commands) => {
                    for command in commands {
                        driver.input(Input::Command(command.command, Cause::Typed));
                    }
                }
                Err(e) => {
                    eprintln!("! {}", e.reason);
                    continue;
                }
            },
        }
        settle(&mut driver, SETTLE);
        show(&mut driver, json)?;
        if driver.exit_asked() {
            break;
        }
    }
    if json {
        super::out(&format!("{}\n", serde_json::to_value(driver.report())?))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Lets the driver take in what the device answered for up to `wait`.
fn settle(driver: &mut Driver, wait: Duration) {
    let started = Instant::now();
    loop {
        driver.frame(Pose::standing(), 1.0 / 60.0);
        if started.elapsed() >= wait {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What happened since the last line (answers, statuses), then the card.
fn show(driver: &mut Driver, json: bool) -> anyhow::Result<()> {
    let mut text = String::new();
    for observation in driver.take_observations() {
        match observation {
            Observation::Status { text: status, .. } if !json => {
                text.push_str(&format!("! {status}\n"));
            }
            Observation::Answered { line, .. } if !json => {
                text.push_str(&format!("answered {line}\n"));
            }
            _ => {}
        }
    }
    let view = driver.view();
    if json {
        text.push_str(&format!("{}\n", super::demo::view_json(&view)));
    } else {
        if !driver.online() {
            text.push_str(&format!("[{}]\n", hologuide::scene::OFFLINE_BANNER_TEXT));
        }
        text.push_str(&super::demo::render_text(&view));
        if matches!(view, View::Complete { .. }) {
            text.push_str("(Back or Restart, or q to quit)\n");
        }
    }
    super::out(&text)?;
    Ok(())
}
