//! Blob files on disk: damage of every kind is refused with a clear error, never read as
//! content; a torn chunk left by a kill is cut back; blobs of an older cache are migrated.

use sha2::{Digest, Sha256};

use super::blobfile::CHUNK;
use super::tests::Device;
use super::*;

/// `len` bytes that differ with `seed`, and their sha256.
fn blob(seed: u8, len: usize) -> (String, Vec<u8>) {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    (hex::encode(Sha256::digest(&bytes)), bytes)
}

fn assert_refused(store: &Store, sha: &str, why: &str) {
    let error = store.read_blob(sha).unwrap_err();
    assert!(
        matches!(error, CacheError::BadBlobFile { .. }),
        "{why}: {error}"
    );
    assert!(error.to_string().contains("is damaged"), "{why}: {error}");
    let mut sink = Vec::new();
    assert!(store.copy_blob_to(sha, &mut sink).is_err(), "{why}");
    let report = store.verify().unwrap();
    assert!(!report.is_sound(), "{why}: {report:?}");
    assert!(
        report.bad_blobs.iter().any(|b| b.starts_with(sha)),
        "{why}: {report:?}"
    );
}

fn set_len(path: &std::path::Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn a_blob_file_with_one_byte_flipped_is_refused_by_read_and_verify() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let (sha, bytes) = blob(1, 3 * CHUNK + 100);
    store.put_blob(&sha, &bytes).unwrap();
    assert_eq!(store.read_blob(&sha).unwrap(), bytes);
    assert!(store.verify().unwrap().is_sound());
    let path = store.blob_path(&sha);
    let mut data = std::fs::read(&path).unwrap();
    // Header 16 bytes, then chunks of nonce 12 ‖ ciphertext ‖ tag 16.
    data[16 + (CHUNK + 28) + 7 + 12] ^= 0x20;
    std::fs::write(&path, data).unwrap();
    assert_refused(&store, &sha, "a byte flipped in the second chunk");
}

/// Found by fuzzing (issue 22): the file length a size needs overflowed (a panic in debug
/// builds) for a size near `u64::MAX`, which a negative size in a tampered database reads as.
#[test]
fn a_blob_size_tampered_to_a_negative_number_in_the_database_is_refused_not_a_panic() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let (sha, bytes) = blob(3, 1000);
    store.put_blob(&sha, &bytes).unwrap();
    store
        .run(|c| {
            c.execute("UPDATE blobs SET size = -1 WHERE sha256 = ?1", [&sha])?;
            Ok(())
        })
        .unwrap();
    assert_refused(&store, &sha, "a size of -1");
}

#[test]
fn a_blob_file_truncated_at_a_chunk_boundary_or_mid_chunk_is_refused() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let (sha, bytes) = blob(2, 3 * CHUNK + 100);
    let path = store.blob_path(&sha);
    let whole_chunk = (CHUNK + 28) as u64;
    for (why, len) in [
        ("cut after two whole chunks", 16 + 2 * whole_chunk),
        (
            "cut in the middle of the third chunk",
            16 + 2 * whole_chunk + 999,
        ),
        ("cut inside the final chunk", 16 + 3 * whole_chunk + 50),
    ] {
        store.put_blob(&sha, &bytes).unwrap();
        set_len(&path, len);
        assert_refused(&store, &sha, why);
        // The damaged row goes with its guide; here, by hand, so the next round starts clean.
        store
            .run(|c| Ok(c.execute("DELETE FROM blobs WHERE sha256 = ?1", [&sha])?))
            .unwrap();
    }
}

#[test]
fn a_blob_file_swapped_with_another_blobs_file_is_refused() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    // The same length, so only the authentication can tell them apart.
    let (sha_a, bytes_a) = blob(3, CHUNK + 10);
    let (sha_b, bytes_b) = blob(4, CHUNK + 10);
    store.put_blob(&sha_a, &bytes_a).unwrap();
    store.put_blob(&sha_b, &bytes_b).unwrap();
    std::fs::copy(store.blob_path(&sha_b), store.blob_path(&sha_a)).unwrap();
    assert_refused(&store, &sha_a, "b's file under a's name");
    assert_eq!(store.read_blob(&sha_b).unwrap(), bytes_b);
}

#[test]
fn another_users_key_cannot_decrypt_a_blob_file_and_names_differ() {
    let device = Device::new();
    let alice = device.open("alice").unwrap();
    let bob = device.open("bob").unwrap();
    let (sha, bytes) = blob(5, 1000);
    alice.put_blob(&sha, &bytes).unwrap();
    bob.put_blob(&sha, &bytes).unwrap();
    // File names are keyed: the same content has unrelated names, neither is its sha256.
    let alice_name = alice.blob_path(&sha).file_name().unwrap().to_owned();
    let bob_name = bob.blob_path(&sha).file_name().unwrap().to_owned();
    assert_ne!(alice_name, bob_name);
    assert_ne!(alice_name.to_string_lossy(), sha);
    std::fs::copy(alice.blob_path(&sha), bob.blob_path(&sha)).unwrap();
    assert_refused(&bob, &sha, "alice's file in bob's cache");
    assert_eq!(alice.read_blob(&sha).unwrap(), bytes);
}

#[test]
fn a_torn_chunk_left_by_a_kill_is_cut_back_and_the_download_resumes() {
    let device = Device::new();
    let (sha, bytes) = blob(6, 2 * CHUNK + 500);
    let part = {
        let store = device.open("alice").unwrap();
        store.append_partial(&sha, 0, &bytes[..CHUNK]).unwrap();
        store
            .append_partial(&sha, CHUNK as u64, &bytes[CHUNK..CHUNK + 3000])
            .unwrap();
        store.part_path(&sha)
    };
    // The second chunk's write was cut short by the kill.
    let len = std::fs::metadata(&part).unwrap().len();
    set_len(&part, len - 100);
    let store = device.open("alice").unwrap();
    assert_eq!(store.partial_len(&sha).unwrap(), CHUNK as u64);
    assert_eq!(store.info().unwrap().partial_blobs, 1);
    store
        .append_partial(&sha, CHUNK as u64, &bytes[CHUNK..])
        .unwrap();
    store.finish_partial(&sha).unwrap();
    assert_eq!(store.read_blob(&sha).unwrap(), bytes);
    assert!(store.verify().unwrap().is_sound());
}

#[test]
fn a_short_append_survives_a_reopen_exactly() {
    let device = Device::new();
    let (sha, bytes) = blob(7, CHUNK + 777);
    {
        let store = device.open("alice").unwrap();
        store.append_partial(&sha, 0, &bytes[..1234]).unwrap();
    }
    let store = device.open("alice").unwrap();
    assert_eq!(store.partial_len(&sha).unwrap(), 1234);
    store.append_partial(&sha, 1234, &bytes[1234..]).unwrap();
    store.finish_partial(&sha).unwrap();
    assert_eq!(store.read_blob(&sha).unwrap(), bytes);
}

#[test]
fn an_orphan_blob_file_is_removed_by_verify_and_a_missing_file_is_reported() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let (sha, bytes) = blob(8, 5000);
    store.put_blob(&sha, &bytes).unwrap();
    // A crash between a row's deletion and its file's deletion.
    let path = store.blob_path(&sha);
    let kept = std::fs::read(&path).unwrap();
    store
        .run(|c| Ok(c.execute("DELETE FROM blobs WHERE sha256 = ?1", [&sha])?))
        .unwrap();
    assert!(store.verify().unwrap().is_sound());
    assert!(!path.exists(), "the orphan file was removed");
    // The other way round: a row whose file is gone is never reported sound.
    store.put_blob(&sha, &bytes).unwrap();
    std::fs::remove_file(&path).unwrap();
    let report = store.verify().unwrap();
    assert!(!report.is_sound(), "{report:?}");
    assert!(matches!(
        store.read_blob(&sha),
        Err(CacheError::BadBlobFile { .. })
    ));
    drop(kept);
}

#[test]
fn blobs_kept_in_the_database_by_an_older_cache_are_moved_into_files_on_open() {
    let device = Device::new();
    let (sha, bytes) = blob(9, 2 * CHUNK + 1);
    let (partial_sha, partial) = blob(10, 5000);
    {
        let store = device.open("alice").unwrap();
        // What the previous format wrote: the bytes in `blob_chunks`.
        store
            .run(|c| {
                c.execute(
                    "INSERT INTO blobs (sha256, size, complete, created_at)
                     VALUES (?1, ?2, 1, 'x'), (?3, 100, 0, 'x')",
                    rusqlite::params![sha, bytes.len() as i64, partial_sha],
                )?;
                c.execute(
                    "INSERT INTO blob_chunks (sha256, offset, data) VALUES (?1, 0, ?2), (?1, ?3, ?4), (?5, 0, ?6)",
                    rusqlite::params![
                        sha,
                        &bytes[..1000],
                        1000i64,
                        &bytes[1000..],
                        partial_sha,
                        &partial[..100]
                    ],
                )?;
                Ok(())
            })
            .unwrap();
    }
    let store = device.open("alice").unwrap();
    assert_eq!(store.read_blob(&sha).unwrap(), bytes);
    assert!(store.blob_path(&sha).exists());
    // The partial download starts over.
    assert_eq!(store.partial_len(&partial_sha).unwrap(), 0);
    let left: i64 = store
        .run(|c| Ok(c.query_row("SELECT count(*) FROM blob_chunks", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(left, 0);
    assert!(store.verify().unwrap().is_sound());
}

#[test]
fn large_blobs_read_on_several_threads_are_exact_at_every_chunk_boundary() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    // Around the parallel threshold (1 MiB = 16 chunks), whole and part chunks, and the empty
    // blob; 33 chunks split unevenly over the threads.
    for len in [
        0,
        1,
        CHUNK,
        16 * CHUNK,
        16 * CHUNK + 1,
        33 * CHUNK - 1,
        33 * CHUNK,
    ] {
        let (sha, bytes) = blob((len % 251) as u8, len);
        store.put_blob(&sha, &bytes).unwrap();
        assert_eq!(store.read_blob(&sha).unwrap(), bytes, "{len} bytes");
        let path = store.blob_path(&sha);
        for threads in [1, 2, 3, 8] {
            let read = blobfile::read_all(&store.blob_key, &path, &sha, len as u64, threads);
            assert_eq!(read.unwrap(), bytes, "{len} bytes on {threads} threads");
        }
    }
}

#[test]
fn a_flipped_byte_in_the_last_thread_s_run_fails_the_whole_parallel_read() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let (sha, bytes) = blob(11, 40 * CHUNK + 5);
    store.put_blob(&sha, &bytes).unwrap();
    let path = store.blob_path(&sha);
    let mut data = std::fs::read(&path).unwrap();
    // Chunk 39, read by the last of several threads.
    data[16 + 39 * (CHUNK + 28) + 12 + 100] ^= 0x01;
    std::fs::write(&path, data).unwrap();
    for threads in [1, 2, 4] {
        let error = blobfile::read_all(&store.blob_key, &path, &sha, bytes.len() as u64, threads)
            .unwrap_err();
        assert!(
            matches!(&error, blobfile::FileError::Damaged(d) if d.contains("chunk 39")),
            "{threads} threads: {error:?}"
        );
    }
    assert_refused(&store, &sha, "a byte flipped in chunk 39");
}

#[test]
fn partial_downloads_no_guide_wanted_for_a_week_are_collected_and_wanted_ones_resume() {
    let device = Device::new();
    let store = device.open("alice").unwrap();
    let packaged = super::tests::demo(1, None);
    let (abandoned, abandoned_bytes) = &packaged.blobs[0];
    let (wanted, wanted_bytes) = &packaged.blobs[1];
    store
        .append_partial(abandoned, 0, &abandoned_bytes[..10])
        .unwrap();
    store
        .append_partial(wanted, 0, &wanted_bytes[..10])
        .unwrap();
    device
        .clock
        .advance(PARTIAL_MAX_AGE - time::Duration::hours(1));
    // Within the week both are kept for resuming.
    assert_eq!(store.collect_garbage().unwrap(), 0);
    // A download wants one of them again: its week starts over.
    let mut version = packaged.version.clone();
    version.assets.retain(|a| a.sha256 == *wanted);
    drop(store.begin_version(version).unwrap());
    device.clock.advance(time::Duration::hours(2));
    assert_eq!(store.collect_garbage().unwrap(), 1);
    assert_eq!(store.partial_len(abandoned).unwrap(), 0);
    assert!(!store.part_path(abandoned).exists());
    // The one still wanted resumes where it stopped.
    assert_eq!(store.partial_len(wanted).unwrap(), 10);
    store
        .append_partial(wanted, 10, &wanted_bytes[10..])
        .unwrap();
    store.finish_partial(wanted).unwrap();
    assert_eq!(&store.read_blob(wanted).unwrap(), wanted_bytes);
    assert!(store.verify().unwrap().is_sound());
}
