//! The service's JSON as the device reads it. Defined here rather than borrowed from
//! `service::model` so the device never links the server's types into its rules; unknown fields
//! are ignored so a newer service can add some without breaking older devices.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What `POST /v1/session` and `POST /v1/session/refresh` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    pub access_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub access_expires_at: OffsetDateTime,
    pub refresh_token: String,
    /// Rolling 90 days from the last online sign-in or refresh (F10).
    #[serde(with = "time::serde::rfc3339")]
    pub refresh_expires_at: OffsetDateTime,
    pub device_id: String,
    pub user: Account,
    /// N2: the keys signed stickers are checked with (absent from services before N2).
    #[serde(default)]
    pub link_trust: LinkTrustWire,
}

/// What the service says a device may trust for signed links (N2).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LinkTrustWire {
    #[serde(default)]
    pub keys: Vec<LinkKeyWire>,
    #[serde(default)]
    pub signatures_required: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LinkKeyWire {
    pub organisation: String,
    pub key_id: String,
    /// 32 bytes, hex.
    pub public_key: String,
    pub retired: bool,
}

impl LinkTrustWire {
    /// The keys as the device keeps them; one that is not a 32-byte key named by its own id is
    /// left out (it could never verify anything).
    pub fn to_trust(&self) -> crate::guide::link_trust::LinkTrust {
        use crate::guide::link_trust::{LinkKey, LinkTrust, PUBLIC_KEY_BYTES, key_id};
        LinkTrust {
            keys: self
                .keys
                .iter()
                .filter_map(|k| {
                    let public_key = hex::decode(&k.public_key).ok()?;
                    (public_key.len() == PUBLIC_KEY_BYTES && key_id(&public_key) == k.key_id).then(
                        || LinkKey {
                            organisation: k.organisation.clone(),
                            key_id: k.key_id.clone(),
                            public_key,
                            retired: k.retired,
                        },
                    )
                })
                .collect(),
            signatures_required: self.signatures_required.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Account {
    pub id: Uuid,
    pub username: String,
    pub role: String,
}

/// A guide's latest metadata (`GET /v1/guides/{id}`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct GuideInfo {
    pub id: Uuid,
    pub organisation: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub active: bool,
    pub latest_version: u32,
    pub content_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Asset {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// One version's manifest with the offline lease the service granted now (N1).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Manifest {
    pub guide_id: Uuid,
    pub version: u32,
    pub content_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    pub total_bytes: u64,
    /// Refused past `limits::MAX_GUIDE_ASSETS` while being read.
    #[serde(deserialize_with = "super::limits::bounded_assets")]
    pub assets: Vec<Asset>,
    /// `guide.json` of this version.
    pub guide: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub lease_expires_at: OffsetDateTime,
}

/// What the signed-in member's device should hold now (`GET /v1/me/profile/manifest`: S2, S7,
/// S8): the offline profile's guides the member may open, each at its latest version.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ProfileManifest {
    pub profile: String,
    #[serde(default)]
    pub description: String,
    pub revision: u64,
    pub modified_within_days: Option<u32>,
    /// S6: what the device does with cached guides the member may no longer open; services
    /// from before it send none (the copy locks, as it always did).
    #[serde(default)]
    pub lost_access: crate::app::access::LostAccess,
    /// Read within the answer's byte bound (`limits::MAX_LIST_ANSWER`).
    pub guides: Vec<ProfileGuide>,
    /// Bytes of all distinct blobs: what a sync from empty downloads.
    pub total_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ProfileGuide {
    pub id: Uuid,
    pub title: String,
    pub version: u32,
    pub content_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    pub bytes: u64,
    #[serde(deserialize_with = "super::limits::bounded_assets")]
    pub assets: Vec<Asset>,
}

/// `GET /v1/links/{org}/g/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkTarget {
    pub guide: GuideInfo,
}

/// One telemetry event of `POST /v1/telemetry` (F9); `id` is made on the device, so an upload
/// that is resent is recognised by the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TelemetryEvent {
    pub id: Uuid,
    /// `session_start`, `step_viewed`, `guide_completed`, …
    pub kind: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guide_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// App sessions a device folded into counts instead of keeping them event by event (F9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TelemetrySummary {
    pub id: Uuid,
    pub sessions: u64,
    pub events: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub first_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
    /// Events per kind.
    pub by_kind: std::collections::BTreeMap<String, u64>,
    /// Sum of the events' durations.
    pub duration_ms: u64,
}

/// A step result made on the device (N5, S6), as `POST /v1/results` takes it; `id` is made on
/// the device, so a resent batch is stored once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    pub id: Uuid,
    pub guide_id: Uuid,
    pub version: u32,
    pub step_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
    pub value: Option<serde_json::Value>,
}

/// How an uploaded batch fared, item by item.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IngestOutcome {
    pub accepted: Vec<Uuid>,
    pub duplicates: Vec<Uuid>,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Rejected {
    pub id: Uuid,
    pub code: String,
    pub reason: String,
}

/// Every refusal of the service: `{"error": code, "message": text}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}
