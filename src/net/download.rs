//! Blob downloads: resumable (HTTP Range from what a broken download left), verified (size and
//! sha256 against the content address before anyone reads them), several at a time (bounded),
//! with one progress value over all of them.
//!
//! Files live in a staging folder: `<sha256>.part` while arriving, `<sha256>` once verified.
//! The caller moves verified blobs into the cache and removes them; a process killed half-way
//! leaves `.part` files that the next download continues.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::client::ApiClient;
use super::error::NetError;

/// A blob to fetch, by its content address and size (from a manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub sha256: String,
    pub bytes: u64,
}

/// Bytes received so far over all blobs of one download, out of the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

impl Progress {
    /// 0.0 … 1.0; an empty download is complete.
    pub fn fraction(self) -> f32 {
        if self.total == 0 {
            1.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0) as f32
        }
    }
}

#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Blobs fetched at the same time.
    pub concurrency: usize,
    /// Bytes per second over all blobs; `None`: as fast as the network goes. For metered links
    /// (and for tests that must interrupt a download mid-way).
    pub max_rate: Option<u64>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_rate: None,
        }
    }
}

const CHUNK: usize = 256 * 1024;

fn is_content_address(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Fetches every wanted blob into `staging` and returns the paths of the verified files, in the
/// order asked. Blobs already complete there are checked and reused; partial ones are resumed.
pub fn fetch_all(
    client: &ApiClient,
    access_token: &str,
    staging: &Path,
    wanted: &[Wanted],
    options: &DownloadOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<PathBuf>, NetError> {
    std::fs::create_dir_all(staging)
        .map_err(NetError::io(format!("creating {}", staging.display())))?;
    for blob in wanted {
        // Names come from the service; they become file names, so they must be what they claim.
        if !is_content_address(&blob.sha256) {
            return Err(NetError::Protocol {
                server: client.server().to_owned(),
                detail: format!(
                    "'{}' is not a content address",
                    blob.sha256.chars().take(80).collect::<String>()
                ),
            });
        }
    }
    let total = wanted.iter().map(|w| w.bytes).sum();
    let shared = Shared {
        client,
        access_token,
        staging,
        options,
        progress,
        total,
        done: AtomicU64::new(0),
        started: Instant::now(),
        cancelled: AtomicBool::new(false),
        queue: Mutex::new((0..wanted.len()).rev().collect()),
        failure: Mutex::new(None),
    };
    progress(Progress { done: 0, total });
    std::thread::scope(|scope| {
        for _ in 0..options.concurrency.clamp(1, 16).min(wanted.len().max(1)) {
            scope.spawn(|| shared.work(wanted));
        }
    });
    if let Some(error) = shared
        .failure
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        return Err(error);
    }
    Ok(wanted.iter().map(|w| staging.join(&w.sha256)).collect())
}

struct Shared<'a> {
    client: &'a ApiClient,
    access_token: &'a str,
    staging: &'a Path,
    options: &'a DownloadOptions,
    progress: &'a (dyn Fn(Progress) + Sync),
    total: u64,
    done: AtomicU64,
    started: Instant,
    cancelled: AtomicBool,
    queue: Mutex<Vec<usize>>,
    failure: Mutex<Option<NetError>>,
}

impl Shared<'_> {
    fn work(&self, wanted: &[Wanted]) {
        while !self.cancelled.load(Ordering::Acquire) {
            let next = self.queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(index) = next else { return };
            if let Err(error) = self.fetch(&wanted[index]) {
                self.cancelled.store(true, Ordering::Release);
                self.failure
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(error);
            }
        }
    }

    fn advance(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, Ordering::AcqRel) + bytes;
        (self.progress)(Progress {
            done,
            total: self.total,
        });
        if let Some(rate) = self.options.max_rate.filter(|r| *r > 0) {
            let due = Duration::from_secs_f64(done as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(self.started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }

    fn fetch(&self, blob: &Wanted) -> Result<(), NetError> {
        let complete = self.staging.join(&blob.sha256);
        if complete.is_file() {
            if hash_file(&complete)? == (blob.sha256.clone(), blob.bytes) {
                self.advance(blob.bytes);
                return Ok(());
            }
            remove(&complete);
        }
        let partial = self.staging.join(format!("{}.part", blob.sha256));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&partial)
            .map_err(NetError::io(format!("opening {}", partial.display())))?;
        let mut have = file
            .metadata()
            .map_err(NetError::io(format!("reading {}", partial.display())))?
            .len();
        if have > blob.bytes {
            have = 0;
        }
        let mut hasher = Sha256::new();
        if have > 0 {
            hash_prefix(&mut file, have, &mut hasher, &partial)?;
        }
        if have == blob.bytes {
            // Killed between the last byte and the rename.
            if hex::encode(hasher.clone().finalize()) == blob.sha256 {
                drop(file);
                self.advance(have);
                return std::fs::rename(&partial, &complete)
                    .map_err(NetError::io(format!("renaming {}", partial.display())));
            }
            have = 0;
            hasher = Sha256::new();
        }
        let from = have;
        let mut response = self.client.blob(self.access_token, &blob.sha256, from)?;
        if from > 0 && response.status() != reqwest::StatusCode::PARTIAL_CONTENT {
            // The service sent the whole blob: start over.
            have = 0;
            hasher = Sha256::new();
        } else {
            have = from;
        }
        file.set_len(have)
            .and_then(|()| file.seek(SeekFrom::Start(have)).map(|_| ()))
            .map_err(NetError::io(format!("writing {}", partial.display())))?;
        self.advance(have);
        let mut buffer = vec![0u8; CHUNK];
        let mut writer = std::io::BufWriter::with_capacity(CHUNK, &mut file);
        loop {
            if self.cancelled.load(Ordering::Acquire) {
                return Ok(());
            }
            let read = match response.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    // Keep what arrived: the next attempt resumes from there.
                    let _ = writer.flush();
                    return Err(NetError::Unreachable {
                        server: self.client.server().to_owned(),
                        detail: format!("the download of {} broke off: {e}", blob.sha256),
                    });
                }
            };
            if have + read as u64 > blob.bytes {
                drop(writer);
                remove(&partial);
                return Err(NetError::Integrity {
                    sha256: blob.sha256.clone(),
                    detail: format!("more than the {} bytes the manifest lists", blob.bytes),
                });
            }
            writer
                .write_all(&buffer[..read])
                .map_err(NetError::io(format!("writing {}", partial.display())))?;
            hasher.update(&buffer[..read]);
            have += read as u64;
            self.advance(read as u64);
        }
        writer
            .flush()
            .map_err(NetError::io(format!("writing {}", partial.display())))?;
        drop(writer);
        let actual = hex::encode(hasher.finalize());
        if have != blob.bytes || actual != blob.sha256 {
            drop(file);
            remove(&partial);
            let detail = if have != blob.bytes {
                format!("{have} bytes arrived, the manifest lists {}", blob.bytes)
            } else {
                format!("its sha256 is {actual}")
            };
            return Err(NetError::Integrity {
                sha256: blob.sha256.clone(),
                detail,
            });
        }
        file.sync_all()
            .map_err(NetError::io(format!("writing {}", partial.display())))?;
        drop(file);
        std::fs::rename(&partial, &complete)
            .map_err(NetError::io(format!("renaming {}", partial.display())))
    }
}

fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("could not remove {}: {e}", path.display());
    }
}

fn hash_prefix(
    file: &mut File,
    length: u64,
    hasher: &mut Sha256,
    path: &Path,
) -> Result<(), NetError> {
    let mut buffer = vec![0u8; CHUNK];
    let mut reader = (&mut *file).take(length);
    loop {
        let read = reader
            .read(&mut buffer)
            .map_err(NetError::io(format!("reading {}", path.display())))?;
        if read == 0 {
            return Ok(());
        }
        hasher.update(&buffer[..read]);
    }
}

/// sha256 and size of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64), NetError> {
    let mut file = File::open(path).map_err(NetError::io(format!("opening {}", path.display())))?;
    let mut hasher = Sha256::new();
    let length = file
        .metadata()
        .map_err(NetError::io(format!("reading {}", path.display())))?
        .len();
    hash_prefix(&mut file, length, &mut hasher, path)?;
    Ok((hex::encode(hasher.finalize()), length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_of_an_empty_download_is_complete() {
        assert_eq!(Progress { done: 0, total: 0 }.fraction(), 1.0);
        assert_eq!(Progress { done: 5, total: 10 }.fraction(), 0.5);
        assert_eq!(
            Progress {
                done: 11,
                total: 10
            }
            .fraction(),
            1.0
        );
    }

    #[test]
    fn only_content_addresses_become_file_names() {
        assert!(is_content_address(&"a".repeat(64)));
        assert!(!is_content_address(&"A".repeat(64)));
        assert!(!is_content_address("../../etc/passwd"));
        assert!(!is_content_address(&"a".repeat(63)));
    }
}
