//! Opening guides online and offline (F1, F3, F7, F8, F12, F13, F14, N1).

use std::num::NonZeroU32;
use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use super::{ClientError, Device};
use crate::app::access::{
    self, AllListEntry, CachedGuideFacts, LostAccess, Refused, ServiceVerdict,
};
use crate::app::shell::{Origin, ShellEvent};
use crate::app::{App, GuideSource};
use crate::cache::{AssetRef, CacheError, CachedVersion, GuideStatus, NewVersion, Store};
use crate::guide::{Guide, GuideLink};
use crate::net::download::{BlobSink, Progress, SinkError, Stored, Wanted, fetch_all};
use crate::net::limits::check_manifest;
use crate::net::{NetError, Refusal};

/// What `open` was asked for: a guide id, or a guide link from a QR code (F7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Guide(Uuid),
    Link(GuideLink),
}

impl Target {
    /// A guide id (UUID) or a guide link (`hologuide://…`, `https://…/l/…`).
    pub fn parse(text: &str) -> Result<Self, ClientError> {
        match Uuid::parse_str(text.trim()) {
            Ok(id) => Ok(Target::Guide(id)),
            Err(_) => Ok(Target::Link(GuideLink::parse(text)?)),
        }
    }

    pub fn guide_id(&self) -> Uuid {
        match self {
            Target::Guide(id) => *id,
            Target::Link(link) => link.guide,
        }
    }

    fn step(&self) -> Option<NonZeroU32> {
        match self {
            Target::Guide(_) => None,
            Target::Link(link) => link.step,
        }
    }
}

/// An opened guide and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Opened {
    #[serde(skip)]
    pub guide: Arc<Guide>,
    pub guide_id: Uuid,
    pub title: String,
    pub version: u32,
    pub origin: Origin,
    /// The step a link asked for.
    pub step: Option<NonZeroU32>,
    /// F2: the banner's state when the guide opened.
    pub offline_banner: bool,
    /// Bytes fetched from the network for this open (F1).
    pub downloaded_bytes: u64,
    /// The version's files by package path (none for the demo, whose files are in the app).
    #[serde(skip)]
    pub assets: Vec<AssetRef>,
}

impl Opened {
    /// The app state this open starts in: the step a link asked for (F7), or the first step,
    /// through the same [`App::open`] rule the 3D app uses (a step past the end opens step 1
    /// with a notice saying so).
    pub fn app(&self) -> App {
        App::open(Arc::clone(&self.guide), self.source(), self.step)
    }

    /// Why the guide is open, for the app: the demo stays the demo (F8) however it was opened.
    pub fn source(&self) -> GuideSource {
        match self.origin {
            Origin::Demo => GuideSource::Demo,
            Origin::Network | Origin::Cache => GuideSource::Service,
        }
    }
}

impl Device {
    /// Opens a guide: online, its latest version is fetched into the cache first (F1, F12);
    /// offline (or when the service cannot be reached), the cached copy, if the rules allow
    /// (N1, F13, F14). The demo guide opens with neither network nor account (F8).
    pub fn open(
        &mut self,
        target: &Target,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Opened, ClientError> {
        let id = target.guide_id();
        let is_demo = id == crate::demo::GUIDE_ID;
        let result = self.open_account_guide(target, progress);
        match result {
            Err(ClientError::Refused(Refused::NotSignedIn | Refused::NotCached { .. }))
                if is_demo =>
            {
                self.open_demo(target)
            }
            Err(ClientError::Refused(refused)) => {
                self.shell.handle(ShellEvent::Refused(refused.clone()));
                Err(refused.into())
            }
            other => other,
        }
    }

    fn open_demo(&mut self, target: &Target) -> Result<Opened, ClientError> {
        let package = crate::demo::load()?;
        let guide = Arc::new(package.guide);
        Ok(Opened {
            guide_id: guide.id,
            title: guide.title.clone(),
            version: guide.version,
            guide,
            origin: Origin::Demo,
            step: target.step(),
            offline_banner: self.shell.offline_banner(),
            downloaded_bytes: 0,
            assets: Vec::new(),
        })
    }

    fn open_account_guide(
        &mut self,
        target: &Target,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Opened, ClientError> {
        let store = self
            .account
            .as_ref()
            .map(|a| a.store.clone())
            .ok_or(Refused::NotSignedIn)?;
        if let Some(server) = self.reachable_server() {
            match self.open_online(&server, &store, target, progress) {
                Err(ClientError::Net(e)) if e.is_network() => {
                    tracing::info!("the service went away while opening: {e}; trying the cache");
                }
                other => return other,
            }
        }
        self.open_offline(&store, target)
    }

    fn open_online(
        &mut self,
        server: &crate::net::ApiClient,
        store: &Arc<Store>,
        target: &Target,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Opened, ClientError> {
        let id = target.guide_id();
        let info = match target {
            Target::Guide(id) => self.authorised(server, |t| server.guide(t, *id)),
            Target::Link(link) => self.authorised(server, |t| {
                server.resolve_link(t, &link.organisation, link.guide)
            }),
        };
        let info = match info {
            Ok(info) => info,
            Err(ClientError::Net(e)) => return Err(self.refused_online(store, id, e)),
            Err(other) => return Err(other),
        };
        store.confirm_clock()?;
        let manifest = self.authorised(server, |t| server.manifest(t, id, info.latest_version));
        let manifest = match manifest {
            Ok(manifest) => manifest,
            Err(ClientError::Net(e)) => return Err(self.refused_online(store, id, e)),
            Err(other) => return Err(other),
        };
        let (version, downloaded_bytes) =
            self.store_version(server, store, id, &info.title, manifest, progress)?;
        if let Err(e) = store.collect_garbage() {
            tracing::warn!("cleaning the cache after a download failed: {e}");
        }
        self.opened(version, Origin::Network, target, downloaded_bytes)
    }

    /// Keeps `manifest`'s version of its guide in the cache: the manifest checked as the
    /// service checks a package, the blobs the cache lacks downloaded, the version committed at
    /// once or not at all. Returns it and the bytes downloaded. Opening a guide and a profile
    /// sync both come through here.
    pub(crate) fn store_version(
        &mut self,
        server: &crate::net::ApiClient,
        store: &Arc<Store>,
        id: Uuid,
        title: &str,
        manifest: crate::net::wire::Manifest,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<(CachedVersion, u64), ClientError> {
        // A manifest of another guide than the one asked for is never kept under its name.
        if manifest.guide_id != id {
            return Err(NetError::Protocol {
                server: server.server().to_owned(),
                detail: format!(
                    "asked for guide {id}, the service answered with guide {}",
                    manifest.guide_id
                ),
            }
            .into());
        }
        // Checked as the service checks a package, before anything of it is stored.
        check_manifest(&manifest).map_err(|detail| NetError::Protocol {
            server: server.server().to_owned(),
            detail,
        })?;
        // The service lets us have it again (reactivated, permission given back).
        if store
            .current(id)?
            .is_some_and(|v| v.status != GuideStatus::Active)
        {
            store.mark_active(id)?;
        }
        let assets: Vec<AssetRef> = manifest
            .assets
            .iter()
            .map(|a| AssetRef {
                path: a.path.clone(),
                sha256: a.sha256.clone(),
                bytes: a.bytes,
            })
            .collect();
        let document = serde_json::to_value(&manifest).map_err(|e| NetError::Protocol {
            server: server.server().to_owned(),
            detail: format!("the manifest could not be kept: {e}"),
        })?;
        let writer = store.begin_version(NewVersion {
            guide_id: id,
            version: manifest.version,
            title: title.to_owned(),
            manifest: document,
            content_hash: manifest.content_hash.clone(),
            assets,
            lease_expires_at: Some(manifest.lease_expires_at),
        })?;
        let missing: Vec<Wanted> = writer
            .missing()?
            .into_iter()
            .map(|a| Wanted {
                sha256: a.sha256,
                bytes: a.bytes,
            })
            .collect();
        let downloaded_bytes = missing.iter().map(|w| w.bytes).sum();
        if !missing.is_empty() {
            let token = self.access_token(server)?;
            // The shell gets the latest value; the caller's callback sees every one.
            let latest = std::sync::Mutex::new(None::<Progress>);
            let both = |p: Progress| {
                progress(p);
                if let Ok(mut latest) = latest.lock() {
                    *latest = Some(p);
                }
            };
            let outcome = fetch_all(
                server,
                &token,
                &CacheSink(store),
                &missing,
                &self.config.download,
                &both,
            );
            if let Some(last) = latest.into_inner().ok().flatten() {
                self.shell.handle(ShellEvent::DownloadProgress {
                    done: last.done,
                    total: last.total,
                });
            }
            self.note(&outcome);
            outcome?;
        }
        let version = writer.commit()?;
        self.shell.handle(ShellEvent::DownloadFinished);
        Ok((version, downloaded_bytes))
    }

    /// F13, F14: the service refused the guide. A cached copy is marked with the service's
    /// words (never updated, kept until cleared); the refusal is what the user sees.
    pub(super) fn refused_online(
        &mut self,
        store: &Store,
        id: Uuid,
        error: NetError,
    ) -> ClientError {
        let status = match error.refusal() {
            Some(Refusal::Deactivated) => GuideStatus::Deactivated,
            Some(Refusal::Forbidden) => GuideStatus::PermissionLost,
            _ => return error.into(),
        };
        let message = error.to_string();
        match store.current(id) {
            Ok(Some(_)) => {
                if let Err(e) = store.mark_refused(id, status, &message) {
                    tracing::warn!("could not mark the cached guide {id} as refused: {e}");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("reading the cache: {e}"),
        }
        Refused::RefusedByService(message).into()
    }

    fn open_offline(&mut self, store: &Store, target: &Target) -> Result<Opened, ClientError> {
        let id = target.guide_id();
        let username = self.username().unwrap_or_default().to_owned();
        let version = store.current(id)?.ok_or(Refused::NotCached { username })?;
        let facts = facts_of(&version, store.lost_access()?);
        let now = self.config.clock.now();
        let last_seen = store.time_high_water()?;
        access::may_open_offline(&facts, now, last_seen)?;
        // N1: the time this copy was opened is a time the cache has seen.
        store.advance_time_seen()?;
        self.opened(version, Origin::Cache, target, 0)
    }

    fn opened(
        &mut self,
        version: CachedVersion,
        origin: Origin,
        target: &Target,
        downloaded_bytes: u64,
    ) -> Result<Opened, ClientError> {
        let guide = version.decode_guide().map_err(|e| ClientError::BadGuide {
            title: version.title.clone(),
            detail: e.to_string(),
        })?;
        if origin == Origin::Cache {
            self.shell
                .handle(ShellEvent::Notice("Opened from this device's copy.".into()));
        }
        // A guide the user opened stays when it leaves their offline profile (S2).
        if let Some(store) = self.store()
            && let Err(e) = store.note_opened_by_user(version.guide_id)
        {
            tracing::warn!(
                "could not note that guide {} was opened: {e}",
                version.guide_id
            );
        }
        Ok(Opened {
            guide: Arc::new(guide),
            guide_id: version.guide_id,
            title: version.title,
            version: version.version,
            origin,
            step: target.step(),
            offline_banner: self.shell.offline_banner(),
            downloaded_bytes,
            assets: version.assets,
        })
    }

    /// F3: every guide in the signed-in user's cache, whether it opens offline now, and why
    /// not. Shown in the shell's All list too.
    pub fn all_guides(&mut self) -> Result<Vec<AllListEntry>, ClientError> {
        let Some(store) = self.store().cloned() else {
            self.shell.handle(ShellEvent::ShowAllList(Vec::new()));
            return Ok(Vec::new());
        };
        let now = self.config.clock.now();
        let last_seen = store.time_high_water()?;
        let lost_access = store.lost_access()?;
        let mut entries = Vec::new();
        for entry in store.list()? {
            let facts = CachedGuideFacts {
                lost_access,
                title: entry.title.clone(),
                lease_expires_at: entry
                    .lease_expires_at
                    .unwrap_or(now + time::Duration::days(1)),
                verdict: verdict(entry.status, entry.status_message.clone()),
            };
            let refusal = access::may_open_offline(&facts, now, last_seen).err();
            // S6 keep-offline: it opens, and says why it is never updated.
            let kept = match (&refusal, &facts.verdict) {
                (
                    None,
                    ServiceVerdict::Deactivated(words) | ServiceVerdict::PermissionLost(words),
                ) => Some(format!("kept on this device, never updated: {words}")),
                _ => None,
            };
            entries.push(AllListEntry {
                guide_id: entry.guide_id,
                title: entry.title,
                version: entry.version,
                downloaded_at: entry.downloaded_at,
                opens_offline: refusal.is_none(),
                note: refusal.map(|r| r.to_string()).or(kept),
            });
        }
        self.shell.handle(ShellEvent::ShowAllList(entries.clone()));
        Ok(entries)
    }

    /// F11: an edit asked for; offline it is refused with the reason.
    pub fn edit_guide(&mut self, guide: Uuid) -> Result<(), ClientError> {
        if let Err(refused) = access::may_edit(self.link()) {
            self.shell.handle(ShellEvent::Refused(refused.clone()));
            return Err(refused.into());
        }
        // Online, guides are written on the service by authors; the device holds copies only.
        Err(ClientError::Refused(Refused::RefusedByService(format!(
            "Guide {guide} is changed on the guide service by its authors; this device shows copies only."
        ))))
    }
}

fn verdict(status: GuideStatus, message: Option<String>) -> ServiceVerdict {
    match status {
        GuideStatus::Active => ServiceVerdict::Open,
        GuideStatus::Deactivated => {
            ServiceVerdict::Deactivated(message.unwrap_or_else(|| {
                "This guide was deactivated and can no longer be opened.".into()
            }))
        }
        GuideStatus::PermissionLost => ServiceVerdict::PermissionLost(
            message.unwrap_or_else(|| "You no longer have permission to open this guide.".into()),
        ),
    }
}

/// What N1, F13 and F14 need to know of a cached version ([`access::may_open_offline`]).
pub fn facts_of(version: &CachedVersion, lost_access: LostAccess) -> CachedGuideFacts {
    CachedGuideFacts {
        lost_access,
        title: version.title.clone(),
        // Versions without a lease come from services before N1: they never expire by lease.
        lease_expires_at: version
            .lease_expires_at
            .unwrap_or(time::OffsetDateTime::new_utc(
                time::Date::MAX,
                time::Time::MIDNIGHT,
            )),
        verdict: verdict(version.status, version.status_message.clone()),
    }
}

/// Downloads go straight into the encrypted cache, piece by piece (resumable after a kill).
struct CacheSink<'a>(&'a Store);

fn sink_error(error: CacheError) -> SinkError {
    match error {
        CacheError::HashMismatch { .. } => SinkError::Damaged(error.to_string()),
        other => SinkError::Failed(other.to_string()),
    }
}

impl BlobSink for CacheSink<'_> {
    fn stored(&self, sha256: &str, _bytes: u64) -> Result<Stored, SinkError> {
        if self.0.has_blob(sha256).map_err(sink_error)? {
            return Ok(Stored::Complete);
        }
        Ok(Stored::Partial(
            self.0.partial_len(sha256).map_err(sink_error)?,
        ))
    }

    fn append(&self, sha256: &str, offset: u64, data: &[u8]) -> Result<(), SinkError> {
        self.0
            .append_partial(sha256, offset, data)
            .map(|_| ())
            .map_err(sink_error)
    }

    fn finish(&self, sha256: &str) -> Result<(), SinkError> {
        self.0.finish_partial(sha256).map_err(sink_error)
    }

    fn discard(&self, sha256: &str) -> Result<(), SinkError> {
        self.0.discard_partial(sha256).map_err(sink_error)
    }

    fn available(&self) -> Result<u64, SinkError> {
        self.0.available_bytes().map_err(sink_error)
    }
}
