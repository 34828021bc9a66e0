//! `hologuide sync`: the member's offline profile onto this device now (S2, S8) — the plan,
//! a question before downloading (unless `--yes`), progress, and what it did.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use hologuide::net::limits::human_bytes;
use hologuide::sync::{Approval, Plan, SyncOptions, SyncSettings, run_cycle};

use super::client::{Common, progress_bar};
use super::out;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    /// Print the plan only: per guide what would be downloaded and how many bytes, and what
    /// would be removed. Nothing changes.
    #[arg(long)]
    dry_run: bool,
    /// Download without asking (scripts; without a terminal, a sync that downloads needs it).
    /// On a metered network, a download above the metered limit is still asked about.
    #[arg(long)]
    yes: bool,
    /// This network is metered (besides the kept setting, `hologuide sync settings`): a
    /// download above the metered limit (1 MiB by default) needs a yes on a terminal.
    #[arg(long)]
    metered: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Show or change how this device syncs its offline profile while the app runs: how often,
    /// and above which size it asks first (S7), on a metered network or not (S8).
    Settings(super::sync_settings::SettingsArgs),
}

pub fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    if let Some(SyncCommand::Settings(settings)) = args.command {
        return super::sync_settings::run(settings);
    }
    let mut device = super::client::device_for(&args.common)?;
    let started = device.start()?;
    let mut settings = match device.store() {
        Some(store) => SyncSettings::load(store)?,
        None => SyncSettings::default(),
    };
    settings.metered |= args.metered;
    let bar = progress_bar(args.common.json);
    let progress = |title: &str, p: hologuide::net::download::Progress| {
        bar.set_message(title.to_owned());
        bar.set_length(p.total);
        bar.set_position(p.done);
    };
    let (yes, json) = (args.yes, args.common.json);
    let mut approve = |plan: &Plan| ask(plan, yes, json, &settings);
    let report = run_cycle(
        &mut device,
        SyncOptions {
            dry_run: args.dry_run,
        },
        &mut approve,
        &progress,
    );
    bar.finish_and_clear();
    let report = match report {
        Err(hologuide::sync::SyncError::Client(e)) => {
            return Err(super::client::refused_as_started::<()>(Err(e), &started)
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the sync stopped")));
        }
        other => other?,
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "started": started, "sync": report }))?
        );
    } else {
        let mut text = plan_text(&report.plan);
        if !args.dry_run {
            for done in &report.stored {
                line!(
                    text,
                    "stored {} (version {}, {} downloaded)",
                    done.title,
                    done.version,
                    human_bytes(done.downloaded_bytes)
                );
            }
            for (id, words) in &report.refused {
                line!(text, "not stored {id}: {words}");
            }
            for lost in &report.access_lost {
                line!(text, "{}", lost.line());
            }
            line!(
                text,
                "{}: {} downloaded, {} removed",
                report.outcome,
                human_bytes(report.downloaded_bytes),
                report.removed.len()
            );
        }
        out(&text)?;
    }
    Ok(if report.outcome.starts_with("stopped") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The plan as people read it.
fn plan_text(plan: &Plan) -> String {
    let mut text = String::new();
    let profile = if plan.profile.is_empty() {
        "none (you are in no offline profile)".to_owned()
    } else {
        format!("{} (revision {})", plan.profile, plan.revision)
    };
    line!(
        text,
        "offline profile {profile}: {} up to date, {} to download ({}), {} to remove",
        plan.up_to_date,
        plan.downloads.len(),
        human_bytes(plan.download_bytes),
        plan.removals.len()
    );
    for d in &plan.downloads {
        let why = match d.why {
            hologuide::sync::plan::Why::New => "new",
            hologuide::sync::plan::Why::Update => "update",
        };
        line!(
            text,
            "  download {} (version {}, {why}): {}",
            d.title,
            d.version,
            human_bytes(d.bytes)
        );
    }
    for r in &plan.removals {
        line!(text, "  remove {} (it left the profile)", r.title);
    }
    for k in &plan.kept {
        line!(
            text,
            "  keep {} (it left the profile; it stays on this device)",
            k.title
        );
    }
    text
}

/// `--yes` goes ahead, unless the download is above the metered limit on a metered network;
/// otherwise, on a terminal the user is asked, and without one the sync is declined with the
/// reason.
fn ask(plan: &Plan, yes: bool, json: bool, settings: &SyncSettings) -> Approval {
    let metered = settings.metered_needs_asking(plan.download_bytes);
    if yes && !metered {
        return Approval::Go;
    }
    let stdin = std::io::stdin();
    if json || !stdin.is_terminal() {
        if metered {
            eprintln!(
                "not downloading {} on a metered network without asking: it is above the metered limit of {} (`hologuide sync settings --metered-ask-above`); run on a terminal to answer",
                human_bytes(plan.download_bytes),
                human_bytes(settings.metered_ask_above_bytes)
            );
        } else {
            eprintln!(
                "not downloading {} without --yes (no one to ask here)",
                human_bytes(plan.download_bytes)
            );
        }
        return Approval::Declined;
    }
    eprint!("{}", plan_text(plan));
    eprint!(
        "Download {} guides, {}? [y/N] ",
        plan.downloads.len(),
        human_bytes(plan.download_bytes)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer).is_err() {
        return Approval::Declined;
    }
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Approval::Go
    } else {
        Approval::Declined
    }
}
