//! How this device syncs its offline profile in the background (S5, S7, S8), kept in the
//! signed-in user's cache and changed with `hologuide sync settings`.
//!
//! The rule for asking (S7), in one place: a background cycle downloads without asking when
//! what it needs is at most [`SyncSettings::ask_above_bytes`] (25 MiB by default) on a network
//! that is not metered; on a metered network ([`SyncSettings::metered`]) the limit is
//! [`SyncSettings::metered_ask_above_bytes`] (1 MiB by default). Above its limit the operator
//! is asked: "Updates available: N guides, X — Download now / Later". `hologuide sync --yes`
//! stands for the user's yes, except above the metered limit on a metered network.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cache::{CacheError, Store};

/// Key of the cache's `sync_state`.
const SETTINGS: &str = "sync.settings";

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncSettings {
    /// Seconds between background cycles (besides the one at sign-in and the one when the
    /// network comes back).
    pub every_s: u64,
    /// On a network that is not metered, a cycle needing at most this downloads unasked.
    pub ask_above_bytes: u64,
    /// The device's network is metered (a mobile hotspot, a paid link).
    pub metered: bool,
    /// On a metered network, a cycle needing more than this asks first.
    pub metered_ask_above_bytes: u64,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            every_s: 15 * 60,
            ask_above_bytes: 25 * MIB,
            metered: false,
            metered_ask_above_bytes: MIB,
        }
    }
}

impl SyncSettings {
    /// The shortest interval taken: a cycle costs the service a manifest request.
    pub const MIN_EVERY: Duration = Duration::from_secs(1);

    pub fn every(&self) -> Duration {
        Duration::from_secs(self.every_s).max(Self::MIN_EVERY)
    }

    /// S7: whether a background cycle needing `bytes` asks the operator first.
    pub fn background_asks(&self, bytes: u64) -> bool {
        let limit = if self.metered {
            self.metered_ask_above_bytes
        } else {
            self.ask_above_bytes
        };
        bytes > limit
    }

    /// Whether `--yes` is not enough for `bytes`: above the metered limit on a metered network.
    pub fn metered_needs_asking(&self, bytes: u64) -> bool {
        self.metered && bytes > self.metered_ask_above_bytes
    }

    /// The settings kept in `store`, or the defaults. Settings that cannot be read are logged
    /// and the defaults used: they are preferences, never worth refusing a sync for.
    pub fn load(store: &Store) -> Result<Self, CacheError> {
        let Some(text) = store.sync_state(SETTINGS)? else {
            return Ok(Self::default());
        };
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| {
            tracing::warn!("the kept sync settings cannot be read ({e}); using the defaults");
            Self::default()
        }))
    }

    pub fn save(&self, store: &Store) -> Result<(), CacheError> {
        let text = serde_json::to_string(self).map_err(|e| CacheError::Io {
            what: "writing the sync settings".into(),
            source: std::io::Error::other(e),
        })?;
        store.set_sync_state(SETTINGS, &text)
    }
}

/// A setting given on the command line that cannot be read; the text says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("'{0}' is no interval: write a number with s, m or h (30s, 15m, 1h)")]
    Interval(String),
    #[error("'{0}' is no size: write a number with B, kB, MB, GB, KiB, MiB or GiB (25MB, 1MiB)")]
    Size(String),
}

/// `30s`, `15m`, `1h` → seconds.
pub fn parse_interval(text: &str) -> Result<u64, SettingError> {
    let fail = || SettingError::Interval(text.to_owned());
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(fail)?;
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number.parse().map_err(|_| fail())?;
    let scale = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        _ => return Err(fail()),
    };
    number.checked_mul(scale).ok_or_else(fail)
}

/// `25MB`, `1MiB`, `0B` → bytes.
pub fn parse_size(text: &str) -> Result<u64, SettingError> {
    let fail = || SettingError::Size(text.to_owned());
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(fail)?;
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.parse().map_err(|_| fail())?;
    let scale: f64 = match unit.trim() {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => MIB as f64,
        "GiB" => (1024 * MIB) as f64,
        _ => return Err(fail()),
    };
    let bytes = number * scale;
    if bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64 {
        Ok(bytes.round() as u64)
    } else {
        Err(fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_sizes_are_read_with_their_units_and_anything_else_is_refused() {
        assert_eq!(parse_interval("15m"), Ok(900));
        assert_eq!(parse_interval("30s"), Ok(30));
        assert_eq!(parse_interval("2h"), Ok(7200));
        assert_eq!(parse_size("25MB"), Ok(25_000_000));
        assert_eq!(parse_size("1MiB"), Ok(MIB));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        assert_eq!(parse_size("0B"), Ok(0));
        for bad in ["15", "m", "-1m", "1d", "99999999999999999999h"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
        for bad in ["25", "MB", "-1MB", "1TB", "1e30GB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_size("25").unwrap_err().to_string(),
            "'25' is no size: write a number with B, kB, MB, GB, KiB, MiB or GiB (25MB, 1MiB)"
        );
    }

    #[test]
    fn s7_small_updates_on_an_unmetered_network_download_without_asking() {
        let settings = SyncSettings::default();
        assert!(!settings.background_asks(0));
        assert!(!settings.background_asks(25 * MIB));
        assert!(settings.background_asks(25 * MIB + 1));
    }

    #[test]
    fn s8_a_metered_network_asks_above_its_own_lower_limit_even_with_yes() {
        let metered = SyncSettings {
            metered: true,
            ..SyncSettings::default()
        };
        assert!(!metered.background_asks(MIB));
        assert!(metered.background_asks(MIB + 1));
        assert!(metered.metered_needs_asking(MIB + 1));
        assert!(!SyncSettings::default().metered_needs_asking(u64::MAX));
    }

    #[test]
    fn an_interval_below_a_second_is_taken_as_a_second() {
        let fast = SyncSettings {
            every_s: 0,
            ..SyncSettings::default()
        };
        assert_eq!(fast.every(), Duration::from_secs(1));
        assert_eq!(SyncSettings::default().every(), Duration::from_secs(900));
    }

    #[test]
    fn settings_kept_by_an_older_version_fill_what_they_lack_with_the_defaults() {
        let kept: SyncSettings = serde_json::from_str(r#"{"metered": true}"#).unwrap();
        assert!(kept.metered);
        assert_eq!(kept.every_s, 900);
    }
}
