//! `hologuide bench render`.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct RenderBenchArgs {}

pub fn run(_args: RenderBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
