//! Blob downloads: resumable (HTTP Range from what a broken download left), verified (size and
//! sha256 against the content address before anyone reads them), several at a time (bounded),
//! with one progress value over all of them.
//!
//! Nothing the service says is taken on trust: sizes are checked against the guide bounds and the
//! free disk space before a byte is written, no blob may grow past its declared size, and a
//! download that crawls (below [`DownloadOptions::min_rate`]) or outlasts its
//! [`DownloadOptions::deadline`] is stopped with a message that says which.
//!
//! Bytes go to a [`BlobSink`] (the encrypted cache on a device): appended as they arrive, each
//! append durable, so a process killed half-way leaves a partial blob the next download
//! continues with a Range request; the sink checks the sha256 of the whole before it counts.

use std::io::Read;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::client::ApiClient;
use super::error::NetError;
use super::limits::{FREE_SPACE_MARGIN, check_sizes, human_bytes};

#[path = "folder_sink.rs"]
mod folder_sink;
pub use folder_sink::{FolderSink, hash_file};

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
    /// The whole download (every blob of one guide) ends within this, or is stopped; what
    /// arrived is kept for the next attempt.
    pub deadline: Duration,
    /// Bytes per second the download (all its blobs together) must average over every
    /// [`DownloadOptions::rate_window`]; a service that drips bytes is given up on after one
    /// window. 0: no minimum.
    pub min_rate: u64,
    pub rate_window: Duration,
    /// Raised by the device to stop the download between two reads (sign-out, the app
    /// closing): it ends with [`NetError::Stopped`], what arrived kept for resuming.
    pub stop: StopSignal,
}

/// A flag another thread raises to stop work in progress (cloned, it is the same flag).
#[derive(Debug, Clone, Default)]
pub struct StopSignal(std::sync::Arc<AtomicBool>);

impl StopSignal {
    pub fn raise(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            max_rate: None,
            // A 4 GiB guide (the largest a device takes) at 10 Mbit/s takes about an hour.
            deadline: Duration::from_secs(2 * 60 * 60),
            // 16 KiB/s is 128 kbit/s: slower than any working plant network; a minute evens
            // out Wi-Fi hand-overs.
            min_rate: 16 * 1024,
            rate_window: Duration::from_secs(60),
            stop: StopSignal::default(),
        }
    }
}

/// Bytes read for [`hash_file`] at a time.
const CHUNK: usize = 256 * 1024;
/// Bytes gathered before one append: fewer, larger appends (the cache encrypts 16 chunks per
/// write, and queues each append to its hashing thread). A kill loses at most this much. 8 MiB
/// was tried (release, same run): the encrypted cache did not get measurably faster, so 1 MiB.
const APPEND: usize = 1024 * 1024;

/// What a stored blob looks like before a download starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Complete and verified: nothing to fetch.
    Complete,
    /// This many bytes of a broken download are kept; the download continues from there.
    Partial(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkError {
    /// The stored bytes do not hash to the name; the sink has discarded them.
    Damaged(String),
    Failed(String),
}

/// Where downloaded bytes go: the encrypted cache on a device, a folder in tests and
/// benchmarks. Appends are durable one by one (a kill keeps what was appended) and
/// [`BlobSink::finish`] verifies the whole against its content address.
pub trait BlobSink: Sync {
    fn stored(&self, sha256: &str, bytes: u64) -> Result<Stored, SinkError>;
    /// Appends at `offset`, which is where the stored part ends.
    fn append(&self, sha256: &str, offset: u64, data: &[u8]) -> Result<(), SinkError>;
    /// Checks the sha256 of everything stored; damaged bytes are discarded.
    fn finish(&self, sha256: &str) -> Result<(), SinkError>;
    fn discard(&self, sha256: &str) -> Result<(), SinkError>;
    /// Bytes that can still be written where the blobs go.
    fn available(&self) -> Result<u64, SinkError>;
}

/// Fetches every wanted blob into `sink`, resuming partial ones. Stops at the first error;
/// what was appended until then stays for the next attempt.
pub fn fetch_all(
    client: &ApiClient,
    access_token: &str,
    sink: &dyn BlobSink,
    wanted: &[Wanted],
    options: &DownloadOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(), NetError> {
    let protocol = |detail: String| NetError::Protocol {
        server: client.server().to_owned(),
        detail,
    };
    for blob in wanted {
        // Names come from the service and become keys and file names: they must be what they claim.
        if !crate::content_address::is_sha256_hex(&blob.sha256) {
            return Err(protocol(format!(
                "'{}' is not a content address",
                blob.sha256.chars().take(80).collect::<String>()
            )));
        }
    }
    let total =
        check_sizes(wanted.iter().map(|w| (w.sha256.as_str(), w.bytes))).map_err(protocol)?;
    // Before the first byte: a download that cannot fit is refused, not written until the disk
    // is full. Counted whole, partial downloads included, so a resumed one may be refused when
    // the disk is within the bytes it already holds.
    let available = sink.available().map_err(|e| match e {
        SinkError::Damaged(detail) | SinkError::Failed(detail) => NetError::Store(detail),
    })?;
    if total.saturating_add(FREE_SPACE_MARGIN) > available {
        return Err(NetError::NoRoom {
            needed: human_bytes(total),
            available: human_bytes(available),
            margin: human_bytes(FREE_SPACE_MARGIN),
        });
    }
    let shared = Shared {
        client,
        access_token,
        sink,
        options,
        progress,
        total,
        done: AtomicU64::new(0),
        started: Instant::now(),
        received: AtomicU64::new(0),
        pace: Mutex::new(Pace::new(options)),
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
    match shared
        .failure
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

struct Shared<'a> {
    client: &'a ApiClient,
    access_token: &'a str,
    sink: &'a dyn BlobSink,
    options: &'a DownloadOptions,
    progress: &'a (dyn Fn(Progress) + Sync),
    total: u64,
    done: AtomicU64,
    started: Instant,
    /// Bytes read from the network so far (resumed ones not counted), for the minimum rate.
    received: AtomicU64,
    pace: Mutex<Pace>,
    cancelled: AtomicBool,
    queue: Mutex<Vec<usize>>,
    failure: Mutex<Option<NetError>>,
}

impl Shared<'_> {
    fn work(&self, wanted: &[Wanted]) {
        while !self.cancelled.load(Ordering::Acquire) {
            if self.options.stop.is_raised() {
                self.fail(NetError::Stopped);
                return;
            }
            let next = self.queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(index) = next else { return };
            if let Err(error) = self.fetch(&wanted[index]) {
                self.fail(error);
            }
        }
    }

    /// Every worker stops; the first failure is the download's.
    fn fail(&self, error: NetError) {
        self.cancelled.store(true, Ordering::Release);
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(error);
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

    fn past_deadline(&self) -> NetError {
        NetError::TooSlow {
            server: self.client.server().to_owned(),
            detail: format!(
                "it did not finish within {} s (the download deadline); what arrived is kept for the next try",
                self.options.deadline.as_secs_f64()
            ),
        }
    }

    /// The minimum rate, over all blobs of the download: blobs fetched side by side share one
    /// link, so each alone may well be slower.
    fn keeps_pace(&self, now: Instant) -> Result<(), Slow> {
        let received = self.received.load(Ordering::Acquire);
        self.pace
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check(received, now)
    }

    fn too_slow(&self, slow: &Slow) -> NetError {
        NetError::TooSlow {
            server: self.client.server().to_owned(),
            detail: format!(
                "it arrived at {} bytes/s over {} s, below the {} bytes/s a download must keep up; what arrived is kept for the next try",
                slow.rate,
                self.options.rate_window.as_secs_f64(),
                slow.min_rate
            ),
        }
    }

    fn sink_error(&self, blob: &Wanted, error: SinkError) -> NetError {
        match error {
            SinkError::Damaged(detail) => NetError::Integrity {
                sha256: blob.sha256.clone(),
                detail,
            },
            SinkError::Failed(detail) => NetError::Store(detail),
        }
    }

    fn fetch(&self, blob: &Wanted) -> Result<(), NetError> {
        let sink_error = |e| self.sink_error(blob, e);
        let mut have = match self
            .sink
            .stored(&blob.sha256, blob.bytes)
            .map_err(sink_error)?
        {
            Stored::Complete => {
                self.advance(blob.bytes);
                return Ok(());
            }
            Stored::Partial(have) if have > blob.bytes => {
                self.sink.discard(&blob.sha256).map_err(sink_error)?;
                0
            }
            Stored::Partial(have) => have,
        };
        if have == blob.bytes {
            // Killed between the last byte and the check: check now.
            match self.sink.finish(&blob.sha256) {
                Ok(()) => {
                    self.advance(have);
                    return Ok(());
                }
                Err(SinkError::Damaged(_)) => have = 0,
                Err(other) => return Err(sink_error(other)),
            }
        }
        let deadline = self.started + self.options.deadline;
        let time_left = deadline.saturating_duration_since(Instant::now());
        if time_left.is_zero() {
            return Err(self.past_deadline());
        }
        let mut response = self
            .client
            .blob_within(self.access_token, &blob.sha256, have, Some(time_left))
            .map_err(|e| {
                if Instant::now() >= deadline {
                    self.past_deadline()
                } else {
                    e
                }
            })?;
        if have > 0 && response.status() != reqwest::StatusCode::PARTIAL_CONTENT {
            // The service sent the whole blob: start over.
            self.sink.discard(&blob.sha256).map_err(sink_error)?;
            have = 0;
        }
        // The size the answer declares, checked before anything is written.
        if let Some(declared) = response.content_length()
            && declared > blob.bytes - have
        {
            return Err(NetError::Protocol {
                server: self.client.server().to_owned(),
                detail: format!(
                    "content {} is sent as {declared} bytes from byte {have} on, the manifest lists {} in all",
                    blob.sha256, blob.bytes
                ),
            });
        }
        self.advance(have);
        // Read straight into the buffer handed to the sink: one copy from the HTTP body.
        let mut buffer = vec![0u8; APPEND];
        let mut stored = have;
        loop {
            if self.cancelled.load(Ordering::Acquire) {
                return Ok(());
            }
            let mut filled = 0;
            let mut stop = None;
            let mut cancelled = false;
            while filled < buffer.len() {
                let read = response.read(&mut buffer[filled..]);
                let now = Instant::now();
                match read {
                    Ok(0) => break,
                    Ok(n) => {
                        filled += n;
                        self.received.fetch_add(n as u64, Ordering::AcqRel);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) if now >= deadline => {
                        stop = Some(self.past_deadline());
                        break;
                    }
                    Err(e) => {
                        stop = Some(NetError::Unreachable {
                            server: self.client.server().to_owned(),
                            detail: format!("the download of {} broke off: {e}", blob.sha256),
                        });
                        break;
                    }
                }
                if let Err(slow) = self.keeps_pace(now) {
                    stop = Some(self.too_slow(&slow));
                    break;
                }
                if self.options.stop.is_raised() {
                    stop = Some(NetError::Stopped);
                    break;
                }
                if self.cancelled.load(Ordering::Acquire) {
                    cancelled = true;
                    break;
                }
                if now >= deadline {
                    stop = Some(self.past_deadline());
                    break;
                }
            }
            if stored + filled as u64 > blob.bytes {
                self.sink.discard(&blob.sha256).map_err(sink_error)?;
                return Err(NetError::Integrity {
                    sha256: blob.sha256.clone(),
                    detail: format!("more than the {} bytes the manifest lists", blob.bytes),
                });
            }
            if filled > 0 {
                // Kept even when the download stopped: the next attempt resumes from there.
                self.sink
                    .append(&blob.sha256, stored, &buffer[..filled])
                    .map_err(sink_error)?;
                stored += filled as u64;
                self.advance(filled as u64);
            }
            if let Some(error) = stop {
                return Err(error);
            }
            if cancelled {
                // Another blob failed: this one stops here, its bytes kept for resuming.
                return Ok(());
            }
            if filled < buffer.len() {
                break;
            }
        }
        if stored != blob.bytes {
            self.sink.discard(&blob.sha256).map_err(sink_error)?;
            return Err(NetError::Integrity {
                sha256: blob.sha256.clone(),
                detail: format!("{stored} bytes arrived, the manifest lists {}", blob.bytes),
            });
        }
        self.sink.finish(&blob.sha256).map_err(sink_error)
    }
}

/// The minimum rate of a download, measured over consecutive windows.
struct Pace {
    min_rate: u64,
    window: Duration,
    window_started: Instant,
    bytes_at_start: u64,
}

/// A window whose average fell below the minimum.
#[derive(Debug, PartialEq, Eq)]
struct Slow {
    rate: u64,
    min_rate: u64,
}

impl Pace {
    fn new(options: &DownloadOptions) -> Self {
        // A throttle set on purpose (`max_rate`) lowers the minimum to a quarter of it.
        let min_rate = match options.max_rate.filter(|r| *r > 0) {
            Some(cap) => options.min_rate.min(cap / 4),
            None => options.min_rate,
        };
        Self {
            min_rate,
            window: options.rate_window,
            window_started: Instant::now(),
            bytes_at_start: 0,
        }
    }

    /// `received`: the download's bytes so far, at `now`. Each full window must have brought
    /// `min_rate × window` bytes.
    fn check(&mut self, received: u64, now: Instant) -> Result<(), Slow> {
        let elapsed = now.saturating_duration_since(self.window_started);
        if self.min_rate == 0 || self.window.is_zero() || elapsed < self.window {
            return Ok(());
        }
        let brought = received.saturating_sub(self.bytes_at_start);
        let rate = (brought as f64 / elapsed.as_secs_f64()) as u64;
        if rate < self.min_rate {
            return Err(Slow {
                rate,
                min_rate: self.min_rate,
            });
        }
        self.window_started = now;
        self.bytes_at_start = received;
        Ok(())
    }
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
    fn a_download_must_keep_the_minimum_rate_over_each_window() {
        let options = DownloadOptions {
            min_rate: 1000,
            rate_window: Duration::from_secs(2),
            ..DownloadOptions::default()
        };
        let mut pace = Pace::new(&options);
        let start = pace.window_started;
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(pace.check(0, at(0)), Ok(()));
        // Within the first window, nothing is judged.
        assert_eq!(pace.check(1, at(1900)), Ok(()));
        assert_eq!(pace.check(2500, at(2000)), Ok(()));
        // The next window brings 1 byte in 2 s.
        assert_eq!(
            pace.check(2501, at(4000)),
            Err(Slow {
                rate: 0,
                min_rate: 1000
            })
        );

        let mut unbounded = Pace::new(&DownloadOptions {
            min_rate: 0,
            ..options.clone()
        });
        assert_eq!(unbounded.check(0, at(60_000)), Ok(()));

        // Throttled on purpose to 2000 bytes/s: a quarter of that is enough.
        let mut throttled = Pace::new(&DownloadOptions {
            max_rate: Some(2000),
            ..options
        });
        let from = throttled.window_started;
        let after = |ms| from + Duration::from_millis(ms);
        assert_eq!(throttled.check(1000, after(2000)), Ok(()));
        assert_eq!(
            throttled.check(1999, after(4000)),
            Err(Slow {
                rate: 499,
                min_rate: 500
            })
        );
    }

    #[test]
    fn only_content_addresses_become_file_names() {
        assert!(crate::content_address::is_sha256_hex(&"a".repeat(64)));
        assert!(!crate::content_address::is_sha256_hex(&"A".repeat(64)));
        assert!(!crate::content_address::is_sha256_hex("../../etc/passwd"));
        assert!(!crate::content_address::is_sha256_hex(&"a".repeat(63)));
    }
}
