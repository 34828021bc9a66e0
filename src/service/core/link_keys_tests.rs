//! Sealed link keys (N2) on a real SQLite store in a temp folder: sealed when made, opened to
//! sign, keys stored in clear sealed once, and a wrong secret key file refused without a write.
//! The same through the binary and on PostgreSQL: tests/it/service/signed_links.rs.

use std::sync::Arc;

use time::OffsetDateTime;

use super::*;
use crate::guide::link_trust::{LinkKey, LinkTrust};
use crate::service::clock::SystemClock;
use crate::service::core::{Config, DataLocation};
use crate::service::secret_key_file::SECRET_KEY_FILE;

const ORG: &str = "acme";
const RIVAL: &str = "rival-works";

struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new() -> Folder {
        let dir = tempfile::tempdir().unwrap();
        Service::init(&DataLocation::folder(dir.path())).unwrap();
        Folder { dir }
    }

    /// The service on the folder, not yet unlocked.
    fn open(&self) -> Service {
        Service::open(
            &DataLocation::folder(self.dir.path()),
            Config::default(),
            Arc::new(SystemClock),
        )
        .unwrap()
    }

    fn default_file(&self) -> SecretKeyFile {
        SecretKeyFile::default_in(self.dir.path())
    }

    /// Another secret key file, made beside the default one.
    fn other_file(&self) -> SecretKeyFile {
        let dir = self.dir.path().join("elsewhere");
        std::fs::create_dir_all(&dir).unwrap();
        SecretKeyFile::default_in(&dir)
    }

    fn unlocked(&self, file: &SecretKeyFile) -> Service {
        let mut service = self.open();
        service.unlock_link_keys(file).unwrap();
        service
    }
}

/// `organisation`'s key `key_id` as stored.
fn stored(service: &Service, organisation: &str, key_id: &str) -> LinkKeyRecord {
    service
        .store
        .link_keys(Some(organisation))
        .unwrap()
        .into_iter()
        .find(|k| k.key_id == key_id)
        .unwrap()
}

/// A key as a build before sealing stored it: PKCS#8 in clear.
fn add_key_in_clear(service: &Service, organisation: &str) -> (LinkKeyRecord, SigningKey) {
    let pkcs8 = SigningKey::generate().unwrap();
    let key = SigningKey::from_pkcs8(&pkcs8).unwrap();
    let record = LinkKeyRecord {
        organisation: organisation.into(),
        key_id: key.key_id().into(),
        public_key: key.public_key().to_vec(),
        private_key: pkcs8,
        // Whole seconds, as the stores keep them.
        created_at: OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap(),
        retired_at: None,
    };
    service.store.add_link_key(&record).unwrap();
    (record, key)
}

/// Whether `organisation`'s signing key signs a link that its stored public key `key_id`
/// verifies, as a device would check it.
fn signs_as(service: &Service, organisation: &str, key_id: &str) -> bool {
    let signing = service.signing_key(organisation).unwrap();
    let link = GuideLink::new(organisation, Uuid::nil(), NonZeroU32::new(2)).with_anchor("front");
    let trust = LinkTrust {
        keys: vec![LinkKey {
            organisation: organisation.into(),
            key_id: key_id.into(),
            public_key: stored(service, organisation, key_id).public_key,
            retired: false,
        }],
        signatures_required: Vec::new(),
    };
    signing.key_id() == key_id && trust.check(&signing.sign(&link)).is_ok()
}

#[test]
fn a_new_key_is_stored_sealed_and_signs_again_after_a_restart_with_the_same_file() {
    let folder = Folder::new();
    let service = folder.unlocked(&folder.default_file());
    let key_id = service.rotate_link_key(ORG).unwrap();
    let record = stored(&service, ORG, &key_id);
    assert!(SigningKey::from_pkcs8(&record.private_key).is_err());
    assert_eq!(record.private_key[0], 1, "format version 1");
    assert!(folder.dir.path().join(SECRET_KEY_FILE).is_file());
    drop(service);

    let again = folder.unlocked(&folder.default_file());
    assert!(signs_as(&again, ORG, &key_id));
    assert_eq!(
        stored(&again, ORG, &key_id),
        record,
        "opening writes nothing"
    );
}

#[test]
fn a_key_stored_in_clear_is_sealed_once_and_keeps_signing() {
    let folder = Folder::new();
    let (plain, _) = add_key_in_clear(&folder.open(), ORG);
    let service = folder.unlocked(&folder.default_file());
    let sealed = stored(&service, ORG, &plain.key_id);
    assert_ne!(sealed.private_key, plain.private_key);
    assert!(SigningKey::from_pkcs8(&sealed.private_key).is_err());
    assert!(
        !sealed
            .private_key
            .windows(32)
            .any(|w| w == &plain.private_key[16..48]),
        "the seed is not in the sealed bytes"
    );
    assert!(signs_as(&service, ORG, &plain.key_id));
    // A second start finds nothing to seal.
    let key = folder.default_file().load().unwrap();
    let path = folder.default_file().path().to_owned();
    assert_eq!(
        seal_stored_link_keys(service.store.as_ref(), &key, &path).unwrap(),
        0
    );
    assert_eq!(stored(&service, ORG, &plain.key_id), sealed);
}

#[test]
fn another_secret_key_file_is_refused_by_name_and_changes_nothing() {
    let folder = Folder::new();
    let service = folder.unlocked(&folder.default_file());
    let key_id = service.rotate_link_key(ORG).unwrap();
    drop(service);
    // A key in clear of another organisation stays in clear: nothing is written.
    let (plain, _) = add_key_in_clear(&folder.open(), RIVAL);
    let before = folder.open().store.link_keys(None).unwrap();

    let other = folder.other_file();
    let error = folder.open().unlock_link_keys(&other).unwrap_err();
    assert!(
        matches!(error, ServiceError::WrongSecretKey { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "the link keys cannot be opened with {}: it is not the secret key file they were \
             sealed with",
            other.path().display()
        )),
        "{message}"
    );
    let service = folder.open();
    assert_eq!(service.store.link_keys(None).unwrap(), before);
    assert_eq!(stored(&service, RIVAL, &plain.key_id), plain);

    // The right file again: it signs, and the key in clear is sealed now.
    let service = folder.unlocked(&folder.default_file());
    assert!(signs_as(&service, ORG, &key_id));
    assert_ne!(stored(&service, RIVAL, &plain.key_id), plain);
}

#[test]
fn with_its_keys_retired_an_organisation_that_lost_its_file_signs_with_a_new_one() {
    let folder = Folder::new();
    let service = folder.unlocked(&folder.default_file());
    let lost = service.rotate_link_key(ORG).unwrap();
    service.retire_link_key(ORG, &lost).unwrap();
    drop(service);
    let service = folder.unlocked(&folder.other_file());
    let key_id = service.rotate_link_key(ORG).unwrap();
    assert!(signs_as(&service, ORG, &key_id));
}

#[test]
fn a_key_that_does_not_open_where_the_others_do_is_named() {
    let folder = Folder::new();
    let service = folder.unlocked(&folder.default_file());
    service.rotate_link_key(ORG).unwrap();
    drop(service);
    // An instance given another file made the rival organisation's key.
    let (plain, key) = add_key_in_clear(&folder.open(), RIVAL);
    let other = folder.other_file().load().unwrap();
    let rival_key = key.key_id().to_owned();
    let replaced = folder
        .open()
        .store
        .replace_private_keys(&[PrivateKeyReplacement {
            to: seal(&other, RIVAL, &rival_key, &plain.private_key).unwrap(),
            from: plain.private_key,
            organisation: RIVAL.into(),
            key_id: rival_key.clone(),
        }])
        .unwrap();
    assert_eq!(replaced, 1);
    let error = folder
        .open()
        .unlock_link_keys(&folder.default_file())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!(
            "the link key {rival_key} of {RIVAL} does not open"
        )),
        "{error}"
    );
}
