//! One blob's bytes in one file, encrypted with AES-256-GCM in fixed chunks (streaming AEAD).
//!
//! Why files: SQLCipher authenticates and encrypts every 64 KiB page and walks a B-tree for
//! every piece, which held downloads and reads to a small fraction of the disk's speed. A
//! file of GCM chunks costs one AES-NI/PCLMUL pass per byte.
//!
//! The cipher is ring's AES-256-GCM (see [`BlobKey`]).
//!
//! Layout: `MAGIC` (8 bytes) ‖ 8 random bytes (a file id) ‖ chunks. Every chunk but the last
//! holds exactly [`CHUNK`] bytes of plaintext; the last one holds fewer (possibly none) and is
//! flagged final. Each chunk is nonce (12 random bytes, fresh at every encryption: a short
//! chunk is rewritten as a download grows) ‖ ciphertext ‖ 16-byte tag, with
//! AAD = blob sha256 ‖ chunk index (big-endian u32) ‖ final flag. So a reordered chunk fails
//! (index), a file cut at a chunk boundary fails (no final chunk), a file moved to another
//! blob's name fails (sha256), and another key fails (tag). NIST's bound for random 96-bit
//! nonces, 2^32 encryptions per key, is 256 TiB of 64 KiB chunks per user and device.
//!
//! Without a key (the benchmark's plain baseline) the same layout holds plaintext and no tags.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use sha2::Sha256;
use zeroize::Zeroizing;

mod reader;

pub(super) use reader::{read, read_all};

/// Plaintext bytes per chunk: large enough that the per-chunk cost (a tag, a syscall) is
/// negligible, small enough to hold in memory.
pub(super) const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const NONCE: usize = 12;
const MAGIC: &[u8; 8] = b"HGBLOB2\0";
const HEADER: u64 = 16;

/// Why a blob file cannot be used; the store turns it into a [`super::CacheError`].
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Wrong magic, wrong length, a tag that does not verify (tampered, truncated, swapped,
    /// another user's key).
    #[error("{0}")]
    Damaged(String),
}

/// Reads and authenticates the complete blob file `path` (`size` plaintext bytes of the blob
/// `sha256`, 64 hex digits) with a user's 32-byte blob key, exactly as the store reads blobs.
/// Public for the fuzz target (issue 22): after a crash or tampering the file's bytes, and the
/// size the database records, are outside input.
pub fn read_blob_file(
    key: &[u8; 32],
    path: &Path,
    sha256: &str,
    size: u64,
    threads: usize,
) -> Result<Vec<u8>, FileError> {
    read_all(&BlobKey::new(key), path, sha256, size, threads)
}

/// The blob key of one user on one device, or none for the plain baseline.
pub(super) struct BlobKey {
    /// ring's AES-256-GCM: it uses VAES/VPCLMULQDQ (AVX2) where the CPU has them, measured
    /// about 4× the `aes-gcm` crate's speed on the development machine.
    cipher: Option<LessSafeKey>,
    /// Names files: HMAC(name key, sha256), so a directory listing does not reveal which
    /// content (a guide's known model) another user has.
    name_key: Zeroizing<[u8; 32]>,
}

impl BlobKey {
    pub(super) fn new(key: &[u8; 32]) -> BlobKey {
        let mut name_key = Zeroizing::new([0u8; 32]);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .expect("HMAC-SHA256 takes a key of any length");
        mac.update(b"blob file names");
        name_key.copy_from_slice(&mac.finalize().into_bytes());
        // A 32-byte key is always a valid AES-256 key.
        let cipher = UnboundKey::new(&AES_256_GCM, key)
            .ok()
            .map(LessSafeKey::new);
        BlobKey { cipher, name_key }
    }

    /// No encryption: only the benchmark's baseline.
    pub(super) fn plain() -> BlobKey {
        BlobKey {
            cipher: None,
            name_key: Zeroizing::new([0u8; 32]),
        }
    }

    /// The file name of a complete blob (a partial one adds `.part`).
    pub(super) fn file_name(&self, sha256: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.name_key.as_ref())
            .expect("HMAC-SHA256 takes a key of any length");
        mac.update(sha256.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Bytes a chunk has beyond its plaintext: its nonce and its tag.
    fn overhead(&self) -> u64 {
        if self.cipher.is_some() {
            (NONCE + TAG) as u64
        } else {
            0
        }
    }
}

fn aad(sha256: &[u8; 32], index: u32, last: bool) -> [u8; 37] {
    let mut aad = [0u8; 37];
    aad[..32].copy_from_slice(sha256);
    aad[32..36].copy_from_slice(&index.to_be_bytes());
    aad[36] = u8::from(last);
    aad
}

/// `sha256` as 32 bytes; callers have checked it is 64 hex digits.
pub(super) fn sha_bytes(sha256: &str) -> [u8; 32] {
    let mut raw = [0u8; 32];
    if hex::decode_to_slice(sha256, &mut raw).is_err() {
        // Unreachable after `check_sha256`; a wrong AAD would only make reads fail, never pass.
        raw = [0xff; 32];
    }
    raw
}

/// Bytes a file of `size` plaintext bytes has; `None` past `u64::MAX` (a size read from a
/// tampered database can be anything: found by fuzzing, issue 22).
pub(super) fn file_len(key: &BlobKey, size: u64) -> Option<u64> {
    let chunk = CHUNK as u64;
    (size / chunk)
        .checked_mul(chunk + key.overhead())?
        .checked_add(HEADER + size % chunk + key.overhead())
}

/// Appends chunks to a `.part` file; [`Writer::finish`] writes the final chunk.
pub(super) struct Writer {
    file: File,
    path: PathBuf,
    sha: [u8; 32],
    index: u32,
    buffer: Vec<u8>,
    /// Bytes appended since the last [`Writer::start_writeback`].
    unwritten: u64,
    /// File offset where the whole chunks end.
    end: u64,
    /// A short, non-final chunk is written after `end` (the last append's tail, so an append
    /// survives a kill even when it did not fill a chunk); the next write replaces it.
    short: bool,
}

/// Bytes appended between two requests to start writing them to disk (see
/// [`Writer::start_writeback`]); a killed process loses nothing written either way (the page
/// cache survives it).
const WRITEBACK_EVERY: u64 = 16 << 20;

fn too_large() -> FileError {
    FileError::Damaged("the blob is larger than this cache's format allows".to_owned())
}

impl Writer {
    /// Starts a new file at `path` (replacing any).
    pub(super) fn create(path: &Path, sha256: &str) -> Result<Writer, FileError> {
        // Random bytes that tell two files apart; not secret, not used by the cipher.
        let mut prefix = [0u8; 8];
        getrandom::fill(&mut prefix)
            .map_err(|e| FileError::Io(std::io::Error::other(e.to_string())))?;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(MAGIC)?;
        file.write_all(&prefix)?;
        Ok(Writer {
            file,
            path: path.to_owned(),
            sha: sha_bytes(sha256),
            index: 0,
            buffer: Vec::new(),
            unwritten: 0,
            end: HEADER,
            short: false,
        })
    }

    /// Reopens a `.part` file left by an earlier process: its whole, authentic chunks (and a
    /// short tail chunk, if authentic) are kept and fed to `on_chunk` (to rebuild the running
    /// sha256); a torn or unauthentic rest is cut off. Returns the writer, the tail's plaintext
    /// (not yet a whole chunk) and the plaintext length kept.
    pub(super) fn resume(
        key: &BlobKey,
        path: &Path,
        sha256: &str,
        mut on_chunk: impl FnMut(&[u8]),
    ) -> Result<(Writer, Vec<u8>, u64), FileError> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let mut header = [0u8; HEADER as usize];
        if file.read_exact(&mut header).is_err() || &header[..8] != MAGIC {
            drop(file);
            return Ok((Writer::create(path, sha256)?, Vec::new(), 0));
        }
        let sha = sha_bytes(sha256);
        let stored = file.metadata()?.len() - HEADER;
        let whole_len = CHUNK as u64 + key.overhead();
        let whole = stored / whole_len;
        let mut buffer = vec![0u8; whole_len as usize];
        let mut kept = 0u32;
        let mut damaged = false;
        for index in 0..whole {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            file.read_exact(&mut buffer)?;
            if open_chunk(key, &sha, index, false, &mut buffer).is_err() {
                damaged = true;
                break;
            }
            on_chunk(&buffer[..CHUNK]);
            buffer.resize(whole_len as usize, 0);
            kept = index + 1;
        }
        let end = HEADER + u64::from(kept) * whole_len;
        let mut tail = Vec::new();
        let rest = stored - (end - HEADER);
        if !damaged && rest > key.overhead() && rest < whole_len {
            let mut short = vec![0u8; rest as usize];
            file.read_exact(&mut short)?;
            if open_chunk(key, &sha, kept, false, &mut short).is_ok() {
                on_chunk(&short);
                tail = short;
            }
        }
        file.set_len(end)?;
        file.seek(SeekFrom::Start(end))?;
        let len = u64::from(kept) * CHUNK as u64 + tail.len() as u64;
        Ok((
            Writer {
                file,
                path: path.to_owned(),
                sha,
                index: kept,
                buffer: Vec::new(),
                unwritten: 0,
                end,
                short: false,
            },
            tail,
            len,
        ))
    }

    /// Appends chunk `self.index + n` (nonce ‖ ciphertext ‖ tag, or the plaintext without a
    /// key) to the write buffer.
    fn seal_into_buffer(
        &mut self,
        key: &BlobKey,
        n: u32,
        plain: &[u8],
        last: bool,
    ) -> Result<(), FileError> {
        let Some(cipher) = &key.cipher else {
            self.buffer.extend_from_slice(plain);
            return Ok(());
        };
        let index = self.index.checked_add(n).ok_or_else(too_large)?;
        // A fresh random nonce for every encryption, stored with the chunk: a short chunk is
        // rewritten as it grows and a torn one is rewritten after a kill, so a nonce derived
        // from the chunk index would be reused with other plaintext.
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce)
            .map_err(|e| FileError::Io(std::io::Error::other(e.to_string())))?;
        self.buffer.extend_from_slice(&nonce);
        let start = self.buffer.len();
        self.buffer.extend_from_slice(plain);
        let tag = cipher
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(&self.sha, index, last)),
                &mut self.buffer[start..],
            )
            .map_err(|_| FileError::Damaged("a chunk could not be encrypted".to_owned()))?;
        self.buffer.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Drops a short chunk written after the whole ones; the next write goes in its place.
    fn cut_short_chunk(&mut self) -> Result<(), FileError> {
        if self.short {
            self.file.set_len(self.end)?;
            self.file.seek(SeekFrom::Start(self.end))?;
            self.short = false;
        }
        Ok(())
    }

    /// Encrypts `plain` as chunk `self.index` and writes it at the end of the whole chunks
    /// (replacing a short chunk written there); `advance` for a whole or final chunk.
    fn seal(
        &mut self,
        key: &BlobKey,
        plain: &[u8],
        last: bool,
        advance: bool,
    ) -> Result<(), FileError> {
        self.cut_short_chunk()?;
        self.buffer.clear();
        self.seal_into_buffer(key, 0, plain, last)?;
        self.file.write_all(&self.buffer)?;
        if !advance {
            self.short = true;
            return Ok(());
        }
        self.end += self.buffer.len() as u64;
        self.index = self.index.checked_add(1).ok_or_else(too_large)?;
        Ok(())
    }

    /// Writes the bytes of a chunk not yet whole as a short, non-final chunk, so they survive
    /// a kill; the next write replaces it. [`read`] never accepts such a chunk as a blob's end.
    pub(super) fn write_short(&mut self, key: &BlobKey, plain: &[u8]) -> Result<(), FileError> {
        debug_assert!(!plain.is_empty() && plain.len() < CHUNK);
        self.seal(key, plain, false, false)
    }

    /// Appends whole, non-final chunks (a multiple of [`CHUNK`] bytes) with one write.
    pub(super) fn write_chunks(&mut self, key: &BlobKey, plain: &[u8]) -> Result<(), FileError> {
        debug_assert_eq!(plain.len() % CHUNK, 0);
        if plain.is_empty() {
            return Ok(());
        }
        self.cut_short_chunk()?;
        self.buffer.clear();
        let mut count = 0u32;
        for chunk in plain.chunks(CHUNK) {
            self.seal_into_buffer(key, count, chunk, false)?;
            count = count.checked_add(1).ok_or_else(too_large)?;
        }
        self.file.write_all(&self.buffer)?;
        self.end += self.buffer.len() as u64;
        self.index = self.index.checked_add(count).ok_or_else(too_large)?;
        self.unwritten += self.buffer.len() as u64;
        if self.unwritten >= WRITEBACK_EVERY {
            self.start_writeback();
        }
        Ok(())
    }

    /// Asks the kernel to start writing the chunks appended since the last call, without
    /// waiting: the final `fsync` in [`Writer::finish`] then has little left to wait for, and a
    /// power loss takes back little. Not needed for correctness — a torn file is cut back to
    /// its authentic chunks on resume — so a file system that refuses is only logged.
    fn start_writeback(&mut self) {
        use std::os::fd::AsRawFd;
        let from = self.end - self.unwritten;
        let (Ok(offset), Ok(bytes)) = (
            libc::off64_t::try_from(from),
            libc::off64_t::try_from(self.unwritten),
        ) else {
            return;
        };
        // SAFETY: a plain system call on a descriptor `self.file` keeps open; no memory is passed.
        let result = unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                offset,
                bytes,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        if result != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "sync_file_range");
        }
        self.unwritten = 0;
    }

    /// Writes the final chunk (fewer than [`CHUNK`] bytes), makes the file durable and renames
    /// it to `complete` (the blob's final name).
    pub(super) fn finish(
        mut self,
        key: &BlobKey,
        tail: &[u8],
        complete: &Path,
    ) -> Result<(), FileError> {
        debug_assert!(tail.len() < CHUNK);
        self.seal(key, tail, true, true)?;
        self.file.sync_all()?;
        fs::rename(&self.path, complete)?;
        if let Some(dir) = complete.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

fn open_chunk(
    key: &BlobKey,
    sha: &[u8; 32],
    index: u32,
    last: bool,
    buffer: &mut Vec<u8>,
) -> Result<(), ()> {
    let Some(cipher) = &key.cipher else {
        return Ok(());
    };
    if buffer.len() < NONCE + TAG {
        return Err(());
    }
    let split = buffer.len() - TAG;
    let tag = Tag::try_from(&buffer[split..]).map_err(|_| ())?;
    let nonce = Nonce::try_assume_unique_for_key(&buffer[..NONCE]).map_err(|_| ())?;
    // ring writes the plaintext to the start of the slice.
    cipher
        .open_in_place_separate_tag(
            nonce,
            Aad::from(aad(sha, index, last)),
            tag,
            &mut buffer[..split],
            NONCE..,
        )
        .map_err(|_| ())?;
    buffer.truncate(split - NONCE);
    Ok(())
}

/// The plaintext bytes in a `.part` file (what survived a kill), without authenticating
/// them; `hologuide cache info` only.
pub(super) fn partial_len_estimate(key: &BlobKey, path: &Path) -> u64 {
    let stored = fs::metadata(path).map_or(0, |m| m.len().saturating_sub(HEADER));
    let whole_len = CHUNK as u64 + key.overhead();
    stored / whole_len * CHUNK as u64 + (stored % whole_len).saturating_sub(key.overhead())
}
