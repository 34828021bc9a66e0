//! What the service stores and answers with. These types are the wire format of the HTTP API
//! (JSON, timestamps in RFC 3339) and of `hologuide-server … --json`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages users, permissions, profiles; sees every guide of its organisation.
    Admin,
    /// Publishes guides.
    Author,
    /// Follows guides on a headset.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Author => "author",
            Role::Operator => "operator",
        }
    }

    pub fn may_publish(self) -> bool {
        matches!(self, Role::Admin | Role::Author)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "admin" => Ok(Role::Admin),
            "author" => Ok(Role::Author),
            "operator" => Ok(Role::Operator),
            other => Err(format!(
                "'{other}' is not a role (admin, author or operator)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    /// The tenant the user works in (N4): guides, users and profiles of other organisations are
    /// invisible to them.
    pub organisation: String,
    /// A server-wide admin, whose admin work spans every organisation. Only the admin command
    /// line grants it (`user add --all-organisations`); never the default.
    pub all_organisations: bool,
    pub groups: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl User {
    /// The organisations this user acts within.
    pub fn scope(&self) -> Scope {
        if self.all_organisations && self.role == Role::Admin {
            Scope::Everywhere
        } else {
            Scope::Organisation(self.organisation.clone())
        }
    }
}

/// The organisations a piece of work may see and change (N4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Organisation(String),
    /// A server-wide admin, or the admin command line on the service's own machine.
    Everywhere,
}

impl Scope {
    pub fn includes(&self, organisation: &str) -> bool {
        match self {
            Scope::Organisation(own) => own == organisation,
            Scope::Everywhere => true,
        }
    }

    /// The one organisation a query is limited to; `None`: all of them.
    pub fn organisation(&self) -> Option<&str> {
        match self {
            Scope::Organisation(own) => Some(own),
            Scope::Everywhere => None,
        }
    }
}

/// A (user, device) pair the service has seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    pub device_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

/// What a sign-in or a refresh hands the device. The tokens are shown once; the service keeps
/// only their hashes.
#[derive(Debug, Clone, Serialize)]
pub struct SessionTokens {
    pub access_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub access_expires_at: OffsetDateTime,
    pub refresh_token: String,
    /// Rolling: every refresh moves it 90 days ahead of now (F10).
    #[serde(with = "time::serde::rfc3339")]
    pub refresh_expires_at: OffsetDateTime,
    pub device_id: String,
    pub user: User,
    /// N2: the keys the device checks signed stickers with, offline.
    pub link_trust: LinkTrustWire,
}

/// What a device trusts for signed links (N2): its organisation's public keys (every
/// organisation's for a server-wide admin) and the organisations that require signatures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkTrustWire {
    pub keys: Vec<LinkKeyWire>,
    pub signatures_required: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkKeyWire {
    pub organisation: String,
    pub key_id: String,
    /// ed25519, 32 bytes, hex.
    pub public_key: String,
    pub retired: bool,
}

/// The signed-in user behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub session_id: Uuid,
    pub device_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Me {
    pub user: User,
    pub device_id: String,
    pub devices: Vec<Device>,
    /// The offline profile this user belongs to (S4: at most one).
    pub profile: Option<String>,
}

/// A file of a guide version, named by its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetEntry {
    /// Path inside the package, as `guide.json` names it.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// A guide's latest metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuideSummary {
    pub id: Uuid,
    pub organisation: String,
    pub title: String,
    pub description: String,
    /// `false` once deactivated (F13); only admins see such guides listed.
    pub active: bool,
    pub latest_version: u32,
    pub content_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    /// Bytes of the latest version's assets.
    pub total_bytes: u64,
    pub tags: Vec<String>,
}

/// One immutable published version: the guide and the blobs it needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionManifest {
    pub guide_id: Uuid,
    pub version: u32,
    /// sha256 over `guide.json` (with version 0) and the sorted (path, sha256) pairs: equal
    /// content, equal hash, whatever the version number.
    pub content_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    pub total_bytes: u64,
    pub assets: Vec<AssetEntry>,
    /// `guide.json` of this version, its `version` field set to this version.
    pub guide: serde_json::Value,
}

/// A version manifest as a device receives it: with the offline lease granted now (N1). The
/// device keeps the guide openable offline until `lease_expires_at`; fetching it again renews it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServedManifest {
    #[serde(flatten)]
    pub manifest: VersionManifest,
    #[serde(with = "time::serde::rfc3339")]
    pub lease_expires_at: OffsetDateTime,
}

/// Who may view a guide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Principal {
    User(String),
    Group(String),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(name) => write!(f, "user '{name}'"),
            Principal::Group(name) => write!(f, "group '{name}'"),
        }
    }
}

/// A named selection of guides kept offline for its members (S1–S4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub id: Uuid,
    pub name: String,
    /// The organisation whose admins manage it and whose users may be members (N4).
    pub organisation: String,
    pub description: String,
    pub guide_ids: Vec<Uuid>,
    pub tags: Vec<String>,
    /// Only guides published within this many days (S3); `None`: no date filter.
    pub modified_within_days: Option<u32>,
    /// Changes whenever the selection or a selected guide's metadata changes (S7).
    pub revision: u64,
    pub members: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A profile as an admin writes it; absent fields of an update keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    pub name: Option<String>,
    pub description: Option<String>,
    pub guide_ids: Option<Vec<Uuid>>,
    pub tags: Option<Vec<String>>,
    /// `null` removes the date filter.
    #[serde(default, with = "double_option")]
    pub modified_within_days: Option<Option<u32>>,
}

/// Distinguishes an absent field (keep) from `null` (clear).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// S6: what a member's device does with a cached guide it may no longer open (permission lost,
/// deactivated), learnt at its next sync; an organisation's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LostAccess {
    /// The copy stays usable offline until the cache is cleared, and is never updated.
    KeepOffline,
    /// The copy stops opening at the sync, with the service's reason.
    #[default]
    LockOnSync,
}

impl LostAccess {
    /// As the database and the command line write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeepOffline => "keep_offline",
            Self::LockOnSync => "lock_on_sync",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "keep_offline" | "keep-offline" => Some(Self::KeepOffline),
            "lock_on_sync" | "lock-on-sync" => Some(Self::LockOnSync),
            _ => None,
        }
    }
}

/// What a member's device should hold now (S2, S7, S8).
#[derive(Debug, Clone, Serialize)]
pub struct ProfileManifest {
    pub profile: String,
    pub description: String,
    pub revision: u64,
    pub modified_within_days: Option<u32>,
    /// S6: what the device does with cached guides it may no longer open.
    pub lost_access: LostAccess,
    pub guides: Vec<ProfileGuide>,
    /// Bytes of all distinct blobs below: what a sync from empty downloads.
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProfileGuide {
    pub id: Uuid,
    pub title: String,
    pub version: u32,
    pub content_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    pub bytes: u64,
    pub assets: Vec<AssetEntry>,
}

/// A telemetry event recorded on the device (F9); `id` is made there, so a resent batch is
/// recognised (N5).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryEvent {
    pub id: Uuid,
    /// `session_start`, `step_viewed`, `guide_completed`, …
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default)]
    pub guide_id: Option<Uuid>,
    #[serde(default)]
    pub step_id: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// Telemetry of app sessions a device folded into one record when it kept more sessions than
/// its bound (F9): how many sessions and events, per kind, their total duration and time range.
/// `id` is made on the device, so a resent summary is stored once (N5).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySummary {
    pub id: Uuid,
    pub sessions: u64,
    pub events: u64,
    /// Events per kind; the counts add up to `events`.
    pub by_kind: std::collections::BTreeMap<String, u64>,
    /// Sum of the events' durations.
    pub duration_ms: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub first_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
}

/// A step completion (with an optional recorded value) made on the device, possibly offline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepResult {
    pub id: Uuid,
    pub guide_id: Uuid,
    pub version: u32,
    pub step_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

/// A step result with who recorded it, for audits (N6 runs export).
#[derive(Debug, Clone)]
pub struct AttributedResult {
    pub result: StepResult,
    pub username: String,
    pub device_id: String,
}

/// How a batch fared, item by item (S6): accepted items are stored once, duplicates were stored
/// before, rejected ones carry the reason to show the user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestOutcome {
    pub accepted: Vec<Uuid>,
    pub duplicates: Vec<Uuid>,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub id: Uuid,
    pub code: String,
    pub reason: String,
}

/// Counts for admins (`hologuide-server stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub users: u64,
    pub guides: u64,
    pub versions: u64,
    pub blobs: u64,
    pub telemetry_events: u64,
    pub telemetry_summaries: u64,
    pub results: u64,
}

/// The unit an address is counted in by per-client limits (connections, the sign-in throttle):
/// an IPv4 address, or the /64 an IPv6 subscriber usually holds whole.
pub fn address_block(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            std::net::IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// A photo an operator took at a step (N6), named by the SHA-256 of its JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRecord {
    pub sha256: String,
    /// The sender's organisation: its admins may read it.
    pub organisation: String,
    pub user_id: Uuid,
    pub jpeg: Vec<u8>,
    pub received_at: OffsetDateTime,
}
