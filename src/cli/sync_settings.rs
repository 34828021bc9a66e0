//! `hologuide sync settings`: how this device syncs its offline profile while the app runs
//! (S5, S7, S8), kept in the signed-in user's cache. Without options it prints them.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

use hologuide::net::limits::human_bytes;
use hologuide::sync::SyncSettings;
use hologuide::sync::settings::{parse_interval, parse_size};

use super::client::Common;
use super::out;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// How often the app syncs besides at start and when the network comes back (30s, 15m,
    /// 1h; default 15m).
    #[arg(long, value_name = "INTERVAL", value_parser = interval)]
    every: Option<u64>,
    /// On a network that is not metered, updates up to this size download without asking
    /// (25MB, 1MiB; default 25 MiB); larger ones are offered: "Download now / Later".
    #[arg(long, value_name = "SIZE", value_parser = size)]
    ask_above: Option<u64>,
    /// Whether this device's network is metered.
    #[arg(long, value_enum, value_name = "on|off")]
    metered: Option<OnOff>,
    /// On a metered network, updates above this size are asked about, even with
    /// `hologuide sync --yes` (default 1 MiB).
    #[arg(long, value_name = "SIZE", value_parser = size)]
    metered_ask_above: Option<u64>,
    #[command(flatten)]
    common: Common,
}

fn interval(text: &str) -> Result<u64, String> {
    parse_interval(text).map_err(|e| e.to_string())
}

fn size(text: &str) -> Result<u64, String> {
    parse_size(text).map_err(|e| e.to_string())
}

pub fn run(args: SettingsArgs) -> anyhow::Result<ExitCode> {
    let mut device = super::client::device_for(&args.common)?;
    let started = device.start()?;
    let Some(store) = device.store() else {
        anyhow::bail!(
            "the sync settings belong to the account signed in on this device, and no one is: {}",
            match started {
                hologuide::client::Started::No { reason } => reason,
                _ => "sign in first".into(),
            }
        );
    };
    let mut settings = SyncSettings::load(store)?;
    let before = settings;
    if let Some(every) = args.every {
        settings.every_s = every;
    }
    if let Some(bytes) = args.ask_above {
        settings.ask_above_bytes = bytes;
    }
    if let Some(metered) = args.metered {
        settings.metered = matches!(metered, OnOff::On);
    }
    if let Some(bytes) = args.metered_ask_above {
        settings.metered_ask_above_bytes = bytes;
    }
    if settings != before {
        settings.save(store)?;
    }
    if args.common.json {
        let text = serde_json::to_string_pretty(&json!({ "settings": settings }))?;
        out(&format!("{text}\n"))?;
    } else {
        out(&describe(&settings))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The settings as people read them (also in `hologuide status`).
pub fn describe(settings: &SyncSettings) -> String {
    let mut text = String::new();
    line!(
        text,
        "background sync: every {}, at start and when the network comes back",
        every_text(settings.every_s)
    );
    line!(
        text,
        "network: {}; updates above {} are asked about first",
        if settings.metered {
            "metered"
        } else {
            "not metered"
        },
        human_bytes(if settings.metered {
            settings.metered_ask_above_bytes
        } else {
            settings.ask_above_bytes
        })
    );
    text
}

fn every_text(seconds: u64) -> String {
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{} s", s.max(1)),
    }
}
