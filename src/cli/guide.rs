//! `hologuide guide …`: validate and show guide packages.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;

use hologuide::demo;
use hologuide::guide::{self, Guide, GuideLink, GuidePackage, PackageError, Problem, Report};

use super::{EXIT_INVALID, out};

#[derive(Debug, Subcommand)]
pub enum GuideCommand {
    /// Check guide packages (a folder or a .zip holding guide.json) and list every problem with
    /// its JSON path. Exit code 0: valid; 2: at least one package has errors.
    Validate {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// One JSON object per package on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Print a guide's tasks and steps as text. Takes a package path or a guide link
    /// (hologuide://<org>/g/<id>[/s/<step>]).
    Show {
        #[arg(value_name = "PATH|LINK")]
        target: String,
        /// The guide as guide.json on standard output.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: GuideCommand) -> anyhow::Result<ExitCode> {
    match command {
        GuideCommand::Validate { paths, json } => validate(&paths, json),
        GuideCommand::Show { target, json } => show(&target, json),
    }
}

fn validate(paths: &[PathBuf], as_json: bool) -> anyhow::Result<ExitCode> {
    let mut all_valid = true;
    for path in paths {
        let report =
            guide::validate(path).with_context(|| format!("validating {}", path.display()))?;
        all_valid &= report.guide.is_some();
        if as_json {
            out(&format!("{}\n", report_json(path, &report)))?;
        } else {
            out(&report_text(path, &report))?;
        }
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

fn report_json(path: &Path, report: &Report) -> serde_json::Value {
    json!({
        "path": path,
        "valid": report.guide.is_some(),
        "guide": report.guide.as_ref().map(|g| json!({
            "id": g.id,
            "version": g.version,
            "title": g.title,
            "organisation": g.organisation,
            "tasks": g.tasks.len(),
            "steps": g.step_count(),
            "assets": g.asset_paths().len(),
        })),
        "errors": report.errors().count(),
        "warnings": report.warnings().count(),
        "problems": report.problems,
    })
}

fn report_text(path: &Path, report: &Report) -> String {
    let mut text = String::new();
    let (errors, warnings) = (report.errors().count(), report.warnings().count());
    match &report.guide {
        Some(g) => line!(
            text,
            "{}: OK — \"{}\" version {}, {} tasks, {} steps, {} assets, {warnings} warning(s)",
            path.display(),
            g.title,
            g.version,
            g.tasks.len(),
            g.step_count(),
            g.asset_paths().len(),
        ),
        None => line!(
            text,
            "{}: INVALID — {errors} error(s), {warnings} warning(s)",
            path.display()
        ),
    }
    for problem in &report.problems {
        line!(text, "  {problem}");
    }
    text
}

fn show(target: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let (package, step) = if target.contains("://") {
        let link = match GuideLink::parse(target) {
            Ok(link) => link,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
        };
        if !demo::is_demo_link(&link) {
            bail!(
                "guide {} of '{}' is not available on this device; only the demo guide ({}) is",
                link.guide,
                link.organisation,
                GuideLink::new(demo::ORGANISATION, demo::GUIDE_ID, None)
            );
        }
        (demo::load()?, link.step)
    } else {
        match GuidePackage::load(Path::new(target)) {
            Ok(package) => (package, None),
            Err(e @ PackageError::Invalid { .. }) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
            Err(e) => return Err(e.into()),
        }
    };
    if as_json {
        println!("{}", package.guide.to_json_pretty());
    } else {
        out(&guide_text(&package.guide, step.map(|s| s.get() as usize)))?;
        print_warnings(&package.warnings);
    }
    Ok(ExitCode::SUCCESS)
}

fn guide_text(guide: &Guide, highlighted_step: Option<usize>) -> String {
    let mut text = String::new();
    line!(text, "{}", guide.title);
    line!(
        text,
        "version {} · {} · modified {} · {}",
        guide.version,
        guide.organisation,
        guide.modified_at.date(),
        GuideLink::new(guide.organisation.clone(), guide.id, None)
    );
    if !guide.description.is_empty() {
        line!(text, "\n{}", guide.description);
    }
    let mut current_task = usize::MAX;
    for position in guide.steps() {
        if position.task_index != current_task {
            current_task = position.task_index;
            line!(
                text,
                "\nTask {} of {}: {}",
                position.task_index + 1,
                guide.tasks.len(),
                position.task.title
            );
        }
        let number = position.index + 1;
        let marker = if highlighted_step == Some(number) {
            "▶"
        } else {
            " "
        };
        line!(text, "{marker}{number:>3}. {}", position.step.title);
        for line in super::wrap(&position.step.body, 72) {
            line!(text, "      {line}");
        }
        for hologram in &position.step.holograms {
            let mut line = format!("      ◆ {}", hologram.asset);
            if let Some(anchor) = &hologram.anchor {
                line.push_str(&format!(" at anchor '{anchor}'"));
            }
            if let Some(animation) = &hologram.animation {
                line.push_str(&format!(", plays '{animation}'"));
            }
            line!(text, "{line}");
        }
    }
    text
}

fn print_warnings(warnings: &[Problem]) {
    for warning in warnings {
        eprintln!("{warning}");
    }
}
