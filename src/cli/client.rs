//! `hologuide login|logout|status|guides|open`: the offline-first client for testers and
//! scripts. Every command drives `hologuide::client::Device`, the same rules as the 3D app.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use hologuide::app::View;
use hologuide::app::access;
use hologuide::app::shell::Origin;
use hologuide::app::telemetry::TelemetryKind;
use hologuide::cache::SecretLocation;
use hologuide::client::{ClientError, DataFolder, Device, Opened, Started, Target};

use super::data_dir::DataDirArg;
use super::{out, wrap};

/// Bytes per second for guide downloads (same as `open --max-rate`).
pub const MAX_RATE_ENV: &str = "HOLOGUIDE_MAX_DOWNLOAD_RATE";
/// Seconds one guide's download may take in all (default 7200).
pub const DEADLINE_ENV: &str = "HOLOGUIDE_DOWNLOAD_DEADLINE";
/// Bytes per second a download must average over each rate window (default 16384; 0: none).
pub const MIN_RATE_ENV: &str = "HOLOGUIDE_DOWNLOAD_MIN_RATE";
/// Seconds of the window the minimum rate is averaged over (default 60).
pub const RATE_WINDOW_ENV: &str = "HOLOGUIDE_DOWNLOAD_RATE_WINDOW";

#[derive(Debug, Args)]
pub struct Common {
    #[command(flatten)]
    pub(super) data: DataDirArg,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The guide service, e.g. http://127.0.0.1:8443 (default: the one used last).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    #[arg(long, value_name = "NAME")]
    user: String,
    /// Read the password from the first line of standard input instead of a prompt.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// A guide id, or a guide link (hologuide://<org>/g/<id>[/s/<step>] or https://…/l/…).
    target: String,
    /// Download at most this many bytes per second (metered links; also
    /// $HOLOGUIDE_MAX_DOWNLOAD_RATE).
    #[arg(long, value_name = "BYTES")]
    max_rate: Option<u64>,
    #[command(flatten)]
    common: Common,
}

/// The device for a command that downloads: at most `$HOLOGUIDE_MAX_DOWNLOAD_RATE` bytes a
/// second when set.
pub(super) fn device_for(common: &Common) -> anyhow::Result<Device> {
    device(
        common,
        env_number(MAX_RATE_ENV, "a number of bytes per second")?,
    )
}

fn device(common: &Common, max_rate: Option<u64>) -> anyhow::Result<Device> {
    device_in(&common.data, max_rate)
}

/// The device of the data folder `data`, as every client command opens it (`run` too).
pub(super) fn device_in(data: &DataDirArg, max_rate: Option<u64>) -> anyhow::Result<Device> {
    Ok(device_and_secret_in(data, max_rate)?.0)
}

/// The device and where its secret is kept (`status` says it).
fn device_and_secret_in(
    data: &DataDirArg,
    max_rate: Option<u64>,
) -> anyhow::Result<(Device, SecretLocation)> {
    let folder = DataFolder::open(&data.resolve()?)?;
    let mut config = folder.device_config();
    config.download.max_rate = max_rate;
    if let Some(seconds) = env_number(DEADLINE_ENV, "a number of seconds")? {
        config.download.deadline = std::time::Duration::from_secs(seconds);
    }
    if let Some(rate) = env_number(MIN_RATE_ENV, "a number of bytes per second")? {
        config.download.min_rate = rate;
    }
    if let Some(seconds) = env_number(RATE_WINDOW_ENV, "a number of seconds")? {
        config.download.rate_window = std::time::Duration::from_secs(seconds);
    }
    Ok((Device::new(config)?, folder.secret_location()))
}

/// A whole number from the environment; unset or empty: `None`.
fn env_number(name: &str, what: &str) -> anyhow::Result<Option<u64>> {
    match std::env::var(name) {
        Ok(text) if !text.is_empty() => text
            .trim()
            .parse()
            .map(Some)
            .with_context(|| format!("{name}='{text}' is not {what}")),
        _ => Ok(None),
    }
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<ExitCode> {
    out(&format!("{}\n", serde_json::to_string_pretty(value)?))?;
    Ok(ExitCode::SUCCESS)
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    rpassword::prompt_password("Password: ").context("reading the password")
}

pub fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let mut device = device(&args.common, None)?;
    let password = read_password(args.password_stdin)?;
    let username = device.sign_in(args.server.as_deref(), &args.user, &password)?;
    let status = device.status()?;
    if args.common.json {
        return print_json(&json!({ "signed_in": username, "status": status }));
    }
    let mut text = String::new();
    line!(
        text,
        "Signed in as {username} on {}.",
        status.server.as_deref().unwrap_or("?")
    );
    if let Some(until) = status.offline_until {
        line!(
            text,
            "Offline use works until {} unless you sign in online again.",
            access::display_time(until)
        );
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

pub fn logout(common: Common) -> anyhow::Result<ExitCode> {
    let mut device = device(&common, None)?;
    let who = device.sign_out()?;
    if common.json {
        return print_json(&json!({ "signed_out": who, "link": device.link() }));
    }
    out(&match who {
        Some(name) => format!(
            "Signed out {name}. The guides on this device stay until the cache is cleared.\n"
        ),
        None => "Nobody was signed in.\n".to_owned(),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// What opening a guide gave, with one refusal said better: "nobody is signed in" becomes why
/// nobody is (signed out, the 90 days over, the clock set back) — the words `status` prints,
/// the same in `open` and in the 3D app's `run`.
pub(super) fn refused_as_started<T>(
    opened: Result<T, ClientError>,
    started: &Started,
) -> anyhow::Result<T> {
    match (opened, started) {
        (Err(ClientError::Refused(access::Refused::NotSignedIn)), Started::No { reason }) => {
            anyhow::bail!("{reason}")
        }
        (opened, _) => Ok(opened?),
    }
}

fn started_line(started: &Started) -> String {
    match started {
        Started::Online { username } => format!("Signed in as {username} (online)."),
        Started::Offline { username } => format!("Signed in as {username} (offline)."),
        Started::No { reason } => reason.clone(),
    }
}

fn banner_line(device: &Device) -> &'static str {
    match (device.shell().offline_banner(), device.server()) {
        // Nothing to reach yet: saying it "cannot be reached" sends people after the network.
        (true, None) => {
            "Offline banner: shown (no guide service is set up on this device yet; `hologuide login --server URL` sets one)"
        }
        (true, Some(_)) => "Offline banner: shown (the guide service cannot be reached)",
        (false, _) => "Offline banner: not shown (online)",
    }
}

pub fn status(common: Common) -> anyhow::Result<ExitCode> {
    let (mut device, secret) = device_and_secret_in(&common.data, None)?;
    let started = device.start()?;
    let status = device.status()?;
    if common.json {
        let device_secret = match &secret {
            SecretLocation::Keyring { service, user } => {
                json!({ "kept_in": "keyring", "service": service, "user": user })
            }
            SecretLocation::File(path) => json!({ "kept_in": "file", "path": path }),
        };
        let (last_sync, data_usage) = sync_status_of(&device)?;
        return print_json(&json!({
            "started": started,
            "status": status,
            "device_secret": device_secret,
            "last_sync": last_sync,
            "data_usage": data_usage,
            "sync_settings": sync_settings_of(&device)?,
        }));
    }
    let mut text = String::new();
    line!(text, "{}", started_line(&started));
    line!(text, "{}", banner_line(&device));
    line!(
        text,
        "service: {}",
        status.server.as_deref().unwrap_or("none yet")
    );
    line!(text, "device: {}", status.device_id);
    line!(text, "device secret: {secret}");
    if let Some(until) = status.offline_until {
        line!(text, "offline use until: {}", access::display_time(until));
    }
    if let Some(bytes) = status.cache_bytes {
        line!(
            text,
            "cache: {} guides, {bytes} bytes",
            status.cached_guides
        );
    }
    match sync_status_of(&device)? {
        (Some(last), usage) => {
            let profile = if last.profile.is_empty() {
                "none".to_owned()
            } else {
                format!("{} (revision {})", last.profile, last.revision)
            };
            line!(
                text,
                "offline profile: {profile}, last synced {}: {}",
                access::display_time(last.finished_at),
                last.outcome
            );
            if let Some(latest) = usage.first() {
                line!(
                    text,
                    "last sync's data: {} planned, {} downloaded",
                    hologuide::net::limits::human_bytes(latest.planned_bytes),
                    hologuide::net::limits::human_bytes(latest.downloaded_bytes)
                );
            }
        }
        (None, _) if device.store().is_some() => {
            line!(text, "offline profile: not synced yet (`hologuide sync`)");
        }
        (None, _) => {}
    }
    if let Some(settings) = sync_settings_of(&device)? {
        text.push_str(&super::sync_settings::describe(&settings));
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The signed-in user's background sync settings (none when no one is signed in).
fn sync_settings_of(device: &Device) -> anyhow::Result<Option<hologuide::sync::SyncSettings>> {
    Ok(match device.store() {
        Some(store) => Some(hologuide::sync::SyncSettings::load(store)?),
        None => None,
    })
}

/// The signed-in user's last profile sync and data usage (none when no one is signed in).
fn sync_status_of(
    device: &Device,
) -> anyhow::Result<(
    Option<hologuide::sync::cycle::LastSync>,
    Vec<hologuide::cache::DataUsage>,
)> {
    match device.store() {
        Some(store) => Ok(hologuide::sync::sync_status(store)?),
        None => Ok((None, Vec::new())),
    }
}

pub fn guides(common: Common) -> anyhow::Result<ExitCode> {
    let mut device = device(&common, None)?;
    let started = device.start()?;
    let entries = device.all_guides()?;
    if common.json {
        return print_json(&json!({
            "started": started,
            "offline_banner": device.shell().offline_banner(),
            "guides": entries,
            "empty_text": entries.is_empty().then_some(access::NO_GUIDES_OFFLINE),
        }));
    }
    let mut text = String::new();
    line!(text, "{}", banner_line(&device));
    line!(text, "All");
    for line in access::all_list_lines(&entries) {
        line!(text, "  {line}");
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

pub fn runs(common: Common) -> anyhow::Result<ExitCode> {
    let mut device = device(&common, None)?;
    let started = device.start()?;
    let runs = refused_as_started(device.runs(), &started)?;
    if common.json {
        let runs: Vec<_> = runs
            .iter()
            .map(|(run, title)| json!({ "title": title, "run": run }))
            .collect();
        return print_json(&json!({ "started": started, "runs": runs }));
    }
    let mut text = String::new();
    if runs.is_empty() {
        line!(text, "No guide runs with answers on this device.");
    }
    for (run, title) in &runs {
        let title = title.clone().unwrap_or_else(|| run.guide_id.to_string());
        line!(
            text,
            "{title} — run {} started {}",
            run.run,
            access::display_time(run.started_at)
        );
        for answer in &run.answers {
            let mut line = format!("  {}: {}", answer.step_id, answer.answer);
            if answer.out_of_limits {
                line.push_str(" (outside the limits)");
            }
            if !answer.corrected.is_empty() {
                line.push_str(&format!(
                    " (corrected from {})",
                    answer.corrected.join(", then ")
                ));
            }
            let status = match &answer.status {
                hologuide::app::runs::RecordStatus::Waiting => {
                    "kept here until the next contact".to_owned()
                }
                hologuide::app::runs::RecordStatus::Sent => "on the service".to_owned(),
                hologuide::app::runs::RecordStatus::Rejected(reason) => {
                    format!("not accepted: {reason}")
                }
            };
            line!(text, "{line} — {status}");
        }
    }
    out(&text)?;
    Ok(ExitCode::SUCCESS)
}

pub fn open(args: OpenArgs) -> anyhow::Result<ExitCode> {
    let target = Target::parse(&args.target)?;
    let max_rate = match args.max_rate {
        Some(rate) => Some(rate),
        None => env_number(MAX_RATE_ENV, "a number of bytes per second")?,
    };
    let mut device = device(&args.common, max_rate)?;
    let started = device.start()?;
    let bar = progress_bar(args.common.json);
    let progress = |p: hologuide::net::download::Progress| {
        bar.set_length(p.total);
        bar.set_position(p.done);
    };
    let opened = device.open(&target, &progress);
    bar.finish_and_clear();
    let opened = refused_as_started(opened, &started)?;
    device.keep_event(
        TelemetryKind::GuideOpened,
        Some(opened.guide_id),
        None,
        None,
    );
    device.send_telemetry();
    if args.common.json {
        let steps: Vec<_> = opened
            .guide
            .steps()
            .map(|p| json!({ "id": p.step.id, "title": p.step.title, "body": p.step.body }))
            .collect();
        // Where the app starts (F7): the step card a link asked for, or the first one.
        let app = opened.app();
        let start = match app.view() {
            View::Step(card) => json!({
                "step": card.step_number,
                "title": card.title,
                "notice": card.notice,
            }),
            View::Complete { .. } => serde_json::Value::Null,
        };
        return print_json(&json!({
            "started": started,
            "opened": opened,
            "start": start,
            "steps": steps,
            "status": device.shell().status(),
        }));
    }
    out(&describe(&opened, &device))?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn progress_bar(hidden: bool) -> indicatif::ProgressBar {
    if hidden {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "downloading {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

fn describe(opened: &Opened, device: &Device) -> String {
    let mut text = String::new();
    let origin = match opened.origin {
        Origin::Network => format!(
            "from the guide service (latest version, {} bytes downloaded)",
            opened.downloaded_bytes
        ),
        Origin::Cache => "from this device's cache".to_owned(),
        Origin::Demo => "the bundled demo (no network or account needed)".to_owned(),
    };
    line!(text, "{} — version {}", opened.title, opened.version);
    line!(text, "Opened {origin}.");
    line!(text, "{}", banner_line(device));
    // The same start rule as the 3D app: the card a link asks for, else the first one.
    let app = opened.app();
    let count = opened.guide.step_count();
    let View::Step(card) = app.view() else {
        line!(text, "This guide has no steps.");
        return text;
    };
    match opened.step {
        Some(asked) if asked.get() as usize == card.step_number => line!(
            text,
            "Starting at step {} of {count}, as the link asks.",
            card.step_number
        ),
        _ => line!(text, "Starting at step {} of {count}.", card.step_number),
    }
    if let Some(notice) = card.notice {
        line!(text, "{notice}");
    }
    if card.step_number > 1 {
        line!(
            text,
            "(Steps 1 to {} come before it; Back on the card goes there.)",
            card.step_number - 1
        );
    }
    for (index, position) in opened.guide.steps().enumerate().skip(card.step_number - 1) {
        line!(text, "");
        line!(
            text,
            "Step {} of {count}: {}",
            index + 1,
            position.step.title
        );
        for body in wrap(&position.step.body, 76) {
            line!(text, "  {body}");
        }
    }
    text
}
