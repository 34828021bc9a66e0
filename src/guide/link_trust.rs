//! Signed guide links (N2): a sticker's link can carry its organisation's ed25519 signature,
//! which the device checks offline against the organisation's public keys (they come with the
//! session and are kept in the encrypted cache). A forged sticker, or a real one altered to
//! another guide or step, is refused; so is an unsigned one where the organisation requires
//! signatures.
//!
//! The link carries the key and the signature in its query, after everything they cover:
//! `hologuide://acme/g/<id>/s/3?anchor=front&k=<key id>&sig=<base64url>`. What is signed is
//! the link without `k` and `sig`, as [`GuideLink`]'s `Display` spells it, and the key id:
//! `hologuide-link-v1\n<link>\n<key id>` — so every part a sticker acts on (organisation,
//! guide, step, anchor) is covered, and a signature cannot be moved to another key.
//!
//! Keys are rotated, never edited: a new key signs new stickers, an old key stays valid for the
//! stickers it signed until the organisation retires it; a retired key's stickers are refused.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::link::GuideLink;

/// What a link is signed with, as the link carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkSignature {
    /// [`key_id`] of the public key.
    pub key_id: String,
    /// 64 bytes.
    pub signature: Vec<u8>,
}

impl LinkSignature {
    /// `k=<key id>&sig=<base64url>`.
    pub fn to_query(&self) -> String {
        format!(
            "k={}&sig={}",
            self.key_id,
            URL_SAFE_NO_PAD.encode(&self.signature)
        )
    }

    /// From the query's `k` and `sig` values; `None` unless both are well formed.
    pub fn from_query(key_id: &str, signature: &str) -> Option<Self> {
        let well_formed_id = key_id.len() == KEY_ID_CHARS
            && key_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed_id || signature.len() > 100 {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        (signature.len() == SIGNATURE_BYTES).then(|| Self {
            key_id: key_id.to_owned(),
            signature,
        })
    }
}

const SIGNATURE_BYTES: usize = 64;
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Hex characters of a key id: the first 8 bytes of the public key's sha256.
pub const KEY_ID_CHARS: usize = 16;

/// A public key's id, as links and the service name it.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..KEY_ID_CHARS / 2])
}

/// One of an organisation's link keys as a device knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkKey {
    pub organisation: String,
    pub key_id: String,
    pub public_key: Vec<u8>,
    /// Retired by the organisation: its stickers are no longer accepted.
    pub retired: bool,
}

/// What a device trusts: the link keys it was given, and the organisations that accept only
/// signed links.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkTrust {
    pub keys: Vec<LinkKey>,
    pub signatures_required: Vec<String>,
}

/// Why a sticker's link is refused; `Display` is the line shown on the card.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LinkRefusal {
    #[error("This sticker is not signed, and {organisation} accepts only signed stickers.")]
    Unsigned { organisation: String },
    #[error(
        "This sticker's signature is not valid: it was not made by {organisation}, or was changed. Do not use it."
    )]
    Forged { organisation: String },
    #[error(
        "This sticker is signed with a key this device does not know. Sign in while online to update the keys, then look at it again."
    )]
    UnknownKey,
    #[error(
        "This sticker was signed with a key {organisation} has retired. Ask for a new sticker."
    )]
    RetiredKey { organisation: String },
    /// A guide link whose `k`/`sig` are not a key id and a signature at all.
    #[error("This sticker's signature is damaged or made up. Do not use it.")]
    Malformed,
}

impl LinkTrust {
    /// Whether the sticker's link may act: its signature checked against the organisation's
    /// keys, or, unsigned, accepted unless the organisation requires signatures.
    pub fn check(&self, link: &GuideLink) -> Result<(), LinkRefusal> {
        let organisation = link.organisation.clone();
        let Some(signed) = &link.signature else {
            return if self.signatures_required.contains(&link.organisation) {
                Err(LinkRefusal::Unsigned { organisation })
            } else {
                Ok(())
            };
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.key_id == signed.key_id && k.organisation == link.organisation)
            .ok_or(LinkRefusal::UnknownKey)?;
        if key.retired {
            return Err(LinkRefusal::RetiredKey { organisation });
        }
        UnparsedPublicKey::new(&ED25519, &key.public_key)
            .verify(&signed_message(link, &signed.key_id), &signed.signature)
            .map_err(|_| LinkRefusal::Forged { organisation })
    }
}

/// The bytes a link's signature covers.
fn signed_message(link: &GuideLink, key_id: &str) -> Vec<u8> {
    let unsigned = GuideLink {
        signature: None,
        ..link.clone()
    };
    format!("hologuide-link-v1\n{unsigned}\n{key_id}").into_bytes()
}

/// An organisation's signing key (the service's side): a PKCS#8 ed25519 key pair.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    key_id: String,
}

#[derive(Debug, Error)]
#[error("not an ed25519 signing key")]
pub struct BadSigningKey;

impl SigningKey {
    /// A new key pair, as PKCS#8 bytes to keep.
    pub fn generate() -> Result<Vec<u8>, BadSigningKey> {
        let random = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&random)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| BadSigningKey)
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, BadSigningKey> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| BadSigningKey)?;
        let key_id = key_id(pair.public_key().as_ref());
        Ok(Self { pair, key_id })
    }

    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// `link` with this key's signature (any signature it had is replaced).
    pub fn sign(&self, link: &GuideLink) -> GuideLink {
        let signature = self.pair.sign(&signed_message(link, &self.key_id));
        GuideLink {
            signature: Some(LinkSignature {
                key_id: self.key_id.clone(),
                signature: signature.as_ref().to_vec(),
            }),
            ..link.clone()
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use uuid::Uuid;

    use super::*;

    const GUIDE: &str = "3f0b6c52-6d0e-4a43-9b51-2f4f3b7a9c10";

    fn link(step: u32) -> GuideLink {
        GuideLink::new(
            "acme",
            Uuid::parse_str(GUIDE).unwrap(),
            NonZeroU32::new(step),
        )
        .with_anchor("front")
    }

    fn key() -> SigningKey {
        SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap()
    }

    fn trust(key: &SigningKey, retired: bool) -> LinkTrust {
        LinkTrust {
            keys: vec![LinkKey {
                organisation: "acme".into(),
                key_id: key.key_id().into(),
                public_key: key.public_key().to_vec(),
                retired,
            }],
            signatures_required: Vec::new(),
        }
    }

    /// Replaces `from` with `to` in the printed link and parses it again, as a forger editing a
    /// sticker's text would.
    fn edited(link: &GuideLink, from: &str, to: &str) -> GuideLink {
        GuideLink::parse(&link.to_string().replace(from, to)).expect("still a link")
    }

    #[test]
    fn a_signed_link_survives_printing_and_reading_and_verifies() {
        let key = key();
        let signed = key.sign(&link(3));
        let read = GuideLink::parse(&signed.to_string()).expect("a signed link parses");
        assert_eq!(read, signed);
        assert!(
            signed
                .to_string()
                .contains(&format!("k={}&sig=", key.key_id()))
        );
        assert_eq!(trust(&key, false).check(&read), Ok(()));
    }

    #[test]
    fn an_altered_step_guide_anchor_or_signature_is_refused_as_forged() {
        let key = key();
        let signed = key.sign(&link(3));
        let trust = trust(&key, false);
        let forged = LinkRefusal::Forged {
            organisation: "acme".into(),
        };
        assert_eq!(
            trust.check(&edited(&signed, "/s/3", "/s/4")),
            Err(forged.clone())
        );
        assert_eq!(
            trust.check(&edited(
                &signed,
                GUIDE,
                "11111111-2222-4333-8444-555555555555"
            )),
            Err(forged.clone())
        );
        assert_eq!(
            trust.check(&edited(&signed, "anchor=front", "anchor=back")),
            Err(forged.clone())
        );
        let mut flipped = signed.clone();
        if let Some(s) = flipped.signature.as_mut() {
            s.signature[10] ^= 1;
        }
        assert_eq!(trust.check(&flipped), Err(forged));
        // Another organisation's key never vouches for acme.
        let mut other = signed.clone();
        other.organisation = "other".into();
        assert_eq!(trust.check(&other), Err(LinkRefusal::UnknownKey));
    }

    #[test]
    fn unknown_and_retired_keys_are_refused() {
        let key = key();
        let signed = key.sign(&link(3));
        assert_eq!(
            LinkTrust::default().check(&signed),
            Err(LinkRefusal::UnknownKey)
        );
        assert_eq!(
            trust(&key, true).check(&signed),
            Err(LinkRefusal::RetiredKey {
                organisation: "acme".into()
            })
        );
    }

    #[test]
    fn unsigned_links_are_refused_only_where_the_organisation_requires_signatures() {
        let plain = link(2);
        let mut trust = LinkTrust::default();
        assert_eq!(trust.check(&plain), Ok(()));
        trust.signatures_required.push("acme".into());
        assert_eq!(
            trust.check(&plain),
            Err(LinkRefusal::Unsigned {
                organisation: "acme".into()
            })
        );
    }

    #[test]
    fn malformed_signature_parameters_are_not_signatures() {
        assert_eq!(LinkSignature::from_query("abc", "AAAA"), None);
        assert_eq!(LinkSignature::from_query("0123456789abcdef", "AAAA"), None);
        assert_eq!(
            LinkSignature::from_query("0123456789ABCDEF", &"A".repeat(86)),
            None
        );
        assert!(LinkSignature::from_query("0123456789abcdef", &"A".repeat(86)).is_some());
    }
}
