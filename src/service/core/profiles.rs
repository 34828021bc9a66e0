//! Offline profiles (S1–S4) and the manifest a member's device syncs to (S2, S3, S7, S8).

use std::collections::HashSet;

use time::Duration;

use super::{Service, check_name};
use crate::service::error::ServiceError;
use crate::service::model::{
    Caller, Profile, ProfileGuide, ProfileManifest, ProfileSpec, Scope, User,
};
use crate::service::store::StoreError;

/// A date filter longer than this is a typo, not a policy.
const MAX_MODIFIED_WITHIN_DAYS: u32 = 36_500;
const MAX_DESCRIPTION_CHARS: usize = 2_000;
const MAX_SELECTED: usize = 10_000;

fn check_spec(spec: &ProfileSpec) -> Result<(), ServiceError> {
    if let Some(name) = &spec.name {
        check_name("profile", name)?;
    }
    if let Some(description) = &spec.description
        && description.chars().count() > MAX_DESCRIPTION_CHARS
    {
        return Err(ServiceError::Invalid(format!(
            "a profile description is at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    for tag in spec.tags.iter().flatten() {
        check_name("tag", tag)?;
    }
    let selected =
        spec.tags.as_ref().map_or(0, Vec::len) + spec.guide_ids.as_ref().map_or(0, Vec::len);
    if selected > MAX_SELECTED {
        return Err(ServiceError::Invalid(format!(
            "a profile selects at most {MAX_SELECTED} guides and tags"
        )));
    }
    if let Some(Some(days)) = spec.modified_within_days
        && (days == 0 || days > MAX_MODIFIED_WITHIN_DAYS)
    {
        return Err(ServiceError::Invalid(format!(
            "modified_within_days must be 1–{MAX_MODIFIED_WITHIN_DAYS}, or null for no date filter"
        )));
    }
    Ok(())
}

fn store_error(error: StoreError) -> ServiceError {
    match error {
        StoreError::Conflict(message) => ServiceError::Conflict(message),
        StoreError::NotFound(message) => ServiceError::NotFound(message),
        other => other.into(),
    }
}

impl Service {
    /// A profile may select only guides of its own organisation; an id that does not exist
    /// there is a typo (or another organisation's guide, which looks the same): say which.
    fn check_guides_exist(
        &self,
        spec: &ProfileSpec,
        organisation: &str,
    ) -> Result<(), ServiceError> {
        let scope = Scope::Organisation(organisation.to_owned());
        for id in spec.guide_ids.iter().flatten() {
            self.existing_guide(&scope, *id)?;
        }
        Ok(())
    }

    /// Creates a profile in `organisation`; names are unique within an organisation.
    pub fn create_profile(
        &self,
        organisation: &str,
        spec: &ProfileSpec,
    ) -> Result<Profile, ServiceError> {
        if spec.name.is_none() {
            return Err(ServiceError::Invalid("a profile needs a name".into()));
        }
        check_spec(spec)?;
        self.check_guides_exist(spec, organisation)?;
        self.store
            .create_profile(spec, organisation, self.clock.now())
            .map_err(store_error)
    }

    pub fn profiles(&self, scope: &Scope) -> Result<Vec<Profile>, ServiceError> {
        Ok(self.store.profiles(scope.organisation())?)
    }

    /// The organisation's profile of that name (another organisation's is not looked at).
    pub fn profile(&self, organisation: &str, name: &str) -> Result<Profile, ServiceError> {
        self.store
            .profile(organisation, name)?
            .ok_or_else(|| ServiceError::NotFound(format!("there is no profile '{name}'")))
    }

    pub fn update_profile(
        &self,
        organisation: &str,
        name: &str,
        spec: &ProfileSpec,
    ) -> Result<Profile, ServiceError> {
        check_spec(spec)?;
        self.check_guides_exist(spec, organisation)?;
        self.store
            .update_profile(organisation, name, spec, self.clock.now())
            .map_err(store_error)
    }

    pub fn delete_profile(&self, organisation: &str, name: &str) -> Result<(), ServiceError> {
        if self.store.delete_profile(organisation, name)? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "there is no profile '{name}'"
            )))
        }
    }

    /// A member of a profile is a user of its organisation; one of another is unknown there.
    fn organisation_member(
        &self,
        organisation: &str,
        username: &str,
    ) -> Result<User, ServiceError> {
        self.store
            .user_by_name(username)?
            .filter(|user| user.organisation == organisation)
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "the organisation '{organisation}' has no user '{username}'"
                ))
            })
    }

    /// S6: what `organisation`'s members' devices do with cached guides they may no longer
    /// open, from their next sync on.
    pub fn set_lost_access(
        &self,
        organisation: &str,
        policy: crate::service::model::LostAccess,
    ) -> Result<(), ServiceError> {
        Ok(self.store.set_lost_access(organisation, policy)?)
    }

    pub fn lost_access(
        &self,
        organisation: &str,
    ) -> Result<crate::service::model::LostAccess, ServiceError> {
        Ok(self.store.lost_access(organisation)?)
    }

    /// S4: a user already in another profile is refused with a conflict naming that profile.
    pub fn add_profile_member(
        &self,
        organisation: &str,
        profile: &str,
        username: &str,
    ) -> Result<Profile, ServiceError> {
        self.profile(organisation, profile)?;
        let user = self.organisation_member(organisation, username)?;
        self.store
            .add_member(organisation, profile, user.id, self.clock.now())
            .map_err(|e| match e {
                StoreError::Conflict(message) => ServiceError::Conflict(message.replacen(
                    "the user",
                    &format!("'{username}'"),
                    1,
                )),
                other => store_error(other),
            })?;
        self.profile(organisation, profile)
    }

    pub fn remove_profile_member(
        &self,
        organisation: &str,
        profile: &str,
        username: &str,
    ) -> Result<Profile, ServiceError> {
        self.profile(organisation, profile)?;
        let user = self.organisation_member(organisation, username)?;
        if !self
            .store
            .remove_member(organisation, profile, user.id, self.clock.now())
            .map_err(store_error)?
        {
            return Err(ServiceError::NotFound(format!(
                "'{username}' is not a member of the profile '{profile}'"
            )));
        }
        self.profile(organisation, profile)
    }

    /// What the caller's device should hold now: the profile's guides (by id or tag) that the
    /// caller may open, are active, and were published within the date filter; with the bytes
    /// each needs and the distinct bytes of all (S8).
    pub fn profile_manifest(&self, caller: &Caller) -> Result<ProfileManifest, ServiceError> {
        let profile = self.store.profile_of(caller.user.id)?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "'{}' is not a member of an offline profile",
                caller.user.username
            ))
        })?;
        let mut ids = profile.guide_ids.clone();
        for id in self.store.guides_tagged(&profile.tags)? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let oldest = profile
            .modified_within_days
            .map(|days| self.clock.now() - Duration::days(i64::from(days)));
        let mut guides = Vec::new();
        let mut seen_blobs = HashSet::new();
        let mut total_bytes = 0;
        for id in ids {
            let summary = match self.guide_for(caller, id) {
                Ok(summary) => summary,
                // Not visible to this user, deactivated or deleted: not theirs to hold.
                Err(
                    ServiceError::Forbidden(_) | ServiceError::Gone(_) | ServiceError::NotFound(_),
                ) => {
                    continue;
                }
                Err(other) => return Err(other),
            };
            if oldest.is_some_and(|oldest| summary.published_at < oldest) {
                continue;
            }
            let Some(manifest) = self.store.version_manifest(id, summary.latest_version)? else {
                continue;
            };
            for asset in &manifest.assets {
                if seen_blobs.insert(asset.sha256.clone()) {
                    total_bytes += asset.bytes;
                }
            }
            guides.push(ProfileGuide {
                id,
                title: summary.title,
                version: manifest.version,
                content_hash: manifest.content_hash,
                published_at: manifest.published_at,
                bytes: manifest.total_bytes,
                assets: manifest.assets,
            });
        }
        Ok(ProfileManifest {
            lost_access: self.store.lost_access(&profile.organisation)?,
            profile: profile.name,
            description: profile.description,
            revision: profile.revision,
            modified_within_days: profile.modified_within_days,
            guides,
            total_bytes,
        })
    }
}
