//! Reading complete blob files: chunk by chunk into a sink (verify, copies to a file), or all
//! at once into memory on several threads (what the app reads guides with).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::mem::MaybeUninit;
use std::path::Path;

use ring::aead::{Aad, Nonce, Tag};

use super::{
    BlobKey, CHUNK, FileError, HEADER, MAGIC, NONCE, TAG, aad, file_len, open_chunk, sha_bytes,
};

/// Opens the complete blob file `path` of `size` plaintext bytes, checking its length and
/// magic before any chunk is read.
fn open_complete(key: &BlobKey, path: &Path, size: u64) -> Result<File, FileError> {
    use std::os::unix::fs::FileExt;

    let file = File::open(path)?;
    let expected = file_len(key, size).ok_or_else(|| {
        FileError::Damaged(format!(
            "its recorded size, {size} bytes, is larger than any blob file can hold"
        ))
    })?;
    let actual = file.metadata()?.len();
    if actual != expected {
        return Err(FileError::Damaged(format!(
            "the file has {actual} bytes where {size} bytes of content need {expected} (truncated or replaced)"
        )));
    }
    let mut header = [0u8; HEADER as usize];
    file.read_exact_at(&mut header, 0)?;
    if &header[..8] != MAGIC {
        return Err(FileError::Damaged(
            "it is not a hologuide blob file".to_owned(),
        ));
    }
    Ok(file)
}

/// Reads the complete blob file `path` of `size` plaintext bytes, chunk by chunk, handing each
/// authenticated chunk to `sink`. Any damage is an error before the damaged chunk is handed on.
pub(in crate::cache) fn read(
    key: &BlobKey,
    path: &Path,
    sha256: &str,
    size: u64,
    mut sink: impl FnMut(&[u8]) -> Result<(), FileError>,
) -> Result<(), FileError> {
    let mut file = open_complete(key, path, size)?;
    file.seek(SeekFrom::Start(HEADER))?;
    let sha = sha_bytes(sha256);
    let chunks = size / CHUNK as u64 + 1;
    let mut buffer = Vec::with_capacity(CHUNK + TAG);
    for index in 0..chunks {
        let last = index + 1 == chunks;
        let plain = if last {
            size % CHUNK as u64
        } else {
            CHUNK as u64
        };
        buffer.resize(plain as usize + key.overhead() as usize, 0);
        file.read_exact(&mut buffer)?;
        let index =
            u32::try_from(index).map_err(|_| FileError::Damaged("too many chunks".to_owned()))?;
        open_chunk(key, &sha, index, last, &mut buffer).map_err(|()| {
            FileError::Damaged(format!(
                "chunk {index} does not authenticate (tampered, truncated, another blob's file or another user's key)"
            ))
        })?;
        sink(&buffer)?;
    }
    Ok(())
}

/// Blobs at least this large are decrypted on several threads by [`read_all`]: below it, a
/// thread's start costs more than it saves.
const PARALLEL_FROM: u64 = 1 << 20;

/// Reads and authenticates the complete blob file `path` of `size` plaintext bytes into memory.
///
/// Chunks are independent (each has its own nonce and tag), so a large blob is decrypted by up
/// to `threads` threads at once, each reading its own run of chunks with positioned reads.
/// Any damage is an error, and no plaintext is returned.
pub(in crate::cache) fn read_all(
    key: &BlobKey,
    path: &Path,
    sha256: &str,
    size: u64,
    threads: usize,
) -> Result<Vec<u8>, FileError> {
    let file = open_complete(key, path, size)?;
    let len = usize::try_from(size)
        .map_err(|_| FileError::Damaged(format!("{size} bytes do not fit in memory")))?;
    let sha = sha_bytes(sha256);
    // Not zeroed first: every byte is written by a read before anything looks at it.
    let mut plain: Vec<u8> = Vec::with_capacity(len);
    let stride = CHUNK as u64 + key.overhead();
    let decrypt = |index: usize, last: bool, slot: &mut [MaybeUninit<u8>]| {
        let offset = HEADER + index as u64 * stride;
        // The ciphertext goes straight into its place in the result and is decrypted there.
        let mut nonce = [0u8; NONCE];
        let mut tag = [0u8; TAG];
        let envelope = key.cipher.as_ref().map(|_| (&mut nonce, &mut tag));
        let slot = read_record_at(&file, offset, slot, envelope)?;
        let Some(cipher) = &key.cipher else {
            return Ok(());
        };
        let index =
            u32::try_from(index).map_err(|_| FileError::Damaged("too many chunks".to_owned()))?;
        cipher
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(&sha, index, last)),
                Tag::from(tag),
                slot,
                0..,
            )
            .map_err(|_| {
                FileError::Damaged(format!(
                    "chunk {index} does not authenticate (tampered, truncated, another blob's file or another user's key)"
                ))
            })?;
        Ok::<(), FileError>(())
    };
    // Whole chunks first (in runs, one per thread), then the final, shorter one (maybe empty).
    let (whole, final_slot) = plain.spare_capacity_mut()[..len].split_at_mut(len / CHUNK * CHUNK);
    let decrypt_run = |first: usize, run: &mut [MaybeUninit<u8>]| -> Result<(), FileError> {
        for (n, slot) in run.chunks_mut(CHUNK).enumerate() {
            decrypt(first + n, false, slot)?;
        }
        Ok(())
    };
    let threads = if size >= PARALLEL_FROM {
        threads.clamp(1, 8)
    } else {
        1
    };
    let per_thread = (whole.len() / CHUNK).div_ceil(threads).max(1) * CHUNK;
    std::thread::scope(|scope| {
        let mut runs = whole.chunks_mut(per_thread).enumerate();
        let first = runs.next();
        let workers: Vec<_> = runs
            .map(|(n, run)| scope.spawn(move || decrypt_run(n * per_thread / CHUNK, run)))
            .collect();
        let mut result = first.map_or(Ok(()), |(_, run)| decrypt_run(0, run));
        for worker in workers {
            let outcome = worker.join().unwrap_or_else(|_| {
                Err(FileError::Damaged("a decrypting thread failed".to_owned()))
            });
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    })?;
    decrypt(len / CHUNK, true, final_slot)?;
    // SAFETY: the whole runs and the final slot together are the first `len` bytes of the
    // spare capacity, and each was filled completely by `read_record_at` (we return early on
    // any failure, before this line).
    unsafe { plain.set_len(len) };
    Ok(plain)
}

/// Reads one chunk record at `offset` with positioned, vectored reads: the chunk's bytes go
/// straight into `body` (where the plaintext belongs), and, for an encrypted file, the nonce
/// before them and the tag after them into `envelope`. Returns `body`, now initialised.
fn read_record_at<'b>(
    file: &File,
    offset: u64,
    body: &'b mut [MaybeUninit<u8>],
    envelope: Option<(&mut [u8; NONCE], &mut [u8; TAG])>,
) -> std::io::Result<&'b mut [u8]> {
    use std::os::fd::AsRawFd;

    let body_part = (body.as_mut_ptr().cast::<u8>(), body.len());
    let mut parts = Vec::with_capacity(3);
    match envelope {
        Some((nonce, tag)) => parts.extend([
            (nonce.as_mut_ptr(), NONCE),
            body_part,
            (tag.as_mut_ptr(), TAG),
        ]),
        None => parts.push(body_part),
    }
    let total: usize = parts.iter().map(|(_, len)| len).sum();
    let mut done = 0usize;
    while done < total {
        // The parts not yet filled, the first one maybe partly.
        let mut skip = done;
        let iovecs: Vec<libc::iovec> = parts
            .iter()
            .filter_map(|&(base, len)| {
                if skip >= len {
                    skip -= len;
                    return None;
                }
                let part = libc::iovec {
                    // Within the part: `skip < len`.
                    iov_base: base.wrapping_add(skip).cast(),
                    iov_len: len - skip,
                };
                skip = 0;
                Some(part)
            })
            .collect();
        let position = libc::off_t::try_from(offset + done as u64)
            .map_err(|_| std::io::Error::other("a blob file offset beyond off_t"))?;
        let count = libc::c_int::try_from(iovecs.len()).unwrap_or(3);
        // SAFETY: every iovec points into a distinct buffer that is live, writable and mutably
        // borrowed for the whole call (`body` for 'b, the envelope's arrays by the caller), with
        // the length that is left of it; the descriptor stays open while `file` is borrowed.
        let read = unsafe { libc::preadv(file.as_raw_fd(), iovecs.as_ptr(), count, position) };
        match read {
            n if n > 0 => done += n as usize,
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            _ => {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    // SAFETY: the loop above ended with all `total` bytes read, which include all of `body`;
    // bytes written by the kernel are initialised.
    Ok(unsafe { std::slice::from_raw_parts_mut(body.as_mut_ptr().cast::<u8>(), body.len()) })
}
