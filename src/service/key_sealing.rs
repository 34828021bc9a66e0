//! Link-signing keys sealed at rest (N2): the organisations' private keys are kept in the
//! database only as AES-256-GCM ciphertexts under a key that does not live there (the secret key
//! file, [`super::secret_key_file`]). A copy of the database (a dump, a backup shared between
//! instances) then cannot sign stickers; the service, which has both, can.
//!
//! A sealed key is `FORMAT_V1` (1 byte) ‖ nonce (12 random bytes, fresh for every sealing) ‖
//! ciphertext ‖ tag (16 bytes). The associated data is the key's organisation and id, so a
//! ciphertext copied onto another key row, or into another organisation, does not open. Random
//! nonces are safe far beyond the number of keys a service ever makes (NIST's bound is 2^32
//! sealings per key).
//!
//! The AES key is HKDF-SHA256 over the file's 32 bytes with a label for this use, so the same
//! file can later seal other things without two uses sharing a key.

use hkdf::Hkdf;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::Sha256;
use thiserror::Error;
use zeroize::Zeroizing;

/// Bytes of the secret key file.
pub const SECRET_KEY_LEN: usize = 32;
/// The first byte of a sealed key. A PKCS#8 document (what was stored before keys were sealed)
/// starts with 0x30, so the two never look alike.
const FORMAT_V1: u8 = 1;
const TAG_LEN: usize = 16;
const HKDF_SALT: &[u8] = b"hologuide service secret key v1";
const HKDF_INFO: &[u8] = b"link-signing keys";
/// Prefix of the associated data, so that no other use of this key can produce a valid
/// ciphertext for a link key.
const AAD_LABEL: &[u8] = b"hologuide link key\0";

/// Why a sealed key does not open (or could not be sealed).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SealError {
    #[error("the sealed key is {0} bytes, too short to be one (damaged)")]
    Truncated(usize),
    #[error(
        "the sealed key has format version {0}, which this build does not know — use a newer hologuide-server"
    )]
    UnknownVersion(u8),
    /// Another secret key, or a ciphertext changed or moved to another key or organisation:
    /// AES-GCM cannot tell these apart.
    #[error("the sealed key does not open with this secret key (another key, or a changed value)")]
    DoesNotOpen,
    #[error("no randomness for a nonce: {0}")]
    NoRandomness(String),
    /// Past AES-GCM's limit of 64 GiB; a key is 85 bytes.
    #[error("{0} bytes are too many to seal")]
    TooLong(usize),
}

/// The key-encryption key of the link-signing keys.
pub struct SealingKey {
    cipher: LessSafeKey,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

impl SealingKey {
    /// The sealing key derived from the secret key file's bytes.
    pub fn from_secret(secret: &[u8; SECRET_KEY_LEN]) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 255 × 32, so expand cannot fail.
        Hkdf::<Sha256>::new(Some(HKDF_SALT), secret)
            .expand(HKDF_INFO, key.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        // A 32-byte key is always a valid AES-256 key.
        let unbound =
            UnboundKey::new(&AES_256_GCM, key.as_ref()).expect("32 bytes is an AES-256 key");
        Self {
            cipher: LessSafeKey::new(unbound),
        }
    }

    /// `private_key` of `organisation`'s key `key_id`, sealed.
    pub fn seal(
        &self,
        organisation: &str,
        key_id: &str,
        private_key: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError::NoRandomness(e.to_string()))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + private_key.len() + TAG_LEN);
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        // Encrypted in place: the plaintext copy is wiped when dropped.
        let mut body = Zeroizing::new(private_key.to_vec());
        let tag = self
            .cipher
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(organisation, key_id)),
                &mut body,
            )
            .map_err(|_| SealError::TooLong(private_key.len()))?;
        sealed.extend_from_slice(&body);
        sealed.extend_from_slice(tag.as_ref());
        Ok(sealed)
    }

    /// The private key sealed in `sealed` for `organisation`'s key `key_id`; wiped from memory
    /// when dropped.
    pub fn open(
        &self,
        organisation: &str,
        key_id: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(SealError::Truncated(0));
        };
        if version != FORMAT_V1 {
            return Err(SealError::UnknownVersion(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Truncated(sealed.len()));
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::DoesNotOpen)?;
        let mut opened = Zeroizing::new(body.to_vec());
        let length = self
            .cipher
            .open_in_place(
                nonce,
                Aad::from(associated_data(organisation, key_id)),
                &mut opened,
            )
            .map_err(|_| SealError::DoesNotOpen)?
            .len();
        opened.truncate(length);
        Ok(opened)
    }
}

/// The label, then the organisation and the key id, each preceded by its length: no two
/// (organisation, key id) pairs give the same bytes.
fn associated_data(organisation: &str, key_id: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 8 + organisation.len() + key_id.len());
    aad.extend_from_slice(AAD_LABEL);
    for part in [organisation, key_id] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "acme";
    const KEY: &str = "0123456789abcdef";
    /// Stands for a PKCS#8 document: 85 bytes starting as one does.
    const PRIVATE: [u8; 85] = {
        let mut bytes = [7u8; 85];
        bytes[0] = 0x30;
        bytes
    };

    fn key(byte: u8) -> SealingKey {
        SealingKey::from_secret(&[byte; SECRET_KEY_LEN])
    }

    #[test]
    fn a_sealed_key_opens_to_the_same_bytes_and_does_not_hold_them() {
        let sealing = key(1);
        let sealed = sealing.seal(ORG, KEY, &PRIVATE).unwrap();
        assert_eq!(sealed.len(), 1 + NONCE_LEN + PRIVATE.len() + TAG_LEN);
        assert_eq!(sealed[0], FORMAT_V1);
        assert!(!sealed.windows(8).any(|w| w == &PRIVATE[1..9]));
        assert_eq!(sealing.open(ORG, KEY, &sealed).unwrap().as_slice(), PRIVATE);
        // A fresh nonce every time: the same key sealed twice gives two ciphertexts.
        assert_ne!(sealing.seal(ORG, KEY, &PRIVATE).unwrap(), sealed);
    }

    #[test]
    fn another_secret_key_does_not_open_a_sealed_key() {
        let sealed = key(1).seal(ORG, KEY, &PRIVATE).unwrap();
        assert_eq!(key(2).open(ORG, KEY, &sealed), Err(SealError::DoesNotOpen));
    }

    #[test]
    fn a_sealed_key_moved_to_another_key_id_or_organisation_does_not_open() {
        let sealing = key(1);
        let sealed = sealing.seal(ORG, KEY, &PRIVATE).unwrap();
        assert_eq!(
            sealing.open(ORG, "fedcba9876543210", &sealed),
            Err(SealError::DoesNotOpen)
        );
        assert_eq!(
            sealing.open("rival-works", KEY, &sealed),
            Err(SealError::DoesNotOpen)
        );
        // Lengths are part of the associated data: the boundary cannot be shifted.
        assert_eq!(
            sealing.open("acme0", "123456789abcdef", &sealed),
            Err(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn a_truncated_or_altered_sealed_key_is_refused() {
        let sealing = key(1);
        let sealed = sealing.seal(ORG, KEY, &PRIVATE).unwrap();
        assert_eq!(sealing.open(ORG, KEY, &[]), Err(SealError::Truncated(0)));
        assert_eq!(
            sealing.open(ORG, KEY, &sealed[..NONCE_LEN + TAG_LEN]),
            Err(SealError::Truncated(NONCE_LEN + TAG_LEN))
        );
        assert_eq!(
            sealing.open(ORG, KEY, &sealed[..sealed.len() - 1]),
            Err(SealError::DoesNotOpen)
        );
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert_eq!(
            sealing.open(ORG, KEY, &flipped),
            Err(SealError::DoesNotOpen)
        );
    }

    #[test]
    fn a_sealed_key_of_an_unknown_format_version_is_refused_naming_it() {
        let sealing = key(1);
        let mut sealed = sealing.seal(ORG, KEY, &PRIVATE).unwrap();
        sealed[0] = 2;
        let error = sealing.open(ORG, KEY, &sealed).unwrap_err();
        assert_eq!(error, SealError::UnknownVersion(2));
        assert!(error.to_string().contains("format version 2"), "{error}");
        // A key stored before sealing (PKCS#8) is not taken for a sealed one.
        assert_eq!(
            sealing.open(ORG, KEY, &PRIVATE),
            Err(SealError::UnknownVersion(0x30))
        );
    }
}
