//! What a profile sync asks of the device (S2, S7, S8): the member's profile manifest and a
//! guide version fetched into the cache without opening it. The sync cycle itself lives in
//! [`crate::sync`], which drives these.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use super::{ClientError, Device};
use crate::app::access::Refused;
use crate::cache::{CachedVersion, Store};
use crate::net::download::Progress;
use crate::net::wire::ProfileManifest;
use crate::net::{ApiClient, Conditional, Refusal};

impl Device {
    /// The service and the signed-in account's cache, when the device is online and signed in.
    fn online_account(&mut self) -> Result<(ApiClient, Arc<Store>), ClientError> {
        let store = self.store().cloned().ok_or(Refused::NotSignedIn)?;
        let server = self.reachable_server().ok_or(Refused::SyncNeedsNetwork)?;
        Ok((server, store))
    }

    /// The member's offline profile (`Unchanged` while `etag` holds).
    pub fn profile_manifest(
        &mut self,
        etag: Option<&str>,
    ) -> Result<Conditional<ProfileManifest>, ClientError> {
        let (server, _) = self.online_account()?;
        self.authorised(&server, |t| server.profile_manifest(t, etag))
    }

    /// Fetches `version` of guide `id` into the cache, as opening it would, without opening it:
    /// the user has not asked for it, their profile has. Returns it and the bytes downloaded.
    pub fn fetch_guide_version(
        &mut self,
        id: Uuid,
        title: &str,
        version: u32,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<(CachedVersion, u64), ClientError> {
        let (server, store) = self.online_account()?;
        store.confirm_clock()?;
        let manifest = match self.authorised(&server, |t| server.manifest(t, id, version)) {
            Ok(manifest) => manifest,
            Err(ClientError::Net(e)) => return Err(self.refused_online(&store, id, e)),
            Err(other) => return Err(other),
        };
        self.store_version(&server, &store, id, title, manifest, progress)
    }

    /// S6: of `held` (cached guides the profile manifest does not name), those the service no
    /// longer lets this user open, each marked in the cache with the service's words as
    /// opening it online would (F13, F14). One list request, and one more per guide missing
    /// from the list.
    pub fn recheck_access(&mut self, held: &[Uuid]) -> Result<Vec<(Uuid, String)>, ClientError> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let (server, store) = self.online_account()?;
        let visible: HashSet<Uuid> = self
            .authorised(&server, |t| server.guides(t))?
            .into_iter()
            .map(|g| g.id)
            .collect();
        let mut refused = Vec::new();
        for &id in held.iter().filter(|id| !visible.contains(id)) {
            match self.authorised(&server, |t| server.guide(t, id)) {
                // Listed meanwhile: nothing lost.
                Ok(_) => {}
                Err(ClientError::Net(e))
                    if matches!(e.refusal(), Some(Refusal::Forbidden | Refusal::Deactivated)) =>
                {
                    refused.push((id, self.refused_online(&store, id, e).to_string()));
                }
                // Deleted on the service: the copy stays as it is.
                Err(ClientError::Net(e)) if e.refusal() == Some(Refusal::NotFound) => {
                    tracing::info!("guide {id} is no longer on the service: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(refused)
    }
}
