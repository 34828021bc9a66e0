//! `hologuide cache info|verify|clear`: look into, check and clear the offline cache (F14).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use uuid::Uuid;

use hologuide::cache::{self, CacheInfo, DeviceIndex, GuideListEntry, Store, VerifyReport};
use hologuide::client::DataFolder;

use super::data_dir::DataDirArg;
use super::out;

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// The accounts that used this device and, for one of them, the guides kept offline with
    /// their version, download date, lease and size.
    Info {
        /// Whose cache (default: the last account used online).
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        #[command(flatten)]
        data: DataDirArg,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a cache: page authentication codes, database structure, every stored file against
    /// its sha256, every guide version's files. Exits 1 when anything is wrong.
    Verify {
        /// Whose cache (default: the last account used online).
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        #[command(flatten)]
        data: DataDirArg,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove cached data: one user's whole cache (default: the last account used online; works
    /// on a damaged cache too), one guide of it (--guide), or every user's (--all).
    Clear {
        /// Whose cache (default: the last account used online).
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Only this guide (its id).
        #[arg(long, value_name = "GUIDE")]
        guide: Option<Uuid>,
        /// Every user's cache on this device and the account index.
        #[arg(long, conflicts_with_all = ["user", "guide"])]
        all: bool,
        /// With --all: also remove the device secret (its file, or its OS keyring entry), so
        /// the device starts again with a new identity. Without it the secret stays.
        #[arg(long, requires = "all")]
        forget_device: bool,
        #[command(flatten)]
        data: DataDirArg,
        /// Print JSON (for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: CacheCommand) -> anyhow::Result<ExitCode> {
    match command {
        CacheCommand::Info { user, data, json } => info(&data.resolve()?, user, json),
        CacheCommand::Verify { user, data, json } => verify(&data.resolve()?, user, json),
        CacheCommand::Clear {
            user,
            guide,
            all,
            forget_device,
            data,
            json,
        } => clear(
            &data.resolve()?,
            user,
            guide,
            Scope { all, forget_device },
            json,
        ),
    }
}

/// `--user`, else the last account used online, else the only account; `None` when no account
/// has used this device.
fn pick_user(data_dir: &Path, user: Option<String>) -> anyhow::Result<Option<String>> {
    if user.is_some() {
        return Ok(user);
    }
    let index = DeviceIndex::load(data_dir)?;
    if let Some(last) = index.last() {
        return Ok(Some(last.user_id.clone()));
    }
    match index.accounts.as_slice() {
        [] => Ok(None),
        [only] => Ok(Some(only.user_id.clone())),
        several => anyhow::bail!(
            "several accounts used this device ({}); say whose cache with --user",
            several
                .iter()
                .map(|a| a.user_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Opens an existing cache only: looking must not create one.
fn open_existing(data_dir: &Path, user: &str) -> anyhow::Result<Option<Store>> {
    if !cache::database_path(data_dir, user).exists() {
        return Ok(None);
    }
    DataFolder::open(data_dir)?
        .open_store(user)
        .map(Some)
        .with_context(|| format!("opening the offline cache of '{user}'"))
}

fn no_cache_message(data_dir: &Path, user: Option<&str>) -> String {
    match user {
        Some(user) => format!("No offline cache for '{user}' on this device."),
        None => format!(
            "No offline cache on this device (data folder {}).",
            data_dir.display()
        ),
    }
}

fn info(data_dir: &Path, user: Option<String>, as_json: bool) -> anyhow::Result<ExitCode> {
    let user = pick_user(data_dir, user)?;
    let store = match &user {
        Some(user) => open_existing(data_dir, user)?,
        None => None,
    };
    let index = DeviceIndex::load(data_dir)?;
    let details = store.as_ref().map(Store::info).transpose()?;
    if as_json {
        let value = json!({
            "data_dir": data_dir,
            "last_account": index.last_account,
            "accounts": index.accounts.iter().map(|a| json!({
                "user_id": a.user_id,
                "display_name": a.display_name,
                "server_url": a.server_url,
                "db_file": a.db_file,
            })).collect::<Vec<_>>(),
            "user": user,
            "cache": details,
        });
        out(&format!("{value:#}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = String::new();
    line!(text, "data folder: {}", data_dir.display());
    let accounts: Vec<&str> = index.accounts.iter().map(|a| a.user_id.as_str()).collect();
    line!(
        text,
        "accounts on this device: {}{}",
        if accounts.is_empty() {
            "none".to_owned()
        } else {
            accounts.join(", ")
        },
        index
            .last_account
            .as_deref()
            .map(|last| format!(" (last online: {last})"))
            .unwrap_or_default()
    );
    match (user.as_deref(), details) {
        (Some(user), Some(details)) => describe(&mut text, user, &details),
        (user, _) => line!(text, "{}", no_cache_message(data_dir, user)),
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

fn describe(text: &mut String, user: &str, info: &CacheInfo) {
    line!(
        text,
        "cache of '{user}': {} ({})",
        info.path.display(),
        bytes(info.file_bytes)
    );
    line!(
        text,
        "stored files: {} ({}), downloads under way: {} ({}), telemetry waiting: {}, step results waiting: {}",
        info.blobs,
        bytes(info.blob_bytes),
        info.partial_blobs,
        bytes(info.partial_bytes),
        info.pending_telemetry,
        info.pending_results
    );
    if info.guides.is_empty() {
        line!(text, "No guides are available offline.");
        return;
    }
    line!(
        text,
        "{:<36}  {:>7}  {:<20}  {:<20}  {:<19}  {:>9}  title",
        "guide",
        "version",
        "downloaded",
        "lease ends",
        "status",
        "size"
    );
    for guide in &info.guides {
        line!(text, "{}", guide_row(guide));
    }
}

fn guide_row(guide: &GuideListEntry) -> String {
    let date = |t: time::OffsetDateTime| {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    };
    format!(
        "{:<36}  {:>7}  {:<20}  {:<20}  {:<19}  {:>9}  {}",
        guide.guide_id,
        guide.version,
        date(guide.downloaded_at),
        guide
            .lease_expires_at
            .map(date)
            .unwrap_or_else(|| "-".to_owned()),
        guide.status.to_string(),
        bytes(guide.bytes),
        guide.title
    )
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn verify(data_dir: &Path, user: Option<String>, as_json: bool) -> anyhow::Result<ExitCode> {
    let user = pick_user(data_dir, user)?;
    let Some(store) = user
        .as_deref()
        .map(|user| open_existing(data_dir, user))
        .transpose()?
        .flatten()
    else {
        out(&format!(
            "{}\n",
            no_cache_message(data_dir, user.as_deref())
        ))?;
        return Ok(ExitCode::SUCCESS);
    };
    let report = store
        .verify()
        .with_context(|| format!("checking {}", store.path().display()))?;
    if as_json {
        out(&format!(
            "{:#}\n",
            json!({ "sound": report.is_sound(), "report": report })
        ))?;
    } else {
        out(&verify_text(store.path(), &report))?;
    }
    Ok(if report.is_sound() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_FAILURE)
    })
}

fn verify_text(path: &Path, report: &VerifyReport) -> String {
    let mut text = String::new();
    for finding in report
        .integrity
        .iter()
        .chain(&report.bad_blobs)
        .chain(&report.missing_blobs)
    {
        line!(text, "problem: {finding}");
    }
    line!(
        text,
        "{}: {} stored files and {} guide versions checked, {}",
        path.display(),
        report.checked_blobs,
        report.checked_versions,
        if report.is_sound() {
            "all sound".to_owned()
        } else {
            "damaged: clear it with `hologuide cache clear`".to_owned()
        }
    );
    text
}

/// `clear --all` and `--forget-device`.
struct Scope {
    all: bool,
    forget_device: bool,
}

fn clear(
    data_dir: &Path,
    user: Option<String>,
    guide: Option<Uuid>,
    scope: Scope,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let (message, value) = if scope.all {
        let removed = cache::clear_all_users(data_dir)?;
        let mut message = format!("Removed the offline caches of {removed} account(s).");
        let mut value = json!({ "cleared": "all", "removed_caches": removed });
        if scope.forget_device {
            // After the caches: a secret removed first would leave caches nobody can read.
            let forgotten = cache::device_keys::forget_device_secret(data_dir)
                .context("removing the device secret")?;
            match &forgotten {
                Some(location) => line!(message, "\nRemoved the device secret ({location})."),
                None => line!(message, "\nThis device had no device secret."),
            }
            message = message.trim_end().to_owned();
            value["forgot_device_secret"] = match forgotten {
                Some(cache::SecretLocation::Keyring { service, user }) => {
                    json!({ "kept_in": "keyring", "service": service, "user": user })
                }
                Some(cache::SecretLocation::File(path)) => {
                    json!({ "kept_in": "file", "path": path })
                }
                None => serde_json::Value::Null,
            };
        }
        (message, value)
    } else {
        // A damaged index must not stop a clear: then --user is needed, or --all.
        let user = match user {
            Some(user) => Some(user),
            None => pick_user(data_dir, None).context(
                "cannot tell whose cache to clear; pass --user, or --all to clear every cache",
            )?,
        };
        let Some(user) = user else {
            out(&format!("{}\n", no_cache_message(data_dir, None)))?;
            return Ok(ExitCode::SUCCESS);
        };
        match guide {
            Some(guide) => {
                let Some(store) = open_existing(data_dir, &user)? else {
                    out(&format!("{}\n", no_cache_message(data_dir, Some(&user))))?;
                    return Ok(ExitCode::SUCCESS);
                };
                let removed = store.clear_guide(guide)?;
                (
                    if removed {
                        format!("Removed guide {guide} from the offline cache of '{user}'.")
                    } else {
                        format!("Guide {guide} was not in the offline cache of '{user}'.")
                    },
                    json!({ "cleared": "guide", "user": user, "guide": guide, "removed": removed }),
                )
            }
            None => {
                let removed = cache::clear_user(data_dir, &user)?;
                (
                    if removed {
                        format!("Removed the offline cache of '{user}'.")
                    } else {
                        no_cache_message(data_dir, Some(&user))
                    },
                    json!({ "cleared": "user", "user": user, "removed": removed }),
                )
            }
        }
    };
    if as_json {
        out(&format!("{value:#}\n"))?;
    } else {
        out(&format!("{message}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}
