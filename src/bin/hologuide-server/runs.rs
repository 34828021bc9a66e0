//! `hologuide-server runs export`: a guide's runs for audits (N6), as CSV or JSON.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use hologuide::service::model::Scope;
use hologuide::service::{RunExport, runs_csv};
use uuid::Uuid;

use super::{DataArg, open};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Every run of a guide with answers: each step's final answer, what it corrected, who
    /// answered on which device, and when. CSV (one row per answer) or JSON.
    Export {
        #[arg(long, value_name = "GUIDE_ID")]
        guide: Uuid,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Only answers recorded at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME", value_parser = rfc3339)]
        since: Option<time::OffsetDateTime>,
        #[command(flatten)]
        data: DataArg,
    },
}

fn rfc3339(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("'{text}' is no RFC 3339 time (2026-12-07T08:00:00Z)"))
}

pub fn run(command: RunsCommand) -> anyhow::Result<ExitCode> {
    let RunsCommand::Export {
        guide,
        format,
        since,
        data,
    } = command;
    let runs: Vec<RunExport> = open(&data)?.runs_of_guide(&Scope::Everywhere, guide, since)?;
    let text = match format {
        Format::Csv => runs_csv(&runs),
        Format::Json => serde_json::to_string_pretty(&runs).context("writing JSON")? + "\n",
    };
    use std::io::Write;
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing the export")?;
    Ok(ExitCode::SUCCESS)
}
