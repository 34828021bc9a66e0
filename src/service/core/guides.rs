//! Publishing guide packages, and who may see which guide (F13, F14).

use std::path::Path;

use serde::Serialize;
use time::Duration;
use uuid::Uuid;

use super::{Service, check_name};
use crate::guide::{GuidePackage, PackageError};
use crate::service::error::ServiceError;
use crate::service::model::{
    AssetEntry, Caller, GuideSummary, Principal, Role, ServedManifest, User, VersionManifest,
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

/// The buffers and images a `.gltf` model keeps in files beside it, as package paths. The
/// package check has already made sure they are inside the package and present.
fn gltf_sidecars(path: &str, bytes: &[u8]) -> Vec<String> {
    if !path.to_ascii_lowercase().ends_with(".gltf") {
        return Vec::new();
    }
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

fn package_error(error: PackageError) -> ServiceError {
    match error {
        PackageError::Invalid { problems, .. } => ServiceError::InvalidPackage { problems },
        other => ServiceError::Invalid(other.to_string()),
    }
}

impl Service {
    /// Validates the package (directory or zip), stores its assets as blobs, then records the new
    /// version in one transaction. A crash before that commit leaves the previous version as the
    /// latest; blobs written before it are harmless (content-addressed, shared).
    pub fn publish(
        &self,
        package: &Path,
        publisher: &User,
    ) -> Result<VersionManifest, ServiceError> {
        if !publisher.role.may_publish() {
            return Err(ServiceError::Forbidden(format!(
                "the user '{}' is an {} and may not publish guides; authors and admins may",
                publisher.username, publisher.role
            )));
        }
        let package = GuidePackage::load(package).map_err(package_error)?;
        let guide = package.guide.clone();
        if let Some(existing) = self.store.guide(guide.id)?
            && !existing.active
        {
            return Err(ServiceError::Gone(format!(
                "the guide '{}' is deactivated; reactivate it before publishing a new version",
                existing.title
            )));
        }
        let mut assets: Vec<AssetEntry> = Vec::new();
        let mut pending: Vec<String> = guide.asset_paths().iter().map(|p| p.to_string()).collect();
        while let Some(path) = pending.pop() {
            if assets.iter().any(|a| a.path == path) {
                continue;
            }
            let bytes = package.read_asset(&path).map_err(package_error)?;
            pending.extend(gltf_sidecars(&path, &bytes));
            let sha256 = self.blobs.put(&bytes)?;
            assets.push(AssetEntry {
                path,
                sha256,
                bytes: bytes.len() as u64,
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
            other => other.into(),
        })
    }

    /// Whether the caller may open the guide: 403 without permission (F14), 410 once
    /// deactivated (F13). Admins and authors see every guide; operators need a grant.
    fn check_access(
        &self,
        caller: &Caller,
        guide: &GuideSummary,
        granted: impl FnOnce() -> Result<bool, ServiceError>,
    ) -> Result<(), ServiceError> {
        let privileged = matches!(caller.user.role, Role::Admin | Role::Author);
        if !privileged && !granted()? {
            return Err(ServiceError::Forbidden(format!(
                "you do not have permission to open the guide '{}'",
                guide.title
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
        let guide = self
            .store
            .guide(id)?
            .ok_or_else(|| ServiceError::NotFound(format!("there is no guide {id}")))?;
        self.check_access(caller, &guide, || {
            Ok(self.store.granted_guides(caller.user.id)?.contains(&id))
        })?;
        Ok(guide)
    }

    /// `GET /v1/guides`: every guide the caller may open now.
    pub fn guides_for(&self, caller: &Caller) -> Result<Vec<GuideSummary>, ServiceError> {
        let all = self.store.guides()?;
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
        id: Uuid,
        lease: Option<Duration>,
    ) -> Result<Duration, ServiceError> {
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
    pub fn blob_for(
        &self,
        caller: &Caller,
        sha256: &str,
    ) -> Result<(std::path::PathBuf, u64), ServiceError> {
        let unknown = || ServiceError::NotFound(format!("no guide holds content {sha256}"));
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
                // A deactivation says more than a missing permission; keep it if there is one.
                Err(e @ ServiceError::Gone(_)) => refusal = Some(e),
                Err(e) => {
                    refusal.get_or_insert(e);
                }
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

    fn existing_guide(&self, id: Uuid) -> Result<GuideSummary, ServiceError> {
        self.store
            .guide(id)?
            .ok_or_else(|| ServiceError::NotFound(format!("there is no guide {id}")))
    }

    /// Deactivates (F13) or reactivates a guide.
    pub fn set_active(&self, id: Uuid, active: bool) -> Result<GuideSummary, ServiceError> {
        if !self.store.set_active(id, active, self.clock.now())? {
            return Err(ServiceError::NotFound(format!("there is no guide {id}")));
        }
        self.existing_guide(id)
    }

    pub fn set_tags(&self, id: Uuid, tags: &[String]) -> Result<GuideSummary, ServiceError> {
        for tag in tags {
            check_name("tag", tag)?;
        }
        if !self.store.set_tags(id, tags, self.clock.now())? {
            return Err(ServiceError::NotFound(format!("there is no guide {id}")));
        }
        self.existing_guide(id)
    }

    pub fn grant(&self, id: Uuid, to: &Principal) -> Result<Vec<Principal>, ServiceError> {
        let (Principal::User(name) | Principal::Group(name)) = to;
        check_name("user or group", name)?;
        self.existing_guide(id)?;
        self.store
            .grant(id, to, self.clock.now())
            .map_err(not_found)?;
        Ok(self.store.grants(id)?)
    }

    /// Takes a permission away (F14); the user's device learns it at its next sync (S6).
    pub fn revoke(&self, id: Uuid, from: &Principal) -> Result<Vec<Principal>, ServiceError> {
        self.existing_guide(id)?;
        if !self.store.revoke(id, from).map_err(not_found)? {
            return Err(ServiceError::NotFound(format!(
                "{from} had no permission on the guide {id}"
            )));
        }
        Ok(self.store.grants(id)?)
    }

    pub fn grants(&self, id: Uuid) -> Result<Vec<Principal>, ServiceError> {
        self.existing_guide(id)?;
        Ok(self.store.grants(id)?)
    }

    pub fn all_guides(&self) -> Result<Vec<GuideSummary>, ServiceError> {
        Ok(self.store.guides()?)
    }
}

fn not_found(error: StoreError) -> ServiceError {
    match error {
        StoreError::NotFound(message) => ServiceError::NotFound(message),
        other => other.into(),
    }
}
