//! Signed guide links (N2) on the admin command line: a guide's sticker (`guide link`), and
//! each organisation's link keys and whether it requires signed stickers (`links …`).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use uuid::Uuid;

use hologuide::service::sticker::sticker;

use super::{DataArg, SecretKeyArg, open, open_unlocked, print};

#[derive(Debug, Args)]
pub struct LinkArgs {
    guide: Uuid,
    /// The step the sticker opens (as numbered on the card, from 1).
    #[arg(long, value_name = "N")]
    step: Option<NonZeroU32>,
    /// The guide's anchor this sticker is: its holograms stand on it.
    #[arg(long, value_name = "ID")]
    anchor: Option<String>,
    /// Write the sticker here as PNG and SVG, with its label under the code.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The text under the code (default: the guide's title, the step and the anchor's label).
    #[arg(long, value_name = "TEXT")]
    label: Option<String>,
    #[command(flatten)]
    data: DataArg,
    #[command(flatten)]
    secret: SecretKeyArg,
}

/// `guide link`: the signed link, and the sticker files.
pub fn link(args: LinkArgs, json: bool) -> anyhow::Result<ExitCode> {
    let service = open_unlocked(&args.data, &args.secret)?;
    let (link, title_label) =
        service.signed_guide_link(args.guide, args.step, args.anchor.as_deref())?;
    let label = args.label.unwrap_or(title_label);
    let text = link.to_string();
    let mut written = Vec::new();
    if let Some(dir) = &args.out {
        let files = sticker(&text, &label).context("making the sticker")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut name = args.guide.to_string();
        if let Some(step) = args.step {
            name.push_str(&format!("-s{step}"));
        }
        if let Some(anchor) = &args.anchor {
            name.push_str(&format!("-{anchor}"));
        }
        for (extension, bytes) in [("png", files.png.as_slice()), ("svg", files.svg.as_bytes())] {
            let path = dir.join(format!("{name}.{extension}"));
            write(&path, bytes)?;
            written.push(path.display().to_string());
        }
    }
    print(
        json,
        &serde_json::json!({ "link": text, "label": label, "files": written }),
        || {
            let mut lines = vec![text.clone()];
            lines.extend(written.iter().map(|w| format!("wrote {w}")));
            lines.join("\n")
        },
    )
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

#[derive(Debug, Subcommand)]
pub enum LinksCommand {
    /// An organisation's link keys, newest first; the signing one is marked.
    Keys {
        #[arg(long = "org", value_name = "ORGANISATION")]
        organisation: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Make a new signing key; stickers signed before stay valid until their key is retired.
    Rotate {
        #[arg(long = "org", value_name = "ORGANISATION")]
        organisation: String,
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        secret: SecretKeyArg,
    },
    /// Retire a key: devices refuse its stickers from their next sign-in or refresh.
    Retire {
        key: String,
        #[arg(long = "org", value_name = "ORGANISATION")]
        organisation: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Whether the organisation's devices accept unsigned stickers.
    Require {
        #[arg(value_enum)]
        signatures: Requirement,
        #[arg(long = "org", value_name = "ORGANISATION")]
        organisation: String,
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Requirement {
    /// Only signed stickers act on this organisation's devices.
    Signed,
    /// Unsigned stickers act too (the default).
    Any,
}

pub fn run(command: LinksCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        LinksCommand::Keys { organisation, data } => {
            let keys = open(&data)?.link_keys(&organisation)?;
            print(json, &keys, || {
                if keys.is_empty() {
                    return format!(
                        "{organisation} has no link key yet (the first signed link makes one)"
                    );
                }
                keys.iter()
                    .map(|k| {
                        let state = match (k.signing, k.retired_at) {
                            (true, _) => "signing".to_owned(),
                            (false, Some(at)) => format!("retired {at}"),
                            (false, None) => "valid".to_owned(),
                        };
                        format!("{}  created {}  {state}", k.key_id, k.created_at)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        LinksCommand::Rotate {
            organisation,
            data,
            secret,
        } => {
            let key = open_unlocked(&data, &secret)?.rotate_link_key(&organisation)?;
            print(json, &serde_json::json!({ "signing_key": key }), || {
                format!("{organisation} now signs with {key}")
            })
        }
        LinksCommand::Retire {
            key,
            organisation,
            data,
        } => {
            open(&data)?.retire_link_key(&organisation, &key)?;
            print(json, &serde_json::json!({ "retired": key }), || {
                format!(
                    "{key} retired: {organisation}'s devices refuse its stickers from their next sign-in or refresh"
                )
            })
        }
        LinksCommand::Require {
            signatures,
            organisation,
            data,
        } => {
            let required = signatures == Requirement::Signed;
            open(&data)?.set_signed_links_required(&organisation, required)?;
            print(
                json,
                &serde_json::json!({ "organisation": organisation, "signatures_required": required }),
                || {
                    if required {
                        format!("{organisation}'s devices accept only signed stickers")
                    } else {
                        format!("{organisation}'s devices accept unsigned stickers too")
                    }
                },
            )
        }
    }
}
