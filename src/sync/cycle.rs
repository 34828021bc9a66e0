//! One sync cycle against the service (see the module's documentation).

use std::collections::HashSet;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::plan::{CacheState, Held, Plan, plan};
use crate::app::access::{LostAccess, Refused};
use crate::cache::{CacheError, DataUsage, GuideStatus, Store};
use crate::client::{ClientError, Device, ResultsUploaded, Uploaded};
use crate::net::download::Progress;
use crate::net::wire::ProfileManifest;
use crate::net::{Conditional, Refusal};

/// Keys of the cache's `sync_state`.
const ETAG: &str = "profile.etag";
const MANIFEST: &str = "profile.manifest";
const LAST_SYNC: &str = "sync.last";

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("the kept profile manifest cannot be read: {0}")]
    KeptManifest(serde_json::Error),
}

impl From<Refused> for SyncError {
    fn from(refused: Refused) -> Self {
        Self::Client(refused.into())
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Plan only: nothing is downloaded or removed.
    pub dry_run: bool,
}

/// Whether the plan may go ahead (a user asked, a rule allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    Go,
    Declined,
    /// The operator has been asked (S7) and has not answered yet: nothing is downloaded now.
    Asked,
}

/// A guide version the cycle stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuideDone {
    pub guide_id: Uuid,
    pub title: String,
    pub version: u32,
    pub downloaded_bytes: u64,
}

/// What a cycle did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The service answered 304: the profile is as the device last saw it.
    pub manifest_unchanged: bool,
    pub plan: Plan,
    pub dry_run: bool,
    pub approval: Approval,
    pub stored: Vec<GuideDone>,
    pub removed: Vec<Uuid>,
    /// Guides the service refused while syncing (deactivated or no longer permitted since the
    /// manifest was made), with its words.
    pub refused: Vec<(Uuid, String)>,
    /// S6: cached guides this user may no longer open, found at this sync, with the service's
    /// words and what the organisation's policy does with them.
    pub access_lost: Vec<AccessLost>,
    pub downloaded_bytes: u64,
    /// The telemetry outbox uploaded with the cycle (F9); `None` on a dry run or when the
    /// upload failed (it stays in the outbox for the next contact; the log says why).
    pub telemetry: Option<Uploaded>,
    /// Step results made on the device, uploaded with the cycle (N5, S6); `None` as above.
    pub results: Option<ResultsUploaded>,
    /// "done", "nothing to do", "declined", "dry run", or what stopped the cycle (the next one
    /// goes on from there).
    pub outcome: String,
}

/// S6: a cached guide the service no longer lets this user open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessLost {
    pub guide_id: Uuid,
    pub title: String,
    /// The service's words ("you do not have permission to open …").
    pub words: String,
    pub policy: LostAccess,
}

impl AccessLost {
    /// What the user reads.
    pub fn line(&self) -> String {
        match self.policy {
            LostAccess::KeepOffline => format!(
                "{}: {}. This device's copy stays usable offline until cleared, and is not updated.",
                self.title, self.words
            ),
            LostAccess::LockOnSync => format!(
                "{}: {}. It no longer opens on this device.",
                self.title, self.words
            ),
        }
    }
}

/// The last cycle as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct LastSync {
    pub profile: String,
    pub revision: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub outcome: String,
}

/// The last sync and the data-usage history kept in `store`.
pub fn sync_status(store: &Store) -> Result<(Option<LastSync>, Vec<DataUsage>), CacheError> {
    let last = store
        .sync_state(LAST_SYNC)?
        .and_then(|text| serde_json::from_str(&text).ok());
    Ok((last, store.data_usage(10)?))
}

/// Runs one cycle on `device` (signed in, online). `approve` sees the plan before anything is
/// downloaded; `progress` sees each guide's download.
pub fn run_cycle(
    device: &mut Device,
    options: SyncOptions,
    approve: &mut dyn FnMut(&Plan) -> Approval,
    progress: &(dyn Fn(&str, Progress) + Sync),
) -> Result<SyncReport, SyncError> {
    let started_at = device.now();
    let store = device.store().cloned().ok_or(Refused::NotSignedIn)?;
    let etag = store.sync_state(ETAG)?;
    let kept = store.sync_state(MANIFEST)?;
    // Without the manifest it belongs to, an ETag is no use: ask for the whole answer.
    let conditional = etag.as_deref().filter(|e| !e.is_empty() && kept.is_some());
    let answer = match device.profile_manifest(conditional) {
        // The member is in no profile (never was, taken out, the profile deleted): the device
        // holds no profile guides any more. (A 404 is the service's own answer here: a proxy's
        // page without its JSON is a protocol error, not a refusal.)
        Err(ClientError::Net(e)) if e.refusal() == Some(Refusal::NotFound) => {
            Conditional::Changed {
                // No manifest to say the organisation's policy: the last one heard holds.
                value: no_profile(store.lost_access()?),
                etag: None,
            }
        }
        other => other?,
    };
    let (manifest, unchanged) = match answer {
        Conditional::Changed { value, etag } => {
            // Kept before any download: a cycle killed from here on resumes from it. A dry run
            // changes nothing.
            if !options.dry_run {
                let text = serde_json::to_string(&value).map_err(SyncError::KeptManifest)?;
                store.set_sync_state(MANIFEST, &text)?;
                store.set_sync_state(ETAG, etag.as_deref().unwrap_or(""))?;
            }
            (value, false)
        }
        Conditional::Unchanged => {
            let text = kept.unwrap_or_default();
            let value: ProfileManifest =
                serde_json::from_str(&text).map_err(SyncError::KeptManifest)?;
            (value, true)
        }
    };
    // S6: permission changes take effect now, by the organisation's policy. A dry run changes
    // nothing, so it does not look.
    let access_lost = if options.dry_run {
        Vec::new()
    } else {
        store.set_lost_access(manifest.lost_access)?;
        recheck_access(device, &store, &manifest)?
    };
    let plan = plan(&manifest, &cache_state(&store, &manifest)?);
    let mut report = SyncReport {
        manifest_unchanged: unchanged,
        plan,
        dry_run: options.dry_run,
        approval: Approval::Go,
        stored: Vec::new(),
        removed: Vec::new(),
        refused: Vec::new(),
        access_lost,
        downloaded_bytes: 0,
        telemetry: None,
        results: None,
        outcome: String::new(),
    };
    if options.dry_run {
        report.outcome = "dry run".into();
        return Ok(report);
    }
    if report.plan.is_empty() {
        report.outcome = "nothing to do".into();
    } else if !report.plan.downloads.is_empty() {
        report.approval = approve(&report.plan);
    }
    if report.approval != Approval::Go {
        report.outcome = match report.approval {
            Approval::Asked => "waiting for the operator's answer".into(),
            _ => "declined".into(),
        };
        finish(&store, &manifest, &report, started_at, device)?;
        return Ok(report);
    }
    let mut stopped = None;
    for download in report.plan.downloads.clone() {
        let title = download.title.clone();
        let each = |p: Progress| progress(&title, p);
        match device.fetch_guide_version(download.guide_id, &title, download.version, &each) {
            Ok((version, bytes)) => {
                report.downloaded_bytes += bytes;
                report.stored.push(GuideDone {
                    guide_id: version.guide_id,
                    title: version.title,
                    version: version.version,
                    downloaded_bytes: bytes,
                });
            }
            // The service refused this guide since it made the manifest: the rest go on.
            Err(ClientError::Refused(Refused::RefusedByService(words))) => {
                report.refused.push((download.guide_id, words));
            }
            Err(e) => {
                stopped = Some(e.to_string());
                break;
            }
        }
    }
    // What happened offline goes up with the cycle (F9), before a guide it concerns leaves
    // the device (a refusal names the guide by its title).
    if stopped.is_none() {
        match device.upload_telemetry() {
            Ok(uploaded) => report.telemetry = Some(uploaded),
            Err(e) => tracing::warn!("telemetry not uploaded with the sync: {e}"),
        }
        match device.upload_results() {
            Ok(uploaded) => report.results = Some(uploaded),
            Err(e) => tracing::warn!("step results not uploaded with the sync: {e}"),
        }
    }
    if stopped.is_none() {
        for removal in &report.plan.removals {
            if store.clear_guide(removal.guide_id)? {
                report.removed.push(removal.guide_id);
            }
        }
    }
    report.outcome = match stopped {
        Some(why) => format!("stopped: {why}"),
        None if report.outcome.is_empty() => "done".into(),
        None => report.outcome.clone(),
    };
    finish(&store, &manifest, &report, started_at, device)?;
    Ok(report)
}

/// The manifest of a member of no profile.
fn no_profile(lost_access: LostAccess) -> ProfileManifest {
    ProfileManifest {
        lost_access,
        profile: String::new(),
        description: String::new(),
        revision: 0,
        modified_within_days: None,
        guides: Vec::new(),
        total_bytes: 0,
    }
}

/// S6: the cached guides the manifest does not name that the service now refuses (the ones it
/// names the member may open). A failure to look is logged, not fatal: access is checked again
/// at the next sync, and until then the previous access holds.
fn recheck_access(
    device: &mut Device,
    store: &Store,
    manifest: &ProfileManifest,
) -> Result<Vec<AccessLost>, SyncError> {
    let named: HashSet<Uuid> = manifest.guides.iter().map(|g| g.id).collect();
    let held: Vec<_> = store
        .list()?
        .into_iter()
        .filter(|e| e.status == GuideStatus::Active && !named.contains(&e.guide_id))
        .collect();
    let ids: Vec<Uuid> = held.iter().map(|e| e.guide_id).collect();
    let refused = match device.recheck_access(&ids) {
        Ok(refused) => refused,
        Err(e) => {
            tracing::warn!("access to the cached guides not checked at this sync: {e}");
            return Ok(Vec::new());
        }
    };
    Ok(refused
        .into_iter()
        .map(|(guide_id, words)| AccessLost {
            guide_id,
            title: held
                .iter()
                .find(|e| e.guide_id == guide_id)
                .map(|e| e.title.clone())
                .unwrap_or_default(),
            words,
            policy: manifest.lost_access,
        })
        .collect())
}

/// What the cache holds of `manifest`'s guides and the profile's.
fn cache_state(store: &Store, manifest: &ProfileManifest) -> Result<CacheState, CacheError> {
    let held = store
        .list()?
        .into_iter()
        .map(|entry| Held {
            guide_id: entry.guide_id,
            title: entry.title,
            version: entry.version,
            content_hash: entry.content_hash,
        })
        .collect();
    let kept_offline = match store.lost_access()? {
        LostAccess::KeepOffline => store
            .list()?
            .into_iter()
            .filter(|e| e.status != GuideStatus::Active)
            .map(|e| e.guide_id)
            .collect(),
        LostAccess::LockOnSync => HashSet::new(),
    };
    let mut blobs = HashSet::new();
    for asset in manifest.guides.iter().flat_map(|g| &g.assets) {
        if !blobs.contains(&asset.sha256) && store.has_blob(&asset.sha256)? {
            blobs.insert(asset.sha256.clone());
        }
    }
    Ok(CacheState {
        held,
        held_by_profile: store.profile_guides()?,
        opened_by_user: store.opened_by_user()?,
        kept_offline,
        blobs,
    })
}

/// Records which guides the profile now holds here, the last sync and its bytes.
fn finish(
    store: &Store,
    manifest: &ProfileManifest,
    report: &SyncReport,
    started_at: OffsetDateTime,
    device: &Device,
) -> Result<(), SyncError> {
    let present: HashSet<Uuid> = store.list()?.iter().map(|e| e.guide_id).collect();
    let held: Vec<Uuid> = manifest
        .guides
        .iter()
        .map(|g| g.id)
        .filter(|id| present.contains(id))
        .collect();
    store.set_profile_guides(&held, manifest.revision)?;
    if !report.removed.is_empty()
        && let Err(e) = store.collect_garbage()
    {
        tracing::warn!("cleaning the cache after a sync failed: {e}");
    }
    let finished_at = device.now();
    let last = LastSync {
        profile: manifest.profile.clone(),
        revision: manifest.revision,
        finished_at,
        outcome: report.outcome.clone(),
    };
    if let Ok(text) = serde_json::to_string(&last) {
        store.set_sync_state(LAST_SYNC, &text)?;
    }
    // A cycle that had nothing to fetch is no data usage worth a line of history.
    if report.plan.downloads.is_empty() && report.downloaded_bytes == 0 {
        return Ok(());
    }
    store.record_data_usage(&DataUsage {
        started_at,
        finished_at,
        planned_bytes: report.plan.download_bytes,
        downloaded_bytes: report.downloaded_bytes,
        guides: report.stored.len() as u32,
        outcome: report.outcome.clone(),
    })?;
    Ok(())
}
