//! Behaviour of the cache with the demo guide as data; in-memory device secrets, temp folders.

use std::sync::Arc;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::blobfile;
use super::package::{PackagedVersion, from_package};
use super::session_tests::event;
use super::*;
use crate::app::access::{self, Refused};
use crate::clock::FixedClock;

pub(super) const START: OffsetDateTime = datetime!(2026-11-25 09:00 UTC);

pub(super) struct Device {
    pub(super) dir: tempfile::TempDir,
    pub(super) keys: MemoryKeyStore,
    pub(super) clock: Arc<FixedClock>,
}

impl Device {
    pub(super) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            keys: MemoryKeyStore::with_secret([7; 32]),
            clock: Arc::new(FixedClock::new(START)),
        }
    }

    pub(super) fn open(&self, user: &str) -> Result<Store, CacheError> {
        Store::open(self.dir.path(), user, &self.keys, self.clock.clone())
    }
}

pub(super) fn demo(version: u32, lease: Option<OffsetDateTime>) -> PackagedVersion {
    from_package(&crate::demo::load().unwrap(), version, lease).unwrap()
}

pub(super) fn store_version(store: &Store, packaged: &PackagedVersion) -> CachedVersion {
    let writer = store.begin_version(packaged.version.clone()).unwrap();
    for (sha, bytes) in &packaged.blobs {
        writer.put_blob(sha, bytes).unwrap();
    }
    writer.commit().unwrap()
}

/// The demo guide with one asset's content changed, as a new version would bring.
fn demo_with_changed_asset(version: u32) -> PackagedVersion {
    let mut packaged = demo(version, None);
    let mut bytes = packaged.blobs[0].1.clone();
    bytes.extend_from_slice(format!("version {version}").as_bytes());
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let old = packaged.blobs[0].0.clone();
    for asset in &mut packaged.version.assets {
        if asset.sha256 == old {
            asset.sha256 = sha.clone();
            asset.bytes = bytes.len() as u64;
        }
    }
    packaged.blobs[0] = (sha, bytes);
    packaged
}

#[test]
fn user_b_key_cannot_open_user_a_database() {
    let device = Device::new();
    store_version(&device.open("alice").unwrap(), &demo(1, None));
    let alice_file = database_path(device.dir.path(), "alice");
    let error = Store::open_at(
        device.dir.path(),
        &alice_file,
        "bob",
        &device.keys,
        device.clock.clone(),
    )
    .unwrap_err();
    assert!(matches!(error, CacheError::WrongKey { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "this cache belongs to another user or device"
    );
    // Bob's own cache is separate and starts empty (F6).
    assert!(device.open("bob").unwrap().list().unwrap().is_empty());
}

#[test]
fn same_user_with_another_device_secret_cannot_open_the_cache() {
    let device = Device::new();
    store_version(&device.open("alice").unwrap(), &demo(1, None));
    let other_device = MemoryKeyStore::with_secret([8; 32]);
    let error = Store::open(
        device.dir.path(),
        "alice",
        &other_device,
        device.clock.clone(),
    )
    .unwrap_err();
    assert!(matches!(error, CacheError::WrongKey { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "this cache belongs to another user or device"
    );
}

#[test]
fn wrong_key_is_reported_even_without_the_account_index() {
    let device = Device::new();
    store_version(&device.open("alice").unwrap(), &demo(1, None));
    std::fs::remove_file(DeviceIndex::path(device.dir.path())).unwrap();
    let other_device = MemoryKeyStore::with_secret([9; 32]);
    let error = Store::open(
        device.dir.path(),
        "alice",
        &other_device,
        device.clock.clone(),
    )
    .unwrap_err();
    assert!(matches!(error, CacheError::WrongKey { .. }), "{error:?}");
}

#[test]
fn opening_a_guide_stores_all_its_steps_and_assets_for_offline_use() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let packaged = demo(1, None);
    let stored = store_version(&store, &packaged);
    let reopened = device.open("alice").unwrap();
    let current = reopened.current(stored.guide_id).unwrap().unwrap();
    assert_eq!(current, stored);
    let guide = current.decode_guide().unwrap();
    assert_eq!(
        guide,
        crate::demo::load().unwrap().guide.clone().with_version(1)
    );
    for (sha, bytes) in &packaged.blobs {
        assert_eq!(&reopened.read_blob(sha).unwrap(), bytes);
    }
    assert!(reopened.verify().unwrap().is_sound());
}

trait WithVersion {
    fn with_version(self, version: u32) -> Self;
}

impl WithVersion for crate::guide::Guide {
    fn with_version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }
}

#[test]
fn all_list_shows_cached_guides_with_version_and_download_date() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    assert!(store.list().unwrap().is_empty());
    store_version(&store, &demo(3, None));
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].version, 3);
    assert_eq!(list[0].downloaded_at, START);
    assert_eq!(list[0].title, crate::demo::load().unwrap().guide.title);
    assert_eq!(list[0].status, GuideStatus::Active);
    assert!(list[0].bytes > 0);
}

#[test]
fn a_new_version_replaces_the_previous_one_and_its_unshared_blobs_are_collected() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let first = demo(1, None);
    store_version(&store, &first);
    let second = demo_with_changed_asset(2);
    device.clock.advance(Duration::hours(1));
    let current = store_version(&store, &second);
    assert_eq!(current.version, 2);
    assert_eq!(current.downloaded_at, START + Duration::hours(1));
    // The replaced asset's old blob is gone, the shared ones stayed (stored once).
    assert!(!store.has_blob(&first.blobs[0].0).unwrap());
    for (sha, _) in &second.blobs {
        assert!(store.has_blob(sha).unwrap());
    }
    let info = store.info().unwrap();
    assert_eq!(info.blobs, second.blobs.len() as u64);
    assert!(store.verify().unwrap().is_sound());
}

#[test]
fn commit_refuses_a_version_whose_blobs_were_not_all_downloaded() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    store_version(&store, &demo(1, None));
    let second = demo_with_changed_asset(2);
    let writer = store.begin_version(second.version.clone()).unwrap();
    assert_eq!(writer.missing().unwrap().len(), 1);
    for (sha, bytes) in &second.blobs[1..] {
        writer.put_blob(sha, bytes).unwrap();
    }
    let error = writer.commit().unwrap_err();
    assert!(
        matches!(error, CacheError::IncompleteVersion { .. }),
        "{error}"
    );
    assert_eq!(
        store
            .current(second.version.guide_id)
            .unwrap()
            .unwrap()
            .version,
        1
    );
}

#[test]
fn a_tampered_blob_is_rejected_by_put_blob() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let packaged = demo(1, None);
    let (sha, bytes) = &packaged.blobs[0];
    let mut tampered = bytes.clone();
    tampered[10] ^= 0xff;
    let error = store.put_blob(sha, &tampered).unwrap_err();
    assert!(matches!(error, CacheError::HashMismatch { .. }), "{error}");
    let error = store.put_blob(sha, &bytes[..bytes.len() - 1]).unwrap_err();
    assert!(matches!(error, CacheError::HashMismatch { .. }), "{error}");
    assert!(!store.has_blob(sha).unwrap());
    assert!(matches!(
        store.put_blob("../etc/passwd", bytes),
        Err(CacheError::BadSha256(_))
    ));
}

#[test]
fn a_resumable_download_continues_after_reopening_and_is_verified_at_the_end() {
    let device = Device::new();
    let packaged = demo(1, None);
    let (sha, bytes) = packaged.blobs.iter().max_by_key(|(_, b)| b.len()).unwrap();
    let half = bytes.len() / 2;
    {
        let store = device.open("alice").unwrap();
        assert_eq!(store.partial_len(sha).unwrap(), 0);
        assert_eq!(
            store.append_partial(sha, 0, &bytes[..half]).unwrap(),
            half as u64
        );
    }
    let store = device.open("alice").unwrap();
    assert_eq!(store.partial_len(sha).unwrap(), half as u64);
    let error = store.append_partial(sha, 3, &bytes[3..]).unwrap_err();
    assert!(
        matches!(error, CacheError::PartialOffset { expected, got: 3, .. } if expected == half as u64)
    );
    store
        .append_partial(sha, half as u64, &bytes[half..])
        .unwrap();
    assert!(!store.has_blob(sha).unwrap());
    store.finish_partial(sha).unwrap();
    assert_eq!(&store.read_blob(sha).unwrap(), bytes);
}

#[test]
fn a_resumed_download_whose_stored_part_was_altered_is_cut_back_and_starts_over() {
    // The hash is kept incrementally in memory; a resumed partial has its stored chunks
    // authenticated and hashed again, so bytes changed while the app was not running are
    // dropped instead of being trusted.
    let device = Device::new();
    let packaged = demo(1, None);
    let (sha, bytes) = packaged.blobs.iter().max_by_key(|(_, b)| b.len()).unwrap();
    let half = bytes.len() / 2;
    {
        let store = device.open("alice").unwrap();
        store.append_partial(sha, 0, &bytes[..half]).unwrap();
        // A byte of the first chunk: everything from there on is dropped.
        let part = store.part_path(sha);
        let mut data = std::fs::read(&part).unwrap();
        data[20] ^= 1;
        std::fs::write(&part, data).unwrap();
    }
    let store = device.open("alice").unwrap();
    assert_eq!(store.partial_len(sha).unwrap(), 0);
    assert!(matches!(
        store.append_partial(sha, half as u64, &bytes[half..]),
        Err(CacheError::PartialOffset { expected: 0, .. })
    ));
    store.append_partial(sha, 0, &bytes[..half]).unwrap();
    store
        .append_partial(sha, half as u64, &bytes[half..])
        .unwrap();
    store.finish_partial(sha).unwrap();
    assert_eq!(&store.read_blob(sha).unwrap(), bytes);
}

pub(super) fn flip_last_byte(path: &std::path::Path) {
    let mut data = std::fs::read(path).unwrap();
    let last = data.len() - 1;
    data[last] ^= 1;
    std::fs::write(path, data).unwrap();
}

#[test]
fn a_truncated_or_tampered_download_is_rejected_by_finish_partial() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let packaged = demo(1, None);
    let (sha, bytes) = &packaged.blobs[0];
    store
        .append_partial(sha, 0, &bytes[..bytes.len() - 5])
        .unwrap();
    let error = store.finish_partial(sha).unwrap_err();
    assert!(matches!(error, CacheError::HashMismatch { .. }), "{error}");
    // The bad bytes are gone: the download starts over.
    assert_eq!(store.partial_len(sha).unwrap(), 0);
    let mut tampered = bytes.clone();
    tampered[0] ^= 1;
    store.append_partial(sha, 0, &tampered).unwrap();
    assert!(matches!(
        store.finish_partial(sha),
        Err(CacheError::HashMismatch { .. })
    ));
    assert!(!store.has_blob(sha).unwrap());
}

#[test]
fn verify_finds_a_blob_whose_file_was_altered() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let packaged = demo(1, None);
    store_version(&store, &packaged);
    assert!(store.verify().unwrap().is_sound());
    let sha = &packaged.blobs[0].0;
    flip_last_byte(&store.blob_path(sha));
    let report = store.verify().unwrap();
    assert!(!report.is_sound());
    assert_eq!(report.bad_blobs.len(), 1, "{report:?}");
    assert!(report.bad_blobs[0].starts_with(sha.as_str()));
}

#[test]
fn deactivated_guide_stays_cached_and_is_never_updated() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let stored = store_version(&store, &demo(1, None));
    let message = "This guide was withdrawn by its author.";
    store
        .mark_refused(stored.guide_id, GuideStatus::Deactivated, message)
        .unwrap();
    let error = store.begin_version(demo(2, None).version).err().unwrap();
    assert!(matches!(
        error,
        CacheError::Refused {
            status: GuideStatus::Deactivated,
            ..
        }
    ));
    let current = store.current(stored.guide_id).unwrap().unwrap();
    assert_eq!(current.version, 1);
    assert_eq!(current.status_message.as_deref(), Some(message));
    assert_eq!(
        may_open_offline(&store, stored.guide_id),
        Err(Refused::RefusedByService(message.to_owned()))
    );
    assert_eq!(store.list().unwrap()[0].status, GuideStatus::Deactivated);
}

#[test]
fn guide_whose_permission_was_lost_behaves_the_same_and_can_be_cleared() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let packaged = demo(1, None);
    let stored = store_version(&store, &packaged);
    // A writer started before the refusal arrived cannot commit after it.
    let writer = store.begin_version(demo(2, None).version).unwrap();
    store
        .mark_refused(
            stored.guide_id,
            GuideStatus::PermissionLost,
            "You no longer have access.",
        )
        .unwrap();
    assert!(matches!(writer.commit(), Err(CacheError::Refused { .. })));
    assert_eq!(store.current(stored.guide_id).unwrap().unwrap().version, 1);
    assert!(store.clear_guide(stored.guide_id).unwrap());
    assert!(store.current(stored.guide_id).unwrap().is_none());
    assert_eq!(store.info().unwrap().blobs, 0);
    assert!(matches!(
        store.mark_refused(stored.guide_id, GuideStatus::Deactivated, ""),
        Err(CacheError::NotCached(_))
    ));
}

/// N1 as the device applies it: the one rule ([`access::may_open_offline`]) on what this cache
/// holds and the latest time it has seen.
fn may_open_offline(store: &Store, guide_id: Uuid) -> Result<(), Refused> {
    let version = store
        .current(guide_id)
        .unwrap()
        .expect("the guide is cached");
    let last_seen = store.time_high_water().unwrap();
    access::may_open_offline(
        &crate::client::facts_of(&version, store.lost_access().unwrap()),
        store.clock.now(),
        last_seen,
    )
}

#[test]
fn an_expired_lease_stops_the_guide_opening_offline() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let stored = store_version(&store, &demo(1, Some(START + Duration::days(7))));
    assert_eq!(may_open_offline(&store, stored.guide_id), Ok(()));
    device.clock.advance(Duration::days(7));
    assert!(matches!(
        may_open_offline(&store, stored.guide_id),
        Err(Refused::LeaseExpired { .. })
    ));
    assert!(
        store.current(Uuid::new_v4()).unwrap().is_none(),
        "not cached"
    );
}

#[test]
fn a_clock_set_back_counts_leases_as_expired_until_the_time_is_confirmed_online() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let stored = store_version(&store, &demo(1, Some(START + Duration::days(7))));
    device.clock.advance(Duration::days(6));
    assert_eq!(may_open_offline(&store, stored.guide_id), Ok(()));
    // Opened: the cache has seen day 6.
    store.advance_time_seen().unwrap();
    // The operator sets the clock back to stretch the lease.
    device.clock.set(START + Duration::days(1));
    let reopened = device.open("alice").unwrap();
    assert_eq!(
        reopened.time_high_water().unwrap(),
        Some(START + Duration::days(6))
    );
    assert_eq!(
        may_open_offline(&reopened, stored.guide_id),
        Err(Refused::ClockRolledBack)
    );
    // Asking again (and advancing) never moves the mark down.
    reopened.advance_time_seen().unwrap();
    assert_eq!(
        may_open_offline(&reopened, stored.guide_id),
        Err(Refused::ClockRolledBack)
    );
    reopened.confirm_clock().unwrap();
    assert_eq!(may_open_offline(&reopened, stored.guide_id), Ok(()));
}

/// N1 allows the clock to drift a little (5 minutes) before calling it set back; the cache's
/// mark and the rule agree on that.
#[test]
fn a_clock_a_minute_behind_the_latest_time_seen_is_not_set_back() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let stored = store_version(&store, &demo(1, Some(START + Duration::days(7))));
    device.clock.advance(Duration::hours(1));
    store.advance_time_seen().unwrap();
    device.clock.set(START + Duration::minutes(59));
    assert_eq!(may_open_offline(&store, stored.guide_id), Ok(()));
}

#[test]
fn a_cache_at_schema_version_1_is_migrated_and_keeps_its_guides() {
    let device = Device::new();
    let path = database_path(device.dir.path(), "alice");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let secret = device.keys.device_secret().unwrap();
    let key = keys::derive_key(&secret, "alice", keys::Purpose::Database);
    let Ok(mut connection) = schema::connect(&path, Some(&key)) else {
        panic!("a new file opens");
    };
    schema::migrate_to(&mut connection, &path, 1).unwrap();
    let blob_key =
        blobfile::BlobKey::new(&keys::derive_key(&secret, "alice", keys::Purpose::Blobs));
    let old = Store::from_connection(
        connection,
        &path,
        None,
        "alice",
        device.clock.clone(),
        blob_key,
    );
    let stored = store_version(&old, &demo(1, None));
    drop(old);
    let store = device.open("alice").unwrap();
    store
        .run(|c| Ok(schema::schema_version(c)?))
        .map(|version| assert_eq!(version, schema::MIGRATIONS.len() as i64))
        .unwrap();
    assert_eq!(store.current(stored.guide_id).unwrap().unwrap(), stored);
    store
        .record_event(Uuid::new_v4(), &event("session_start", START, None))
        .unwrap();
}

#[test]
fn a_cache_written_by_a_newer_hologuide_is_refused_with_a_clear_error() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    store
        .run(|c| Ok(c.pragma_update(None, "user_version", 99)?))
        .unwrap();
    drop(store);
    let error = device.open("alice").unwrap_err();
    assert!(
        matches!(error, CacheError::NewerSchema { found: 99, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("newer hologuide"));
}

#[test]
fn clearing_a_user_removes_their_database_without_needing_its_key() {
    let device = Device::new();
    store_version(&device.open("alice").unwrap(), &demo(1, None));
    store_version(&device.open("bob").unwrap(), &demo(1, None));
    assert!(clear_user(device.dir.path(), "alice").unwrap());
    assert!(!database_path(device.dir.path(), "alice").exists());
    assert!(device.open("alice").unwrap().list().unwrap().is_empty());
    assert_eq!(device.open("bob").unwrap().list().unwrap().len(), 1);
    assert_eq!(clear_all_users(device.dir.path()).unwrap(), 2);
    assert!(!DeviceIndex::path(device.dir.path()).exists());
}

#[test]
fn garbage_left_by_an_interrupted_write_is_collected_but_downloads_in_progress_are_kept() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let packaged = demo(1, None);
    let (sha, bytes) = &packaged.blobs[0];
    store.put_blob(sha, bytes).unwrap();
    let (partial_sha, partial_bytes) = &packaged.blobs[1];
    store
        .append_partial(partial_sha, 0, &partial_bytes[..10])
        .unwrap();
    let writer = store.begin_version(packaged.version.clone()).unwrap();
    // Staged by a live writer: kept.
    assert_eq!(store.collect_garbage().unwrap(), 0);
    drop(writer);
    assert_eq!(store.collect_garbage().unwrap(), 1);
    assert!(!store.has_blob(sha).unwrap());
    assert_eq!(store.partial_len(partial_sha).unwrap(), 10);
}

#[test]
fn a_store_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Store>();
}

#[test]
fn a_large_blob_can_be_copied_out_piece_by_piece() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let bytes: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    store.put_blob(&sha, &bytes).unwrap();
    let mut copy = Vec::new();
    assert_eq!(
        store.copy_blob_to(&sha, &mut copy).unwrap(),
        bytes.len() as u64
    );
    assert_eq!(copy, bytes);
    let missing = "0".repeat(64);
    assert!(matches!(
        store.copy_blob_to(&missing, &mut Vec::new()),
        Err(CacheError::MissingBlob(_))
    ));
}

#[test]
fn a_damaged_account_index_is_set_aside_and_the_cache_still_opens() {
    let device = Device::new();
    let stored = store_version(&device.open("alice").unwrap(), &demo(1, None));
    let index = DeviceIndex::path(device.dir.path());
    std::fs::write(&index, b"{ not json").unwrap();
    assert!(matches!(
        DeviceIndex::load(device.dir.path()),
        Err(CacheError::Index { .. })
    ));
    let store = device.open("alice").unwrap();
    assert!(store.current(stored.guide_id).unwrap().is_some());
    let aside = device.dir.path().join("accounts.json.damaged");
    assert_eq!(std::fs::read(aside).unwrap(), b"{ not json");
    assert!(
        DeviceIndex::load(device.dir.path())
            .unwrap()
            .account("alice")
            .is_some()
    );
}
