//! The encrypted offline cache of one user on one device (F1–F14, N1, N5).
//!
//! One SQLCipher database per (user, device) under `<data>/cache/`, keyed with
//! HKDF-SHA256(device secret, user id) ([`keys`]); a small unencrypted [`DeviceIndex`] beside it
//! says which account was used online last (F4) and holds nothing secret. The bytes of guide
//! files are not in the database but in `user-<hash>.blobs/` beside it, one AES-256-GCM file
//! per blob in 64 KiB chunks under a separate HKDF key, named by a keyed hash ([`blobfile`]):
//! SQLCipher's per-page cost held downloads and reads far below their targets.
//!
//! What [`Store`] keeps:
//! - the session (refresh token, access token, last online sign-in) — [`Session`];
//! - guides: versions with their manifest, content hash, download time and lease (N1), and
//!   content-addressed blobs stored once. A new version is staged blob by blob (verified by
//!   sha256, resumable across a kill), then made current in one transaction by
//!   [`VersionWriter::commit`]; the blobs only the previous version used are deleted in that
//!   same transaction, so a killed process leaves either the old version or the new one;
//! - the clock's high-water mark, to detect a clock set backwards (N1);
//! - the telemetry outbox (F9), pending step results (N5) and sync state.
//!
//! No I/O beyond the database file, the blob files, the index and the device secret (its file,
//! or its OS keyring entry over the session D-Bus: [`device_keys`], [`keyring_store`]); no
//! network code.
//!
//! How the client uses it:
//! - start offline (F4): `DeviceIndex::load(data_dir)?.last()` names the last account used
//!   online; [`Store::open`] with [`DeviceKeyStore::for_data_dir`] (the keyring where a secret
//!   service answers, else a 0600 file; an existing secret is never moved) opens that user's
//!   cache;
//!   [`Store::session`] has the refresh token and the last online sign-in (F10's window);
//! - online sign-in: [`Store::save_session`], then [`Store::remember_as_last_account`];
//!   sign-out: [`Store::sign_out`] (F5);
//! - download: [`Store::begin_version`], [`VersionWriter::missing`] for what to fetch,
//!   [`Store::partial_len`] / [`Store::append_partial`] / [`Store::finish_partial`] per file
//!   (HTTP Range), [`VersionWriter::commit`];
//! - open offline: [`Store::offline_access`] (lease, clock, refusal), [`Store::current`],
//!   [`Store::read_blob`]; the All list: [`Store::list`] (F3);
//! - refusals: [`Store::mark_refused`] (F13, F14); telemetry: [`Store::begin_app_session`],
//!   [`Store::record_event`], [`Store::pending_telemetry`], [`Store::ack_telemetry`] (F9).

#[cfg(test)]
mod blob_file_tests;
mod blobfile;
mod blobs;
pub mod device_keys;
mod error;
mod guides;
pub mod index;
pub mod keyring_store;
pub mod keys;
mod link_trust;
mod outbox;
pub mod package;
mod profile_sync;
mod report;
mod running_hash;
mod schema;
#[cfg(test)]
mod session_tests;
mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use blobfile::{FileError as BlobFileError, read_blob_file};
pub use blobs::PARTIAL_MAX_AGE;
pub use device_keys::{DeviceKeyStore, Preference as KeyStorePreference, SecretLocation};
pub use error::CacheError;
pub use guides::VersionWriter;
pub use index::{AccountEntry, DeviceIndex};
pub use keyring_store::KeyringKeyStore;
pub use keys::{DeviceSecret, FileKeyStore, KeyStore, MemoryKeyStore};
pub use profile_sync::{DATA_USAGE_KEPT, DataUsage};
pub use store::{Store, clear_all_users, clear_user, database_path};

/// Bound on the app sessions whose telemetry is kept event by event (F9).
pub const DEFAULT_TELEMETRY_SESSIONS: usize = 10;

/// Whether the service still lets this user have a cached guide (F13, F14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuideStatus {
    Active,
    /// The author or an admin deactivated the guide after it was downloaded (F13).
    Deactivated,
    /// The user may no longer view the guide (F14).
    PermissionLost,
}

impl GuideStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GuideStatus::Active => "active",
            GuideStatus::Deactivated => "deactivated",
            GuideStatus::PermissionLost => "permission_lost",
        }
    }
}

impl fmt::Display for GuideStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GuideStatus::Active => "active",
            GuideStatus::Deactivated => "deactivated",
            GuideStatus::PermissionLost => "no longer permitted",
        })
    }
}

impl FromStr for GuideStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "active" => Ok(GuideStatus::Active),
            "deactivated" => Ok(GuideStatus::Deactivated),
            "permission_lost" => Ok(GuideStatus::PermissionLost),
            other => Err(format!("unknown guide status '{other}'")),
        }
    }
}

/// A file of a guide version, named by its content (the service's `AssetEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetRef {
    /// Path inside the guide package, as `guide.json` names it.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// What a new version is made of; the blobs are staged separately on the [`VersionWriter`].
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub guide_id: Uuid,
    pub version: u32,
    pub title: String,
    /// The service's version manifest as received; its `guide` field is the `guide.json`
    /// document. Stored encrypted, like everything in the database.
    pub manifest: serde_json::Value,
    pub content_hash: String,
    pub assets: Vec<AssetRef>,
    /// When the service's offline lease ends (N1); `None`: no lease (e.g. the demo guide).
    pub lease_expires_at: Option<OffsetDateTime>,
}

/// The current cached version of a guide.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedVersion {
    pub guide_id: Uuid,
    pub version: u32,
    pub title: String,
    pub manifest: serde_json::Value,
    pub content_hash: String,
    pub assets: Vec<AssetRef>,
    pub downloaded_at: OffsetDateTime,
    pub lease_expires_at: Option<OffsetDateTime>,
    pub status: GuideStatus,
    /// The service's words when it refused the guide (F13, F14).
    pub status_message: Option<String>,
}

impl CachedVersion {
    /// The `guide.json` document inside the manifest.
    pub fn guide_document(&self) -> Result<&serde_json::Value, CacheError> {
        self.manifest
            .get("guide")
            .ok_or_else(|| CacheError::BadManifest {
                guide_id: self.guide_id,
                detail: "it has no `guide` document".to_owned(),
            })
    }

    /// Decodes the cached `guide.json` into the guide model.
    pub fn decode_guide(&self) -> Result<crate::guide::Guide, CacheError> {
        let mut problems = crate::guide::Problems::default();
        crate::guide::decode(self.guide_document()?, &mut problems).ok_or_else(|| {
            let detail = problems
                .into_vec()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            CacheError::BadManifest {
                guide_id: self.guide_id,
                detail,
            }
        })
    }

    /// The sha256 of the asset at `path` inside the package.
    pub fn asset(&self, path: &str) -> Option<&AssetRef> {
        self.assets.iter().find(|a| a.path == path)
    }
}

/// One row of the All list (F3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuideListEntry {
    pub guide_id: Uuid,
    pub title: String,
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub downloaded_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_expires_at: Option<OffsetDateTime>,
    pub status: GuideStatus,
    pub status_message: Option<String>,
    /// Bytes of the version's assets.
    pub bytes: u64,
    /// The version's content hash, as the service published it.
    pub content_hash: String,
}

/// The signed-in session kept in the encrypted database (F4, F5, F10).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub refresh_token: Option<String>,
    pub refresh_expires_at: Option<OffsetDateTime>,
    pub access_token: Option<String>,
    pub access_expires_at: Option<OffsetDateTime>,
    /// The last successful sign-in or refresh with the service: the start of F10's 90 days.
    pub last_online_sign_in: Option<OffsetDateTime>,
}

/// A telemetry event recorded on the device (F9) and uploaded as it is; `id` is made here, so
/// an upload that is resent is recognised by the service (the service's `TelemetryEvent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryEvent {
    pub id: Uuid,
    /// `session_start`, `step_viewed`, `guide_completed`, …
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guide_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// App sessions beyond the bound, counted instead of dropped (F9); uploaded as the service's
/// summary record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetrySummary {
    pub id: Uuid,
    pub sessions: u64,
    pub events: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub first_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
    /// Events per kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Sum of the events' durations.
    pub duration_ms: u64,
}

/// What is waiting to be uploaded, oldest first; acknowledged by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxItem {
    Event(TelemetryEvent),
    Summary(TelemetrySummary),
}

impl OutboxItem {
    pub fn id(&self) -> Uuid {
        match self {
            OutboxItem::Event(event) => event.id,
            OutboxItem::Summary(summary) => summary.id,
        }
    }
}

/// A step completion made on the device, kept until the service took or refused it (N5, S6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingResult {
    pub id: Uuid,
    pub guide_id: Uuid,
    pub version: u32,
    pub step_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
    #[serde(default)]
    pub value: Option<serde_json::Value>,
    /// Set when the service refused it at sync (S6): shown to the user, never silently dropped.
    #[serde(default)]
    pub rejected: Option<Rejection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub code: String,
    pub reason: String,
}

/// Sizes for `hologuide cache info`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheInfo {
    pub path: std::path::PathBuf,
    /// The database file with its write-ahead log.
    pub file_bytes: u64,
    pub guides: Vec<GuideListEntry>,
    /// Distinct complete blobs and their bytes (shared blobs counted once).
    pub blobs: u64,
    pub blob_bytes: u64,
    /// Downloads under way (resumable).
    pub partial_blobs: u64,
    pub partial_bytes: u64,
    pub pending_telemetry: u64,
    pub pending_results: u64,
}

/// What `verify` found; empty lists mean a sound cache.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerifyReport {
    /// `PRAGMA cipher_integrity_check` (page HMACs) and `PRAGMA integrity_check` findings.
    pub integrity: Vec<String>,
    /// Blobs whose bytes no longer hash to their name, or whose size is wrong.
    pub bad_blobs: Vec<String>,
    /// (guide, version, path) references to blobs that are missing or incomplete.
    pub missing_blobs: Vec<String>,
    pub checked_blobs: u64,
    pub checked_versions: u64,
}

impl VerifyReport {
    pub fn is_sound(&self) -> bool {
        self.integrity.is_empty() && self.bad_blobs.is_empty() && self.missing_blobs.is_empty()
    }
}
