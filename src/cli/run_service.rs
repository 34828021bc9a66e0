//! `hologuide run <guide id | link>` (OpenXR, or `--backend window`): a guide of the signed-in
//! account, opened through the offline-first client exactly as `hologuide open` opens it (F1,
//! F7, F12: the latest version online, this device's copy offline, the shell's refusal texts
//! otherwise), then shown with the live Offline banner (F2) and its telemetry in the device's
//! outbox (F9).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use anyhow::Context;

use hologuide::app::GuideSource;
use hologuide::app::shell::Origin;
use hologuide::client::{Opened, Target};
use hologuide::sync::{BackgroundSync, WithBackgroundSync};
use hologuide::xr::{Content, Surroundings};

use super::data_dir::DataDirArg;

/// What `run` was asked to show.
#[derive(Clone)]
pub enum Chosen {
    Demo,
    /// A package folder or archive by path (it exists).
    Package(PathBuf),
    /// A guide of the service: an id or a link.
    Service(Target),
}

/// A path that exists is a package; anything else must be a guide id or a guide link. The
/// error is for the user as it is (the input was refused: exit code 2).
pub fn choose(guide: Option<&str>) -> Result<Chosen, String> {
    let Some(text) = guide else {
        return Ok(Chosen::Demo);
    };
    if Path::new(text).exists() {
        return Ok(Chosen::Package(PathBuf::from(text)));
    }
    Target::parse(text).map(Chosen::Service).map_err(|e| {
        format!(
            "'{text}' is no guide package (no such file or folder), guide id or guide link: {e}"
        )
    })
}

/// A guide of the service, open and ready to show.
pub struct Opening {
    pub content: Content,
    pub surroundings: Box<dyn Surroundings>,
    pub opened: Opened,
    /// `--step` if given, else the link's step (F7).
    pub start_step: Option<NonZeroU32>,
}

/// Opens `target` with the device of `data` (progress on standard error unless `quiet`) and
/// starts its connectivity monitor and telemetry worker. The demo guide, opened by id without
/// an account, stays standalone: no banner unless asked for (F8).
pub fn open(
    target: &Target,
    data: &DataDirArg,
    step: Option<NonZeroU32>,
    quiet: bool,
) -> anyhow::Result<Opening> {
    let mut device = super::client::device_in(data, None)?;
    let started = device.start()?;
    tracing::info!(?started, "device started");
    let bar = super::client::progress_bar(quiet);
    let progress = |p: hologuide::net::download::Progress| {
        bar.set_length(p.total);
        bar.set_position(p.done);
    };
    let opened = device.open(target, &progress);
    bar.finish_and_clear();
    let opened = super::client::refused_as_started(opened, &started)?;
    let start_step = step.or(opened.step);
    if !quiet {
        eprintln!("{}", opened_line(&opened));
    }
    // S5: a signed-in device keeps its offline profile in sync while the guide is shown.
    let sync = if opened.source() == GuideSource::Service && device.store().is_some() {
        Some(BackgroundSync::start(&device).context("starting the background sync")?)
    } else {
        None
    };
    let (content, surroundings) = hologuide::client::shown_in_app(device, &opened, start_step)
        .with_context(|| format!("reading the files of '{}'", opened.title))?;
    let surroundings: Box<dyn Surroundings> = match sync {
        Some(sync) => Box::new(WithBackgroundSync::new(surroundings, sync)),
        None => surroundings,
    };
    Ok(Opening {
        content,
        surroundings,
        opened,
        start_step,
    })
}

fn opened_line(opened: &Opened) -> String {
    let from = match opened.origin {
        Origin::Network => format!(
            "from the guide service (latest version, {} bytes downloaded)",
            opened.downloaded_bytes
        ),
        Origin::Cache => "from this device's cache".to_owned(),
        Origin::Demo => "the bundled demo (no network or account needed)".to_owned(),
    };
    format!(
        "{} — version {}: opened {from}{}",
        opened.title,
        opened.version,
        if opened.offline_banner {
            "; the guide service cannot be reached (Offline banner)"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_exists_is_a_package_and_anything_else_a_guide_of_the_service() {
        let dir = std::env::temp_dir();
        let path = dir.to_str().expect("a UTF-8 temp dir");
        assert!(matches!(choose(Some(path)), Ok(Chosen::Package(p)) if p == dir));
        assert!(matches!(choose(None), Ok(Chosen::Demo)));
        let id = "5d3c9a7e-2f41-4b8e-9c6a-0e7f1a2b3c4d";
        assert!(matches!(
            choose(Some(id)),
            Ok(Chosen::Service(Target::Guide(_)))
        ));
        let link = format!("hologuide://acme/g/{id}/s/3");
        match choose(Some(&link)) {
            Ok(Chosen::Service(Target::Link(link))) => {
                assert_eq!(link.step.map(NonZeroU32::get), Some(3));
            }
            _ => panic!("{link} is a guide link"),
        }
    }

    #[test]
    fn a_missing_path_that_is_no_id_or_link_is_refused_with_what_was_tried() {
        let Err(error) = choose(Some("guides/pump-v2")) else {
            panic!("a missing folder is not a guide");
        };
        let text = error;
        assert!(
            text.contains("'guides/pump-v2' is no guide package"),
            "{text}"
        );
        assert!(text.contains("guide id or guide link"), "{text}");
    }
}
