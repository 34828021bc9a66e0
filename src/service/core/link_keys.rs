//! Signed guide links (N2): each organisation's ed25519 keys, stickers' links signed with the
//! newest one, and what devices are given to check them offline.
//!
//! The private keys are sealed here and only here (`key_sealing`, with the secret key file):
//! sealed before they are stored, opened after they are read. The stores keep sealed bytes.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use uuid::Uuid;
use zeroize::Zeroizing;

use super::Service;
use crate::guide::GuideLink;
use crate::guide::link_trust::{SigningKey, key_id};
use crate::guide::{Problems, decode};
use crate::service::error::ServiceError;
use crate::service::key_sealing::{SealError, SealingKey};
use crate::service::model::{LinkKeyWire, LinkTrustWire, User};
use crate::service::secret_key_file::SecretKeyFile;
use crate::service::store::{LinkKeyRecord, LinkKeyStore, PrivateKeyReplacement};

/// The secret key file's key, checked against the stored keys.
pub(super) struct LinkKeySecret {
    key: SealingKey,
    path: PathBuf,
}

/// The private key of a stored record, opened with `key` (from the file at `path`).
fn open_stored(
    key: &SealingKey,
    path: &Path,
    record: &LinkKeyRecord,
) -> Result<Zeroizing<Vec<u8>>, ServiceError> {
    key.open(&record.organisation, &record.key_id, &record.private_key)
        .map_err(|e| match e {
            SealError::DoesNotOpen => ServiceError::WrongSecretKey {
                path: path.display().to_string(),
            },
            _ if SigningKey::from_pkcs8(&record.private_key).is_ok() => {
                ServiceError::Internal(format!(
                    "the link key {} of {} is stored in clear (an older hologuide-server made \
                     it): run the command again, which seals it first",
                    record.key_id, record.organisation
                ))
            }
            other => ServiceError::Internal(format!(
                "the stored link key {} of {}: {other}",
                record.key_id, record.organisation
            )),
        })
}

/// Checks `key` (from the secret key file at `path`) against the stored link keys in use and
/// seals those stored in clear before keys were sealed, in one transaction; how many it sealed.
/// Run again, it finds nothing to seal. A key that does not open the keys in use writes nothing.
///
/// Retired keys are sealed but not checked: they never sign again, and an organisation whose
/// secret key file was lost gets going again by retiring its keys.
pub(crate) fn seal_stored_link_keys<S: LinkKeyStore + ?Sized>(
    store: &S,
    key: &SealingKey,
    path: &Path,
) -> Result<usize, ServiceError> {
    let mut replacements = Vec::new();
    let (mut opened, mut unopened) = (0, None);
    for record in store.link_keys(None)? {
        if SigningKey::from_pkcs8(&record.private_key).is_ok() {
            let sealed = seal(
                key,
                &record.organisation,
                &record.key_id,
                &record.private_key,
            )?;
            replacements.push(PrivateKeyReplacement {
                to: sealed,
                from: record.private_key,
                organisation: record.organisation,
                key_id: record.key_id,
            });
        } else if record.retired_at.is_none() {
            match open_stored(key, path, &record) {
                Ok(_) => opened += 1,
                Err(e @ ServiceError::WrongSecretKey { .. }) => {
                    unopened.get_or_insert((e, record));
                }
                Err(other) => return Err(other),
            }
        }
    }
    if let Some((wrong, record)) = unopened {
        return Err(if opened == 0 {
            wrong
        } else {
            ServiceError::Internal(format!(
                "the link key {} of {} does not open with {}, though other keys do: an instance \
                 given another secret key file made it, or it was changed in the database; \
                 retire it (`links retire`)",
                record.key_id,
                record.organisation,
                path.display()
            ))
        });
    }
    if replacements.is_empty() {
        return Ok(0);
    }
    let sealed = store.replace_private_keys(&replacements)?;
    tracing::warn!(
        "sealed {sealed} link-signing keys stored in clear with the secret key file {}",
        path.display()
    );
    Ok(sealed)
}

fn seal(
    key: &SealingKey,
    organisation: &str,
    key_id: &str,
    private_key: &[u8],
) -> Result<Vec<u8>, ServiceError> {
    key.seal(organisation, key_id, private_key)
        .map_err(|e| ServiceError::Internal(format!("sealing the link key {key_id}: {e}")))
}

/// An organisation's link key as the admin command line lists it (no private part).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LinkKeyInfo {
    pub organisation: String,
    pub key_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<time::OffsetDateTime>,
    /// Signs new stickers: the newest key not retired.
    pub signing: bool,
}

impl Service {
    /// Reads the secret key file the link keys are sealed with, checks it against the stored
    /// keys, seals any key stored in clear before keys were sealed, and keeps it for signing and
    /// making keys. `serve` and the commands that sign or make keys call it once after
    /// [`Service::open`]; a file that is not the one the keys were sealed with changes nothing.
    pub fn unlock_link_keys(&mut self, file: &SecretKeyFile) -> Result<(), ServiceError> {
        let key = file.load()?;
        seal_stored_link_keys(self.store.as_ref(), &key, file.path())?;
        self.link_key_secret = Some(LinkKeySecret {
            key,
            path: file.path().to_owned(),
        });
        Ok(())
    }

    fn link_key_secret(&self) -> Result<&LinkKeySecret, ServiceError> {
        self.link_key_secret.as_ref().ok_or_else(|| {
            ServiceError::Internal(
                "the link keys are locked: no secret key file was read (unlock_link_keys)".into(),
            )
        })
    }

    /// A new signing key for `organisation`; stickers signed before stay valid until their key
    /// is retired.
    pub fn rotate_link_key(&self, organisation: &str) -> Result<String, ServiceError> {
        Ok(self.new_link_key(organisation)?.key_id().to_owned())
    }

    /// A new key for `organisation`, stored, now its signing key.
    fn new_link_key(&self, organisation: &str) -> Result<SigningKey, ServiceError> {
        let secret = self.link_key_secret()?;
        let pkcs8 = Zeroizing::new(
            SigningKey::generate()
                .map_err(|e| ServiceError::Internal(format!("making a link key: {e}")))?,
        );
        let key = SigningKey::from_pkcs8(&pkcs8)
            .map_err(|e| ServiceError::Internal(format!("reading the new link key: {e}")))?;
        // Keys are ordered by creation, to the second: a rotation within the second of the last
        // one is dated a second after it, so "newest" is never a tie.
        let newest = self
            .store
            .link_keys(Some(organisation))?
            .first()
            .map(|k| k.created_at);
        let now = self.clock.now();
        let created_at = match newest {
            Some(last) if last.unix_timestamp() >= now.unix_timestamp() => {
                last + time::Duration::seconds(1)
            }
            _ => now,
        };
        self.store.add_link_key(&LinkKeyRecord {
            organisation: organisation.to_owned(),
            key_id: key.key_id().to_owned(),
            public_key: key.public_key().to_vec(),
            private_key: seal(&secret.key, organisation, key.key_id(), &pkcs8)?,
            created_at,
            retired_at: None,
        })?;
        tracing::info!(organisation, key = key.key_id(), "new link-signing key");
        Ok(key)
    }

    /// Devices refuse stickers signed with `key_id` from their next sign-in or refresh on.
    pub fn retire_link_key(&self, organisation: &str, key_id: &str) -> Result<(), ServiceError> {
        if self
            .store
            .retire_link_key(organisation, key_id, self.clock.now())?
        {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "{organisation} has no link key {key_id} in use"
            )))
        }
    }

    pub fn link_keys(&self, organisation: &str) -> Result<Vec<LinkKeyInfo>, ServiceError> {
        let records = self.store.link_keys(Some(organisation))?;
        let signing = records
            .iter()
            .find(|k| k.retired_at.is_none())
            .map(|k| k.key_id.clone());
        Ok(records
            .into_iter()
            .map(|k| LinkKeyInfo {
                signing: Some(&k.key_id) == signing.as_ref(),
                organisation: k.organisation,
                key_id: k.key_id,
                created_at: k.created_at,
                retired_at: k.retired_at,
            })
            .collect())
    }

    pub fn set_signed_links_required(
        &self,
        organisation: &str,
        required: bool,
    ) -> Result<(), ServiceError> {
        Ok(self
            .store
            .set_signed_links_required(organisation, required)?)
    }

    /// The link a sticker of `guide` (at `step`, anchoring `anchor`) carries, signed with its
    /// organisation's newest key (one is made if it has none), and the sticker's label. The
    /// step and the anchor must exist in the guide's latest version.
    pub fn signed_guide_link(
        &self,
        guide: Uuid,
        step: Option<NonZeroU32>,
        anchor: Option<&str>,
    ) -> Result<(GuideLink, String), ServiceError> {
        let summary = self
            .store
            .guide(guide)?
            .ok_or_else(|| ServiceError::NotFound(format!("there is no guide {guide}")))?;
        let manifest = self
            .store
            .version_manifest(guide, summary.latest_version)?
            .ok_or_else(|| ServiceError::NotFound(format!("there is no guide {guide}")))?;
        let content = decode(&manifest.guide, &mut Problems::default()).ok_or_else(|| {
            ServiceError::Internal(format!("the stored guide {guide} does not read"))
        })?;
        if let Some(step) = step
            && content.step(step.get() as usize - 1).is_none()
        {
            return Err(ServiceError::Invalid(format!(
                "{} has no step {step} (it has {})",
                summary.title,
                content.step_count()
            )));
        }
        let anchor_label = match anchor {
            Some(id) => match content.anchor(id) {
                Some(found) if !found.label.is_empty() => Some(found.label.clone()),
                Some(_) => Some(id.to_owned()),
                None => {
                    return Err(ServiceError::Invalid(format!(
                        "{} has no anchor '{id}'",
                        summary.title
                    )));
                }
            },
            None => None,
        };
        let mut link = GuideLink::new(summary.organisation.clone(), guide, step);
        link.anchor = anchor.map(str::to_owned);
        let mut label = summary.title.clone();
        if let Some(step) = step {
            label.push_str(&format!(" — step {step}"));
        }
        if let Some(place) = anchor_label {
            label.push_str(&format!(" · {place}"));
        }
        Ok((self.signing_key(&summary.organisation)?.sign(&link), label))
    }

    /// The newest key of `organisation` not retired, made now if there is none.
    fn signing_key(&self, organisation: &str) -> Result<SigningKey, ServiceError> {
        let current = self
            .store
            .link_keys(Some(organisation))?
            .into_iter()
            .find(|k| k.retired_at.is_none());
        match current {
            Some(record) => {
                let secret = self.link_key_secret()?;
                let pkcs8 = open_stored(&secret.key, &secret.path, &record)?;
                SigningKey::from_pkcs8(&pkcs8).map_err(|e| {
                    ServiceError::Internal(format!("the stored link key of {organisation}: {e}"))
                })
            }
            None => self.new_link_key(organisation),
        }
    }

    /// What `user`'s device may trust: their organisation's keys, or every organisation's for
    /// a server-wide admin.
    pub(super) fn link_trust_for(&self, user: &User) -> Result<LinkTrustWire, ServiceError> {
        let scope = (!user.all_organisations).then_some(user.organisation.as_str());
        let keys = self
            .store
            .link_keys(scope)?
            .into_iter()
            .filter(|k| key_id(&k.public_key) == k.key_id)
            .map(|k| LinkKeyWire {
                organisation: k.organisation,
                key_id: k.key_id,
                public_key: hex::encode(&k.public_key),
                retired: k.retired_at.is_some(),
            })
            .collect();
        let signatures_required = self
            .store
            .signed_links_required()?
            .into_iter()
            .filter(|o| scope.is_none_or(|mine| mine == o))
            .collect();
        Ok(LinkTrustWire {
            keys,
            signatures_required,
        })
    }
}

#[cfg(test)]
#[path = "link_keys_tests.rs"]
mod tests;
