//! Publishing guide packages, and who may see which guide (F13, F14).

use std::path::Path;

use serde::Serialize;
use time::Duration;
use uuid::Uuid;

use super::{Service, check_name};
use crate::guide::{GuidePackage, PackageError};
use crate::service::blobs::PutError;
use crate::service::error::ServiceError;
use crate::service::model::{
    AssetEntry, Caller, GuideSummary, Principal, Role, Scope, ServedManifest, User, VersionManifest,
};
use crate::service::secrets::sha256_hex;
use crate::service::store::{NewVersion, StoreError};

/// What a guide link resolves to.
#[derive(Debug, Clone, Serialize)]
pub struct LinkTarget {
    pub guide: GuideSummary,
    /// Where the latest version's manifest is, relative to the service root.
    pub manifest: String,
}

/// sha256 over the guide without its version number and the sorted (path, sha256) pairs: the
/// same content always has the same hash.
fn content_hash(guide: &crate::guide::Guide, assets: &[AssetEntry]) -> String {
    let mut unversioned = guide.clone();
    unversioned.version = 0;
    let mut text = unversioned.to_json_pretty();
    let mut sorted: Vec<&AssetEntry> = assets.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for asset in sorted {
        text.push('\n');
        text.push_str(&asset.path);
        text.push('\0');
        text.push_str(&asset.sha256);
    }
    sha256_hex(text.as_bytes())
}

fn is_gltf_json(path: &str) -> bool {
    path.to_ascii_lowercase().ends_with(".gltf")
}

/// The buffers and images a `.gltf` model keeps in files beside it, as package paths. The
/// package check has already made sure they are inside the package and present.
fn gltf_sidecars(path: &str, bytes: &[u8]) -> Vec<String> {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Vec::new();
    };
    let directory = path.rsplit_once('/').map(|(dir, _)| dir);
    ["buffers", "images"]
        .iter()
        .filter_map(|collection| document.get(collection)?.as_array())
        .flatten()
        .filter_map(|item| item.get("uri")?.as_str())
        .filter(|uri| !uri.starts_with("data:"))
        .map(|uri| match directory {
            Some(dir) => format!("{dir}/{uri}"),
            None => uri.to_owned(),
        })
        .collect()
}

/// Where a package being published came from: how its errors may name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageOrigin {
    /// A file or folder of the admin's on the service's machine: errors name its path.
    Local,
    /// A body sent over HTTP, kept in a temporary file whose path is none of the sender's
    /// business: errors never show it.
    Upload,
}

fn package_error(error: PackageError, origin: PackageOrigin) -> ServiceError {
    match error {
        PackageError::Invalid { problems, .. } => ServiceError::InvalidPackage { problems },
        other if origin == PackageOrigin::Upload => ServiceError::Invalid(other.reason()),
        other => ServiceError::Invalid(other.to_string()),
    }
}

/// The answer for a guide the caller may not know about: another organisation's looks exactly
/// like one that does not exist (N4).
fn no_such_guide(id: Uuid) -> ServiceError {
    ServiceError::NotFound(format!("there is no guide {id}"))
}

impl Service {
    /// Validates the package (directory or zip), stores its assets as blobs, then records the new
    /// version in one transaction. A crash before that commit leaves the previous version as the
    /// latest; blobs written before it are harmless (content-addressed, shared).
    ///
    /// The guide's `organisation` must be one the publisher works in, and a guide id belongs to
    /// the organisation that first published it: a package with another organisation's id is
    /// refused before anything is written, without a word about that guide (N4).
    pub fn publish(
        &self,
        package: &Path,
        origin: PackageOrigin,
        publisher: &User,
    ) -> Result<VersionManifest, ServiceError> {
        if !publisher.role.may_publish() {
            return Err(ServiceError::Forbidden(format!(
                "the user '{}' is an {} and may not publish guides; authors and admins may",
                publisher.username, publisher.role
            )));
        }
        let package = GuidePackage::load(package).map_err(|e| package_error(e, origin))?;
        let guide = package.guide.clone();
        if !publisher.scope().includes(&guide.organisation) {
            return Err(ServiceError::Forbidden(format!(
                "the package's guide.json names the organisation '{}', but '{}' publishes for '{}'; set \"organisation\": \"{}\"",
                guide.organisation,
                publisher.username,
                publisher.organisation,
                publisher.organisation
            )));
        }
        if let Some(existing) = self.store.guide(guide.id)? {
            if existing.organisation != guide.organisation {
                return Err(owned_elsewhere(StoreError::OwnedElsewhere(guide.id)));
            }
            if !existing.active {
                return Err(ServiceError::Gone(format!(
                    "the guide '{}' is deactivated; reactivate it before publishing a new version",
                    existing.title
                )));
            }
        }
        let mut assets: Vec<AssetEntry> = Vec::new();
        let mut pending: Vec<String> = guide.asset_paths().iter().map(|p| p.to_string()).collect();
        while let Some(path) = pending.pop() {
            if assets.iter().any(|a| a.path == path) {
                continue;
            }
            let (sha256, bytes) = if is_gltf_json(&path) {
                // JSON text, bounded by the package check: read whole to find its side files.
                let bytes = package
                    .read_asset(&path)
                    .map_err(|e| package_error(e, origin))?;
                pending.extend(gltf_sidecars(&path, &bytes));
                (self.blobs.put(&bytes)?, bytes.len() as u64)
            } else {
                package
                    .stream_asset(&path, |reader| self.blobs.put_reader(reader))
                    .map_err(|e| package_error(e, origin))?
                    .map_err(|e| match e {
                        PutError::Source(reason) => ServiceError::Invalid(format!(
                            "cannot read '{path}' from the guide package: {reason}"
                        )),
                        PutError::Store(error) => error,
                    })?
            };
            assets.push(AssetEntry {
                path,
                sha256,
                bytes,
            });
        }
        assets.sort_by(|a, b| a.path.cmp(&b.path));
        let new = NewVersion {
            content_hash: content_hash(&guide, &assets),
            guide,
            assets,
            published_by: publisher.id,
            published_at: self.clock.now(),
        };
        self.store.publish_version(&new).map_err(|e| match e {
            StoreError::Conflict(message) => ServiceError::Gone(message),
            other => owned_elsewhere(other),
        })
    }

    /// Whether the caller may open the guide: 404 for another organisation's (N4), 403 without
    /// permission (F14), 410 once deactivated (F13). Admins and authors see every guide of their
    /// organisation; operators need a grant. A refusal before the last never names the guide.
    fn check_access(
        &self,
        caller: &Caller,
        guide: &GuideSummary,
        granted: impl FnOnce() -> Result<bool, ServiceError>,
    ) -> Result<(), ServiceError> {
        if !caller.user.scope().includes(&guide.organisation) {
            return Err(no_such_guide(guide.id));
        }
        let privileged = matches!(caller.user.role, Role::Admin | Role::Author);
        if !privileged && !granted()? {
            return Err(ServiceError::Forbidden(format!(
                "you do not have permission to open the guide {}; an admin can grant it",
                guide.id
            )));
        }
        if !guide.active {
            return Err(ServiceError::Gone(format!(
                "the guide '{}' was deactivated and can no longer be opened",
                guide.title
            )));
        }
        Ok(())
    }

    /// The guide's latest metadata, if the caller may open it.
    pub fn guide_for(&self, caller: &Caller, id: Uuid) -> Result<GuideSummary, ServiceError> {
        let guide = self.store.guide(id)?.ok_or_else(|| no_such_guide(id))?;
        self.check_access(caller, &guide, || {
            Ok(self.store.granted_guides(caller.user.id)?.contains(&id))
        })?;
        Ok(guide)
    }

    /// `GET /v1/guides`: every guide of the caller's organisation they may open now.
    pub fn guides_for(&self, caller: &Caller) -> Result<Vec<GuideSummary>, ServiceError> {
        let all = self.store.guides(caller.user.scope().organisation())?;
        if caller.user.role == Role::Admin {
            return Ok(all);
        }
        let granted = if caller.user.role == Role::Author {
            None
        } else {
            Some(self.store.granted_guides(caller.user.id)?)
        };
        Ok(all
            .into_iter()
            .filter(|g| g.active && granted.as_ref().is_none_or(|ids| ids.contains(&g.id)))
            .collect())
    }

    pub fn manifest_for(
        &self,
        caller: &Caller,
        id: Uuid,
        version: u32,
    ) -> Result<VersionManifest, ServiceError> {
        self.guide_for(caller, id)?;
        self.store.version_manifest(id, version)?.ok_or_else(|| {
            ServiceError::NotFound(format!("the guide {id} has no version {version}"))
        })
    }

    /// The manifest with the offline lease granted from now (N1): what `GET
    /// /v1/guides/{id}/versions/{v}` answers, after the same access checks.
    pub fn served_manifest(
        &self,
        caller: &Caller,
        id: Uuid,
        version: u32,
    ) -> Result<ServedManifest, ServiceError> {
        let manifest = self.manifest_for(caller, id, version)?;
        Ok(ServedManifest {
            manifest,
            lease_expires_at: self.clock.now() + self.offline_lease(id)?,
        })
    }

    /// How long a device may open this guide offline after fetching it (N1): the admin's
    /// setting for the guide, else the service's default (`serve --offline-lease`).
    pub fn offline_lease(&self, id: Uuid) -> Result<Duration, ServiceError> {
        Ok(self
            .store
            .offline_lease(id)?
            .map_or(self.config.offline_lease, Duration::seconds))
    }

    /// Sets (or with `None` removes) a guide's own offline lease (N1), from 1 minute to 10
    /// years: a shorter lease makes a sensitive guide stop opening offline sooner.
    pub fn set_offline_lease(
        &self,
        scope: &Scope,
        id: Uuid,
        lease: Option<Duration>,
    ) -> Result<Duration, ServiceError> {
        self.existing_guide(scope, id)?;
        if let Some(lease) = lease
            && !(Duration::minutes(1)..=Duration::days(3650)).contains(&lease)
        {
            return Err(ServiceError::Invalid(
                "an offline lease must be between 60 seconds and 10 years".into(),
            ));
        }
        if !self
            .store
            .set_offline_lease(id, lease.map(|l| l.whole_seconds()))?
        {
            return Err(ServiceError::NotFound(format!("there is no guide {id}")));
        }
        self.offline_lease(id)
    }

    /// Where a blob is and its size, if one of the guides holding it is open to the caller.
    /// Content no guide holds and content held only by guides the caller may not open get the
    /// same 404, so that nobody learns which content exists by asking for its hash.
    pub fn blob_for(
        &self,
        caller: &Caller,
        sha256: &str,
    ) -> Result<(std::path::PathBuf, u64), ServiceError> {
        let unknown =
            || ServiceError::NotFound(format!("no guide you may open holds the content {sha256}"));
        let path = self.blobs.path(sha256).ok_or_else(|| {
            ServiceError::NotFound(format!(
                "'{}' is not a content hash (64 lowercase hex digits)",
                sha256.chars().take(80).collect::<String>()
            ))
        })?;
        let (bytes, guides) = self.store.blob_users(sha256)?.ok_or_else(unknown)?;
        let mut refusal = None;
        for id in guides {
            match self.guide_for(caller, id) {
                Ok(_) => return Ok((path, bytes)),
                // Only a caller who may open the guide learns that it was deactivated.
                Err(e @ ServiceError::Gone(_)) => refusal = Some(e),
                Err(ServiceError::Forbidden(_) | ServiceError::NotFound(_)) => {}
                Err(other) => return Err(other),
            }
        }
        Err(refusal.unwrap_or_else(unknown))
    }

    /// `GET /v1/links/{org}/g/{id}`: the guide a QR link names, checked like any other access.
    pub fn resolve_link(
        &self,
        caller: &Caller,
        organisation: &str,
        id: Uuid,
    ) -> Result<LinkTarget, ServiceError> {
        let guide = self.guide_for(caller, id)?;
        if guide.organisation != organisation {
            return Err(ServiceError::NotFound(format!(
                "the organisation '{organisation}' has no guide {id}"
            )));
        }
        Ok(LinkTarget {
            manifest: format!("/v1/guides/{id}/versions/{}", guide.latest_version),
            guide,
        })
    }

    /// A guide an admin acting within `scope` may manage; another organisation's is unknown.
    pub(super) fn existing_guide(
        &self,
        scope: &Scope,
        id: Uuid,
    ) -> Result<GuideSummary, ServiceError> {
        self.store
            .guide(id)?
            .filter(|guide| scope.includes(&guide.organisation))
            .ok_or_else(|| no_such_guide(id))
    }

    /// Deactivates (F13) or reactivates a guide.
    pub fn set_active(
        &self,
        scope: &Scope,
        id: Uuid,
        active: bool,
    ) -> Result<GuideSummary, ServiceError> {
        self.existing_guide(scope, id)?;
        if !self.store.set_active(id, active, self.clock.now())? {
            return Err(no_such_guide(id));
        }
        self.existing_guide(scope, id)
    }

    pub fn set_tags(
        &self,
        scope: &Scope,
        id: Uuid,
        tags: &[String],
    ) -> Result<GuideSummary, ServiceError> {
        for tag in tags {
            check_name("tag", tag)?;
        }
        self.existing_guide(scope, id)?;
        if !self.store.set_tags(id, tags, self.clock.now())? {
            return Err(no_such_guide(id));
        }
        self.existing_guide(scope, id)
    }

    /// A user named in a permission must be of the guide's organisation: one of another is
    /// answered like one that does not exist.
    fn check_principal(
        &self,
        guide: &GuideSummary,
        principal: &Principal,
    ) -> Result<(), ServiceError> {
        let Principal::User(name) = principal else {
            return Ok(());
        };
        let member = self
            .store
            .user_by_name(name)?
            .is_some_and(|user| user.organisation == guide.organisation);
        if member {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "the organisation '{}' has no user '{name}'",
                guide.organisation
            )))
        }
    }

    pub fn grant(
        &self,
        scope: &Scope,
        id: Uuid,
        to: &Principal,
    ) -> Result<Vec<Principal>, ServiceError> {
        let (Principal::User(name) | Principal::Group(name)) = to;
        check_name("user or group", name)?;
        let guide = self.existing_guide(scope, id)?;
        self.check_principal(&guide, to)?;
        self.store
            .grant(id, to, self.clock.now())
            .map_err(not_found)?;
        Ok(self.store.grants(id)?)
    }

    /// Takes a permission away (F14); the user's device learns it at its next sync (S6).
    pub fn revoke(
        &self,
        scope: &Scope,
        id: Uuid,
        from: &Principal,
    ) -> Result<Vec<Principal>, ServiceError> {
        self.existing_guide(scope, id)?;
        if !self.store.revoke(id, from).map_err(not_found)? {
            return Err(ServiceError::NotFound(format!(
                "{from} had no permission on the guide {id}"
            )));
        }
        Ok(self.store.grants(id)?)
    }

    pub fn grants(&self, scope: &Scope, id: Uuid) -> Result<Vec<Principal>, ServiceError> {
        self.existing_guide(scope, id)?;
        Ok(self.store.grants(id)?)
    }

    /// Every guide within `scope`, deactivated ones included.
    pub fn all_guides(&self, scope: &Scope) -> Result<Vec<GuideSummary>, ServiceError> {
        Ok(self.store.guides(scope.organisation())?)
    }
}

/// A publish under another organisation's guide id: a conflict to show the publisher.
fn owned_elsewhere(error: StoreError) -> ServiceError {
    match error {
        error @ StoreError::OwnedElsewhere(_) => ServiceError::Conflict(error.to_string()),
        other => other.into(),
    }
}

fn not_found(error: StoreError) -> ServiceError {
    match error {
        StoreError::NotFound(message) => ServiceError::NotFound(message),
        other => other.into(),
    }
}
