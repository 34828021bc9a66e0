//! `hologuide-server profile …`: offline profiles (S1–S4).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use hologuide::service::Service;
use hologuide::service::model::{LostAccess, Profile, ProfileSpec, Scope};
use uuid::Uuid;

use super::{DataArg, open, print};

#[derive(Debug, Args)]
pub struct Selection {
    /// New name (update only).
    #[arg(long)]
    rename: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// A guide to keep offline (repeatable; replaces the list).
    #[arg(long = "guide", value_name = "GUIDE_ID")]
    guides: Vec<Uuid>,
    /// Guides with this tag are kept offline (repeatable; replaces the list).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Only guides published within this many days (default for a new profile: 10).
    #[arg(long, value_name = "DAYS", conflicts_with = "no_date_filter")]
    modified_within_days: Option<u32>,
    /// Keep every selected guide, however old.
    #[arg(long)]
    no_date_filter: bool,
}

impl Selection {
    fn spec(self, name: Option<String>) -> ProfileSpec {
        ProfileSpec {
            name: self.rename.or(name),
            description: self.description,
            guide_ids: (!self.guides.is_empty()).then_some(self.guides),
            tags: (!self.tags.is_empty()).then_some(self.tags),
            modified_within_days: if self.no_date_filter {
                Some(None)
            } else {
                self.modified_within_days.map(Some)
            },
        }
    }
}

/// Which organisation's profile a command means, and the data folder.
#[derive(Debug, Args)]
pub struct Place {
    /// The organisation the profile belongs to; may be left out while the service has only one.
    #[arg(long, value_name = "ORG")]
    organisation: Option<String>,
    #[command(flatten)]
    data: DataArg,
}

impl Place {
    /// The service, and the organisation named or else its only one.
    fn open(self) -> anyhow::Result<(Service, String)> {
        let service = open(&self.data)?;
        let organisation = match self.organisation {
            Some(organisation) => organisation,
            None => service.default_organisation()?,
        };
        Ok((service, organisation))
    }
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create a profile.
    Create {
        name: String,
        #[command(flatten)]
        selection: Selection,
        #[command(flatten)]
        place: Place,
    },
    /// Change a profile; options not given keep their value.
    Update {
        name: String,
        #[command(flatten)]
        selection: Selection,
        #[command(flatten)]
        place: Place,
    },
    /// Every organisation's profiles.
    List(DataArg),
    /// One profile: its guides, tags, date filter and members.
    Show {
        name: String,
        #[command(flatten)]
        place: Place,
    },
    /// Delete a profile (its members' devices drop its guides at their next sync).
    Delete {
        name: String,
        #[command(flatten)]
        place: Place,
    },
    /// Make a user a member (a user is in at most one profile, S4).
    AddMember {
        name: String,
        username: String,
        #[command(flatten)]
        place: Place,
    },
    /// Take a user out of the profile.
    RemoveMember {
        name: String,
        username: String,
        #[command(flatten)]
        place: Place,
    },
    /// What members' devices do with a cached guide they may no longer open (permission
    /// taken away, guide deactivated), from their next sync (S6): keep-offline (the copy stays
    /// usable offline until cleared, never updated) or lock-on-sync (it stops opening, with
    /// the reason; the default). Without a policy, prints the organisation's.
    LostAccess {
        #[arg(value_enum)]
        policy: Option<LostAccessArg>,
        #[command(flatten)]
        place: Place,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LostAccessArg {
    KeepOffline,
    LockOnSync,
}

fn text(profile: &Profile) -> String {
    format!(
        "{} ({}, revision {}): {}\n  guides: {}\n  tags: {}\n  modified within: {}\n  members: {}",
        profile.name,
        profile.organisation,
        profile.revision,
        profile.description,
        profile
            .guide_ids
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        profile.tags.join(", "),
        profile
            .modified_within_days
            .map_or("any time".to_owned(), |days| format!("{days} days")),
        profile.members.join(", ")
    )
}

pub fn run(command: ProfileCommand, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        ProfileCommand::Create {
            name,
            selection,
            place,
        } => {
            let (service, organisation) = place.open()?;
            let profile = service.create_profile(&organisation, &selection.spec(Some(name)))?;
            print(json, &profile, || text(&profile))
        }
        ProfileCommand::Update {
            name,
            selection,
            place,
        } => {
            let (service, organisation) = place.open()?;
            let profile = service.update_profile(&organisation, &name, &selection.spec(None))?;
            print(json, &profile, || text(&profile))
        }
        ProfileCommand::List(data) => {
            let profiles = open(&data)?.profiles(&Scope::Everywhere)?;
            print(json, &profiles, || {
                profiles.iter().map(text).collect::<Vec<_>>().join("\n")
            })
        }
        ProfileCommand::Show { name, place } => {
            let (service, organisation) = place.open()?;
            let profile = service.profile(&organisation, &name)?;
            print(json, &profile, || text(&profile))
        }
        ProfileCommand::Delete { name, place } => {
            let (service, organisation) = place.open()?;
            service.delete_profile(&organisation, &name)?;
            print(json, &serde_json::json!({ "deleted": name }), || {
                format!("deleted the profile '{name}'")
            })
        }
        ProfileCommand::AddMember {
            name,
            username,
            place,
        } => {
            let (service, organisation) = place.open()?;
            let profile = service.add_profile_member(&organisation, &name, &username)?;
            print(json, &profile, || text(&profile))
        }
        ProfileCommand::RemoveMember {
            name,
            username,
            place,
        } => {
            let (service, organisation) = place.open()?;
            let profile = service.remove_profile_member(&organisation, &name, &username)?;
            print(json, &profile, || text(&profile))
        }
        ProfileCommand::LostAccess { policy, place } => {
            let (service, organisation) = place.open()?;
            if let Some(policy) = policy {
                service.set_lost_access(
                    &organisation,
                    match policy {
                        LostAccessArg::KeepOffline => LostAccess::KeepOffline,
                        LostAccessArg::LockOnSync => LostAccess::LockOnSync,
                    },
                )?;
            }
            let policy = service.lost_access(&organisation)?;
            print(
                json,
                &serde_json::json!({ "organisation": organisation, "lost_access": policy }),
                || match policy {
                    LostAccess::KeepOffline => format!(
                        "{organisation}: a guide a member may no longer open stays usable offline on their devices until cleared, never updated"
                    ),
                    LostAccess::LockOnSync => format!(
                        "{organisation}: a guide a member may no longer open stops opening on their devices at their next sync"
                    ),
                },
            )
        }
    }
}
