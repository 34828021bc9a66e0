//! The service's metadata behind one trait.
//!
//! [`SqliteStore`] is the implementation for one machine: SQLite in WAL mode, migrations
//! numbered by `PRAGMA user_version`. [`PostgresStore`] is where the service goes when one
//! machine is not enough (N4): several instances on one PostgreSQL. Nothing above this trait
//! knows which database it talks to. Methods are synchronous: the HTTP layer calls them on tokio's blocking
//! pool. Every write that must be all-or-nothing (a publish, a profile change) is one method, so
//! each implementation can make it one transaction.

mod copy;
mod postgres;
mod postgres_accounts;
mod postgres_guides;
mod postgres_ingest;
mod postgres_link_keys;
mod postgres_profiles;
mod sqlite;
mod sqlite_accounts;
mod sqlite_guides;
mod sqlite_ingest;
mod sqlite_link_keys;
mod sqlite_profiles;

use std::collections::HashSet;

use thiserror::Error;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::service::model::PhotoRecord;

pub use copy::{TableCopy, TableDigest, copy_sqlite_to_postgres, referenced_blobs};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use super::model::{
    AssetEntry, AttributedResult, Device, GuideSummary, LostAccess, Principal, Profile,
    ProfileSpec, Role, Stats, StepResult, TelemetryEvent, TelemetrySummary, User, VersionManifest,
};
use crate::guide::Guide;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The detail is the source, so that error chains print it once.
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    /// The detail is the source, as for SQLite.
    #[error("database error")]
    Postgres(#[from] ::postgres::Error),
    /// No connection to the PostgreSQL server (down, refused, pool timed out, bad URL).
    #[error("cannot reach the PostgreSQL database: {0}")]
    Connect(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error(
        "the database at {path} has schema version {found}; this build knows up to {known} — use a newer hologuide-server"
    )]
    SchemaTooNew {
        path: String,
        found: i64,
        known: i64,
    },
    /// A publish under an id another organisation's guide already has (N4). Says nothing about
    /// that guide: not its organisation, not its title.
    #[error(
        "the guide id {0} is already taken by a guide you cannot publish to; give your package an id of its own"
    )]
    OwnedElsewhere(Uuid),
    #[error("the database holds a damaged value: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A result's recorded value as the database keeps it (JSON text), read back.
fn stored_value(
    id: &dyn std::fmt::Display,
    text: Option<String>,
) -> StoreResult<Option<serde_json::Value>> {
    text.map(|v| serde_json::from_str(&v))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("result {id}: {e}")))
}

/// The stored policy; an organisation without one locks on sync.
fn lost_access_of(stored: Option<String>) -> StoreResult<LostAccess> {
    match stored {
        None => Ok(LostAccess::default()),
        Some(text) => LostAccess::parse(&text)
            .ok_or_else(|| StoreError::Corrupt(format!("'{text}' is no lost-access policy"))),
    }
}

pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub organisation: String,
    pub all_organisations: bool,
    pub groups: Vec<String>,
    pub created_at: OffsetDateTime,
}

pub struct NewSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub device_id: String,
    pub tokens: TokenHashes,
    pub created_at: OffsetDateTime,
}

/// Hashes of an access/refresh token pair and when each stops working.
pub struct TokenHashes {
    pub access_hash: Vec<u8>,
    pub access_expires_at: OffsetDateTime,
    pub refresh_hash: Vec<u8>,
    pub refresh_expires_at: OffsetDateTime,
}

/// The last rotation of a session's refresh token: which token it replaced, when, and the nonce
/// the new pair was derived with (see `secrets::rotated_tokens`).
#[derive(Debug, Clone)]
pub struct Rotation {
    pub previous_refresh_hash: Vec<u8>,
    pub rotated_at: OffsetDateTime,
    pub nonce: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: Uuid,
    pub user: User,
    pub device_id: String,
    pub access_hash: Vec<u8>,
    pub access_expires_at: OffsetDateTime,
    pub refresh_hash: Vec<u8>,
    pub refresh_expires_at: OffsetDateTime,
    pub revoked: bool,
}

pub struct NewVersion {
    /// The validated guide; its `version` is replaced by the number the store assigns.
    pub guide: Guide,
    pub content_hash: String,
    pub assets: Vec<AssetEntry>,
    pub published_by: Uuid,
    pub published_at: OffsetDateTime,
}

/// Whether a step of a version exists, for validating results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepLookup {
    NoSuchVersion,
    NoSuchStep,
    /// With what the step records (N6), as stored at publish.
    Found {
        capture: Option<String>,
    },
}

/// What a step records, as `version_steps.capture` keeps it (N6).
fn capture_json(step: &crate::guide::Step) -> Option<String> {
    step.capture
        .as_ref()
        .and_then(|c| serde_json::to_string(c).ok())
}

/// How storing one idempotent item went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    /// Stored before by the same user: nothing written.
    Duplicate,
    /// The id is already used by another user's item.
    IdTaken,
}

/// Everything the service keeps, in five parts an implementation provides.
pub trait Storage: AccountStore + GuideStore + ProfileStore + IngestStore + LinkKeyStore {}

impl<T: AccountStore + GuideStore + ProfileStore + IngestStore + LinkKeyStore> Storage for T {}

/// An organisation's link-signing key (N2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkKeyRecord {
    pub organisation: String,
    pub key_id: String,
    pub public_key: Vec<u8>,
    /// Sealed (`service::key_sealing`), kept and returned as it is: the store never sees the
    /// key itself. A key stored before keys were sealed holds PKCS#8 until the service's next
    /// start seals it. Never leaves the service.
    pub private_key: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

/// One key's stored private part to replace while it still holds `from` (N2: the keys stored
/// before keys were sealed, sealed in place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateKeyReplacement {
    pub organisation: String,
    pub key_id: String,
    pub from: Vec<u8>,
    pub to: Vec<u8>,
}

/// Signed guide links (N2): the organisations' keys and who requires signatures.
pub trait LinkKeyStore: Send + Sync {
    fn add_link_key(&self, key: &LinkKeyRecord) -> StoreResult<()>;
    /// Replaces the private part of each key that still holds `from` with `to`, all in one
    /// transaction, erasing the old bytes from the database file where it can; how many were
    /// replaced. A key another process replaced meanwhile is left as it is, so a second run, or
    /// two instances starting at once, replace each key once.
    fn replace_private_keys(&self, replacements: &[PrivateKeyReplacement]) -> StoreResult<usize>;
    /// The keys of `organisation` (every organisation's with `None`), newest first.
    fn link_keys(&self, organisation: Option<&str>) -> StoreResult<Vec<LinkKeyRecord>>;
    /// False when the organisation has no such key not yet retired.
    fn retire_link_key(
        &self,
        organisation: &str,
        key_id: &str,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    fn set_signed_links_required(&self, organisation: &str, required: bool) -> StoreResult<()>;
    /// The organisations that accept only signed links, sorted.
    fn signed_links_required(&self) -> StoreResult<Vec<String>>;
}

pub trait AccountStore: Send + Sync {
    fn create_user(&self, user: &NewUser) -> StoreResult<User>;
    /// The user and their password hash.
    fn user_credentials(&self, username: &str) -> StoreResult<Option<(User, String)>>;
    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    fn users(&self) -> StoreResult<Vec<User>>;
    /// The organisations users belong to, sorted.
    fn organisations(&self) -> StoreResult<Vec<String>>;
    fn add_to_group(&self, user_id: Uuid, group: &str) -> StoreResult<()>;
    fn record_device(&self, user_id: Uuid, device_id: &str, at: OffsetDateTime) -> StoreResult<()>;
    fn devices(&self, user_id: Uuid) -> StoreResult<Vec<Device>>;
    /// Whether the user has signed in (or refreshed) on this device before.
    fn is_known_device(&self, user_id: Uuid, device_id: &str) -> StoreResult<bool>;
    fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    fn session_by_access_hash(&self, hash: &[u8]) -> StoreResult<Option<SessionRecord>>;
    fn session_by_refresh_hash(&self, hash: &[u8]) -> StoreResult<Option<SessionRecord>>;
    /// The session whose refresh token before its last rotation hashes to `hash`, with that
    /// rotation.
    fn session_by_previous_refresh_hash(
        &self,
        hash: &[u8],
    ) -> StoreResult<Option<(SessionRecord, Rotation)>>;
    /// Replaces the token pair of a live session whose refresh hash is still
    /// `rotation.previous_refresh_hash`, remembering the rotation; `false` when another refresh
    /// won the race or the session was revoked.
    fn rotate_session(
        &self,
        session_id: Uuid,
        tokens: &TokenHashes,
        rotation: &Rotation,
    ) -> StoreResult<bool>;
    fn revoke_session(&self, session_id: Uuid, at: OffsetDateTime) -> StoreResult<()>;
    /// Consecutive failed sign-ins counted against `key` (a user name, a known device or a
    /// source address; see `core::sign_in`) and when the last one was.
    fn sign_in_failures(&self, key: &str) -> StoreResult<Option<(u32, OffsetDateTime)>>;
    /// Counts one more failure (forgetting failures older than `forget_before`); returns the count.
    fn record_sign_in_failure(
        &self,
        key: &str,
        at: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> StoreResult<u32>;
    fn clear_sign_in_failures(&self, key: &str) -> StoreResult<()>;
}

pub trait GuideStore: Send + Sync {
    /// Stores a new immutable version, numbered one past the latest, and makes it the latest —
    /// all in one transaction. The blobs must already be in the blob store.
    fn publish_version(&self, version: &NewVersion) -> StoreResult<VersionManifest>;
    fn guide(&self, id: Uuid) -> StoreResult<Option<GuideSummary>>;
    /// Every guide of the organisation (`None`: of all organisations), deactivated ones too.
    fn guides(&self, organisation: Option<&str>) -> StoreResult<Vec<GuideSummary>>;
    /// Guides the user may view through a grant to them or to one of their groups.
    fn granted_guides(&self, user_id: Uuid) -> StoreResult<HashSet<Uuid>>;
    fn version_manifest(&self, id: Uuid, version: u32) -> StoreResult<Option<VersionManifest>>;
    fn step_lookup(&self, id: Uuid, version: u32, step_id: &str) -> StoreResult<StepLookup>;
    /// Size of a blob some version refers to, and the guides referring to it.
    fn blob_users(&self, sha256: &str) -> StoreResult<Option<(u64, Vec<Uuid>)>>;
    /// `false` when there is no such guide.
    fn set_active(&self, id: Uuid, active: bool, at: OffsetDateTime) -> StoreResult<bool>;
    fn set_tags(&self, id: Uuid, tags: &[String], at: OffsetDateTime) -> StoreResult<bool>;
    /// The guide's own offline lease in seconds (`None`: the service's default); `false` when
    /// there is no such guide.
    fn set_offline_lease(&self, id: Uuid, seconds: Option<i64>) -> StoreResult<bool>;
    fn offline_lease(&self, id: Uuid) -> StoreResult<Option<i64>>;
    fn grant(&self, id: Uuid, to: &Principal, at: OffsetDateTime) -> StoreResult<()>;
    /// `false` when there was no such grant.
    fn revoke(&self, id: Uuid, from: &Principal) -> StoreResult<bool>;
    fn grants(&self, id: Uuid) -> StoreResult<Vec<Principal>>;
}

/// Offline profiles (S1–S4, S7).
pub trait ProfileStore: Send + Sync {
    fn create_profile(
        &self,
        spec: &ProfileSpec,
        organisation: &str,
        at: OffsetDateTime,
    ) -> StoreResult<Profile>;
    /// The organisation's profiles (`None`: every organisation's).
    fn profiles(&self, organisation: Option<&str>) -> StoreResult<Vec<Profile>>;
    /// Profile names are unique within an organisation; every lookup by name names it.
    fn profile(&self, organisation: &str, name: &str) -> StoreResult<Option<Profile>>;
    fn update_profile(
        &self,
        organisation: &str,
        name: &str,
        spec: &ProfileSpec,
        at: OffsetDateTime,
    ) -> StoreResult<Profile>;
    fn delete_profile(&self, organisation: &str, name: &str) -> StoreResult<bool>;
    /// S4: a conflict naming the profile the user is already in.
    fn add_member(
        &self,
        organisation: &str,
        profile: &str,
        user_id: Uuid,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    fn remove_member(
        &self,
        organisation: &str,
        profile: &str,
        user_id: Uuid,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    fn profile_of(&self, user_id: Uuid) -> StoreResult<Option<Profile>>;
    fn guides_tagged(&self, tags: &[String]) -> StoreResult<Vec<Uuid>>;
    /// S6: the organisation's policy for guides its members may no longer open.
    fn lost_access(&self, organisation: &str) -> StoreResult<LostAccess>;
    fn set_lost_access(&self, organisation: &str, policy: LostAccess) -> StoreResult<()>;
}

/// Telemetry and step results (N5): one outcome per item, in order.
pub trait IngestStore: Send + Sync {
    fn store_telemetry(
        &self,
        user_id: Uuid,
        device_id: &str,
        events: &[TelemetryEvent],
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Stored>>;
    fn store_summaries(
        &self,
        user_id: Uuid,
        device_id: &str,
        summaries: &[TelemetrySummary],
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Stored>>;
    fn store_results(
        &self,
        user_id: Uuid,
        device_id: &str,
        results: &[StepResult],
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Stored>>;
    fn results_of(&self, user_id: Uuid) -> StoreResult<Vec<StepResult>>;
    /// Every result recorded for `guide` (any version, any user), from `since` on, oldest first.
    fn results_of_guide(
        &self,
        guide: Uuid,
        since: Option<OffsetDateTime>,
    ) -> StoreResult<Vec<AttributedResult>>;
    fn stats(&self) -> StoreResult<Stats>;
    /// N6: keeps a photo once per digest; one already kept is left as it was.
    fn store_photo(&self, photo: &PhotoRecord) -> StoreResult<()>;
    /// Who sent the photo of this digest (organisation and user), if it is kept.
    fn photo_owner(&self, sha256: &str) -> StoreResult<Option<(String, Uuid)>>;
    fn photo(&self, sha256: &str) -> StoreResult<Option<PhotoRecord>>;
}
