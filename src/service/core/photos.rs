//! Photos operators took at steps (N6): sent by the device before the answer record that names
//! them (`PUT /v1/photos/{sha256}`), checked against their name, kept once, and read back by the
//! sender or an admin of the sender's organisation (`GET /v1/photos/{sha256}`).

use sha2::{Digest, Sha256};

use super::Service;
use crate::service::error::ServiceError;
use crate::service::model::{Caller, PhotoRecord, Role};

/// A grey 1280×720 JPEG is about 100 KB; a colour one from a 4K camera a few MB.
pub const MAX_PHOTO_BYTES: usize = 8 * 1024 * 1024;

impl Service {
    /// Keeps the photo `jpeg` sent by `caller` under `sha256`, which must be its digest.
    /// Sending one already kept changes nothing.
    pub fn put_photo(
        &self,
        caller: &Caller,
        sha256: &str,
        jpeg: Vec<u8>,
    ) -> Result<(), ServiceError> {
        check_name(sha256)?;
        if jpeg.len() > MAX_PHOTO_BYTES {
            return Err(ServiceError::TooLarge(format!(
                "a photo is at most {MAX_PHOTO_BYTES} bytes; this one has {}",
                jpeg.len()
            )));
        }
        if !jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Err(ServiceError::Invalid("a photo is a JPEG".into()));
        }
        let digest = hex::encode(Sha256::digest(&jpeg));
        if digest != sha256 {
            return Err(ServiceError::Invalid(format!(
                "the photo's SHA-256 is {digest}, not {sha256}: it was damaged on the way"
            )));
        }
        Ok(self.store.store_photo(&PhotoRecord {
            sha256: digest,
            organisation: caller.user.organisation.clone(),
            user_id: caller.user.id,
            jpeg,
            received_at: self.clock.now(),
        })?)
    }

    /// The photo named `sha256`, for its sender or an admin of the sender's organisation.
    pub fn photo_for(&self, caller: &Caller, sha256: &str) -> Result<Vec<u8>, ServiceError> {
        check_name(sha256)?;
        let not_found = || ServiceError::NotFound(format!("no photo {sha256}"));
        let photo = self.store.photo(sha256)?.ok_or_else(not_found)?;
        let admin =
            caller.user.role == Role::Admin && caller.user.scope().includes(&photo.organisation);
        if photo.user_id == caller.user.id || admin {
            Ok(photo.jpeg)
        } else {
            // Another organisation's photo is not said to exist.
            Err(not_found())
        }
    }

    /// N6: a photo answer of `caller` names a photo they sent first; `Some` is why it does
    /// not.
    pub(super) fn unsent_photo(
        &self,
        caller: &Caller,
        value: Option<&serde_json::Value>,
    ) -> Result<Option<String>, ServiceError> {
        let Some(sha256) = value
            .filter(|v| v.get("kind").and_then(|k| k.as_str()) == Some("photo"))
            .and_then(|v| v.get("sha256"))
            .and_then(|s| s.as_str())
        else {
            return Ok(None);
        };
        Ok(match self.store.photo_owner(sha256)? {
            Some((_, user)) if user == caller.user.id => None,
            _ => Some(format!(
                "the photo {} was not sent before its record",
                sha256.chars().take(12).collect::<String>()
            )),
        })
    }
}

fn check_name(sha256: &str) -> Result<(), ServiceError> {
    if crate::content_address::is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(ServiceError::Invalid(
            "a photo is named by the SHA-256 of its JPEG: 64 lower-case hex digits".into(),
        ))
    }
}
