//! `hologuide demo --backend headless --out DIR`: one PNG per step of the demo guide.

use std::num::NonZeroU32;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use hologuide::guide::GuidePackage;
use hologuide::xr::headless::shots::{Situation, step_shot};
use hologuide::xr::headless::{Headless, HeadlessConfig};

pub fn run_headless(
    package: &GuidePackage,
    out: &Path,
    offline: bool,
    size: (u32, u32),
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut headless = Headless::new(HeadlessConfig::screenshot(size.0, size.1))
        .context("starting the headless renderer")?;
    eprintln!("rendering on {}", headless.gpu.describe());
    let situation = Situation {
        online: !offline,
        ..Situation::default()
    };
    let count = package.guide.step_count();
    for n in 1..=count {
        let step = NonZeroU32::new(n as u32).context("step number")?;
        let image = step_shot(&mut headless, package, step, &situation)
            .with_context(|| format!("rendering step {n}"))?;
        let path = out.join(format!("step-{n:02}.png"));
        image
            .save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    let errors = headless.gpu.uncaptured_errors();
    if !errors.is_empty() {
        anyhow::bail!(
            "the GPU reported {} error(s): {}",
            errors.len(),
            errors.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
