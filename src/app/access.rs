//! The offline rules F3–F5, F7, F10, F11, F13, F14 and N1, as pure functions of what the device
//! knows (its remembered session, a cached guide's facts, the network state) and the time.
//!
//! Every front end — the CLI, the 3D app — asks these functions and shows the exact text they
//! return; nothing else decides whether a sign-in or an offline open is allowed.

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Is the guide service reachable (as the connectivity monitor last said)?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    Online,
    Offline,
}

/// F5, word for word as the user sees it.
pub const SIGN_IN_NEEDS_NETWORK: &str = "Signing in needs a network connection. You can keep using \
the guides on this device; sign in again when the network is back.";
/// F11.
pub const READ_ONLY_OFFLINE: &str = "You are offline, so guides cannot be changed on this device. \
Make changes when the network is back.";
/// F3, word for word.
pub use crate::scene::NO_GUIDES_OFFLINE;

/// F10: offline use is allowed this long after the last online sign-in (or refresh).
pub const OFFLINE_WINDOW: Duration = Duration::days(90);
/// Clocks drift and get corrected by NTP; a step back smaller than this is not a roll-back.
pub const CLOCK_TOLERANCE: Duration = Duration::minutes(5);

/// What the device remembers of the account last signed in online (kept in the cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberedAccount {
    pub user_id: Uuid,
    pub username: String,
    /// The last time a sign-in or token refresh succeeded online; F10's window rolls from here.
    pub last_online_sign_in: OffsetDateTime,
    /// The user signed out; the next start does not sign them in by itself.
    pub signed_out: bool,
}

/// Why something the user asked for is not allowed now; `Display` is the text to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("{SIGN_IN_NEEDS_NETWORK}")]
    SignInNeedsNetwork,
    #[error("{READ_ONLY_OFFLINE}")]
    ReadOnlyOffline,
    #[error(
        "Your offline access as {username} ended on {ended} (90 days after your last online \
         sign-in). Connect to the network and sign in again."
    )]
    OfflineWindowOver { username: String, ended: String },
    #[error(
        "This device's clock is earlier than a time it has already seen, so offline access cannot \
         be checked. Connect to the network, or set the clock right."
    )]
    ClockRolledBack,
    #[error(
        "No one is signed in on this device. Sign in while online first (the demo guide works without an account)."
    )]
    NotSignedIn,
    #[error(
        "'{title}' may be opened offline only until {ended}; that time has passed. Open it once \
         while online to renew it."
    )]
    LeaseExpired { title: String, ended: String },
    /// The service's own words (F13, F14), remembered from when it refused the guide.
    #[error("{0}")]
    RefusedByService(String),
    #[error(
        "Syncing the offline profile needs the network. The guides already on this device still \
         open offline."
    )]
    SyncNeedsNetwork,
    #[error(
        "This guide has not been opened on this device by {username} yet. Open it once while \
         online; after that it works offline."
    )]
    NotCached { username: String },
}

/// How times are shown to the user: `2026-11-25 08:00 UTC`.
pub fn display_time(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| at.to_string())
}

/// A clock earlier than the latest time the device has seen means someone moved it back —
/// perhaps to stretch a lease (N1).
pub fn clock_rolled_back(now: OffsetDateTime, last_seen: Option<OffsetDateTime>) -> bool {
    last_seen.is_some_and(|seen| now + CLOCK_TOLERANCE < seen)
}

/// F5: signing in needs the network; signing out never does.
pub fn may_sign_in(link: Link) -> Result<(), Refused> {
    match link {
        Link::Online => Ok(()),
        Link::Offline => Err(Refused::SignInNeedsNetwork),
    }
}

/// Where the F10 window of an account ends.
pub fn offline_window_end(account: &RememberedAccount) -> OffsetDateTime {
    account.last_online_sign_in + OFFLINE_WINDOW
}

/// F4, F10: started offline, the last account is signed in by itself if it did not sign out and
/// its 90 days since the last online sign-in have not passed (by a clock that was not moved back).
pub fn offline_sign_in(
    account: Option<&RememberedAccount>,
    now: OffsetDateTime,
    last_seen: Option<OffsetDateTime>,
) -> Result<&RememberedAccount, Refused> {
    let account = account
        .filter(|a| !a.signed_out)
        .ok_or(Refused::NotSignedIn)?;
    if clock_rolled_back(now, last_seen) {
        return Err(Refused::ClockRolledBack);
    }
    let end = offline_window_end(account);
    if now >= end {
        return Err(Refused::OfflineWindowOver {
            username: account.username.clone(),
            ended: display_time(end),
        });
    }
    Ok(account)
}

/// What the service last said about a cached guide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "message", rename_all = "snake_case")]
pub enum ServiceVerdict {
    Open,
    /// F13, with the service's message.
    Deactivated(String),
    /// F14, with the service's message.
    PermissionLost(String),
}

/// S6: what the device does with a cached guide the service no longer lets this user open,
/// as the organisation chose (sent with the offline profile's manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostAccess {
    /// The copy stays usable offline until the cache is cleared, and is never updated.
    KeepOffline,
    /// The copy stops opening once the device knows, with the service's words (F13, F14).
    #[default]
    LockOnSync,
}

/// What the cache knows about one guide it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedGuideFacts {
    pub title: String,
    pub lease_expires_at: OffsetDateTime,
    pub verdict: ServiceVerdict,
    /// The organisation's policy for a refused copy (S6).
    pub lost_access: LostAccess,
}

/// N1, F13, F14: may the cached copy be opened without the network?
pub fn may_open_offline(
    guide: &CachedGuideFacts,
    now: OffsetDateTime,
    last_seen: Option<OffsetDateTime>,
) -> Result<(), Refused> {
    match (&guide.verdict, guide.lost_access) {
        (ServiceVerdict::Open, _)
        // S6 keep-offline: the refused copy keeps opening offline (never updated).
        | (ServiceVerdict::Deactivated(_) | ServiceVerdict::PermissionLost(_), LostAccess::KeepOffline) => {}
        (
            ServiceVerdict::Deactivated(message) | ServiceVerdict::PermissionLost(message),
            LostAccess::LockOnSync,
        ) => {
            return Err(Refused::RefusedByService(message.clone()));
        }
    }
    // A rolled-back clock could show any lease as valid: treat every lease as expired (N1).
    if clock_rolled_back(now, last_seen) {
        return Err(Refused::ClockRolledBack);
    }
    if now >= guide.lease_expires_at {
        return Err(Refused::LeaseExpired {
            title: guide.title.clone(),
            ended: display_time(guide.lease_expires_at),
        });
    }
    Ok(())
}

/// F11: any attempt to change a guide while offline.
pub fn may_edit(link: Link) -> Result<(), Refused> {
    match link {
        Link::Online => Ok(()),
        Link::Offline => Err(Refused::ReadOnlyOffline),
    }
}

/// One line of the All list (F3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllListEntry {
    pub guide_id: Uuid,
    pub title: String,
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub downloaded_at: OffsetDateTime,
    /// Whether it opens offline now, and why not.
    pub opens_offline: bool,
    pub note: Option<String>,
}

impl AllListEntry {
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} — version {}, downloaded {}",
            self.title,
            self.version,
            display_time(self.downloaded_at)
        );
        if let Some(note) = &self.note {
            line.push_str(" — ");
            line.push_str(note);
        }
        line
    }
}

/// F3: the All list's lines, or the exact empty text when nothing is cached.
pub fn all_list_lines(entries: &[AllListEntry]) -> Vec<String> {
    if entries.is_empty() {
        vec![NO_GUIDES_OFFLINE.to_owned()]
    } else {
        entries.iter().map(AllListEntry::line).collect()
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
