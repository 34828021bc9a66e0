//! `hologuide-server user …` and `hologuide-server guide …`.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use hologuide::service::model::{GuideSummary, Principal, Role, Scope};
use hologuide::service::{Membership, PackageOrigin};
use uuid::Uuid;

use super::{DataArg, open, print};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add {
        username: String,
        /// admin, author or operator.
        #[arg(long, default_value = "operator")]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The password (visible to other users of this machine in the process list: prefer
        /// --password-stdin).
        #[arg(long)]
        password: Option<String>,
        /// A group the user belongs to (repeatable); permissions can be granted to groups.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// The organisation the user works in (N4); may be left out while the service has
        /// only one.
        #[arg(long, value_name = "ORG")]
        organisation: Option<String>,
        /// A server-wide admin, whose admin work spans every organisation (admins only; never
        /// the default).
        #[arg(long)]
        all_organisations: bool,
        #[command(flatten)]
        data: DataArg,
    },
    /// Add a user to a group.
    Group {
        username: String,
        group: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// List users.
    List(DataArg),
}

#[derive(Debug, Args)]
pub struct Who {
    /// A user.
    #[arg(long, conflicts_with = "group", required_unless_present = "group")]
    user: Option<String>,
    /// A group.
    #[arg(long)]
    group: Option<String>,
}

impl Who {
    fn principal(self) -> Principal {
        match (self.user, self.group) {
            (Some(user), _) => Principal::User(user),
            (None, Some(group)) => Principal::Group(group),
            // clap requires one of them.
            (None, None) => Principal::Group(String::new()),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum GuideCommand {
    /// Publish a guide package (a folder or a .zip) as a new version.
    Publish {
        package: PathBuf,
        /// The author or admin publishing it.
        #[arg(long = "as", value_name = "USER")]
        publisher: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// List every guide, deactivated ones included.
    List(DataArg),
    /// Let a user or a group view a guide.
    Grant {
        guide: Uuid,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        data: DataArg,
    },
    /// Take a permission away (F14).
    Revoke {
        guide: Uuid,
        #[command(flatten)]
        who: Who,
        #[command(flatten)]
        data: DataArg,
    },
    /// Deactivate a guide: it can no longer be opened or updated online (F13).
    Deactivate {
        guide: Uuid,
        #[command(flatten)]
        data: DataArg,
    },
    /// Reactivate a deactivated guide.
    Reactivate {
        guide: Uuid,
        #[command(flatten)]
        data: DataArg,
    },
    /// Set how long devices may open this guide offline after fetching it (N1), overriding
    /// `serve --offline-lease`; `default` goes back to the service's setting.
    Lease {
        guide: Uuid,
        /// Seconds (60 to 10 years), or `default`.
        #[arg(value_name = "SECONDS|default")]
        lease: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// The signed link a QR sticker of the guide carries (N2), and with --out the printable
    /// sticker (PNG and SVG, its label under the code).
    Link(super::links::LinkArgs),
    /// Replace a guide's tags (profiles can select guides by tag).
    Tag {
        guide: Uuid,
        tags: Vec<String>,
        #[command(flatten)]
        data: DataArg,
    },
}

fn read_password(password_stdin: bool, password: Option<String>) -> anyhow::Result<String> {
    if let Some(password) = password {
        return Ok(password);
    }
    if !password_stdin {
        bail!("give the password with --password-stdin (or --password)");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn user(command: UserCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Add {
            username,
            role,
            password_stdin,
            password,
            groups,
            organisation,
            all_organisations,
            data,
        } => {
            let password = read_password(password_stdin, password)?;
            let service = open(&data)?;
            let membership = Membership {
                organisation: match organisation {
                    Some(organisation) => organisation,
                    None => service.default_organisation()?,
                },
                all_organisations,
            };
            let user = service
                .add_user(&username, &password, role, &membership, &groups)
                .with_context(|| format!("adding the user '{username}'"))?;
            print(json, &user, || {
                format!(
                    "added {} '{}' of '{}'{} ({})",
                    user.role,
                    user.username,
                    user.organisation,
                    if user.all_organisations {
                        ", spanning all organisations"
                    } else {
                        ""
                    },
                    user.id
                )
            })
        }
        UserCommand::Group {
            username,
            group,
            data,
        } => {
            let user = open(&data)?.add_to_group(&username, &group)?;
            print(json, &user, || {
                format!(
                    "'{}' is in the groups: {}",
                    user.username,
                    user.groups.join(", ")
                )
            })
        }
        UserCommand::List(data) => {
            let users = open(&data)?.users(&Scope::Everywhere)?;
            print(json, &users, || {
                users
                    .iter()
                    .map(|u| {
                        format!(
                            "{:<24} {:<8} {:<20} {}",
                            u.username,
                            u.role,
                            u.organisation,
                            u.groups.join(",")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

fn guide_line(guide: &GuideSummary) -> String {
    format!(
        "{}  {:<20} v{:<3} {:<11} {}",
        guide.id,
        guide.organisation,
        guide.latest_version,
        if guide.active {
            "active"
        } else {
            "deactivated"
        },
        guide.title
    )
}

pub fn guide(command: GuideCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        GuideCommand::Publish {
            package,
            publisher,
            data,
        } => {
            let service = open(&data)?;
            let user = service.user(&publisher)?;
            let manifest = service
                .publish(&package, PackageOrigin::Local, &user)
                .with_context(|| format!("publishing {}", package.display()))?;
            print(json, &manifest, || {
                format!(
                    "published {} version {} ({} assets, {} bytes, content {})",
                    manifest.guide_id,
                    manifest.version,
                    manifest.assets.len(),
                    manifest.total_bytes,
                    manifest.content_hash
                )
            })
        }
        GuideCommand::List(data) => {
            let guides = open(&data)?.all_guides(&Scope::Everywhere)?;
            print(json, &guides, || {
                guides.iter().map(guide_line).collect::<Vec<_>>().join("\n")
            })
        }
        GuideCommand::Grant { guide, who, data } => {
            let grants = open(&data)?.grant(&Scope::Everywhere, guide, &who.principal())?;
            print(json, &grants, || grants_text(guide, &grants))
        }
        GuideCommand::Revoke { guide, who, data } => {
            let grants = open(&data)?.revoke(&Scope::Everywhere, guide, &who.principal())?;
            print(json, &grants, || grants_text(guide, &grants))
        }
        GuideCommand::Deactivate { guide, data } => {
            let summary = open(&data)?.set_active(&Scope::Everywhere, guide, false)?;
            print(json, &summary, || guide_line(&summary))
        }
        GuideCommand::Reactivate { guide, data } => {
            let summary = open(&data)?.set_active(&Scope::Everywhere, guide, true)?;
            print(json, &summary, || guide_line(&summary))
        }
        GuideCommand::Lease { guide, lease, data } => {
            let lease = match lease.trim() {
                "default" => None,
                text => Some(time::Duration::seconds(text.parse().with_context(
                    || format!("'{text}' is neither a number of seconds nor 'default'"),
                )?)),
            };
            let effective = open(&data)?.set_offline_lease(&Scope::Everywhere, guide, lease)?;
            let seconds = effective.whole_seconds();
            print(
                json,
                &serde_json::json!({ "guide": guide, "offline_lease_seconds": seconds }),
                || format!("{guide}: opens offline for {seconds} s after each fetch"),
            )
        }
        GuideCommand::Link(args) => super::links::link(args, json),
        GuideCommand::Tag { guide, tags, data } => {
            let summary = open(&data)?.set_tags(&Scope::Everywhere, guide, &tags)?;
            print(json, &summary, || {
                format!("{}  tags: {}", summary.id, summary.tags.join(", "))
            })
        }
    }
}

fn grants_text(guide: Uuid, grants: &[Principal]) -> String {
    if grants.is_empty() {
        return format!("{guide}: no user or group may view it (admins and authors still may)");
    }
    let who: Vec<String> = grants.iter().map(ToString::to_string).collect();
    format!("{guide}: viewable by {}", who.join(", "))
}
