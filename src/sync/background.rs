//! The offline profile synced in the background while the 3D app runs (S5, S7, S8): a worker
//! thread with its own handle on the device ([`Device::companion`]) runs a cycle at sign-in,
//! every [`SyncSettings::every`], when the network comes back and on demand. The frame loop
//! never waits on it: questions and news go over channels and are read without waiting.
//!
//! [`WithBackgroundSync`] puts the worker around the device a shell already has (the live
//! guide's [`Surroundings`]): everything else is passed through, the worker's news are merged
//! in, and the update prompt's answer goes to the worker. A download the operator must approve
//! (S7's rule, [`SyncSettings::background_asks`]) is offered as [`DeviceNews::UpdatesAvailable`];
//! "Later" waits for the next cycle, which asks again.
//!
//! Stopping (sign-out, the app closing) raises the device's stop signal: a download in flight
//! ends between two reads, what arrived is kept, and the next cycle resumes it.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::cycle::{Approval, SyncError, SyncOptions, SyncReport, run_cycle};
use super::plan::Plan;
use super::settings::SyncSettings;
use crate::app::Transition;
use crate::app::access::{AllListEntry, Link, Refused};
use crate::app::device::{DeviceNews, Surroundings};
use crate::app::updates::{UpdateAnswer, UpdateOffer};
use crate::cache::CacheError;
use crate::client::{ClientError, Device};
use crate::guide::GuideLink;
use crate::guide::link_trust::LinkRefusal;
use crate::net::download::StopSignal;
use crate::net::limits::human_bytes;

/// What the worker is asked.
enum Ask {
    /// Sync now (on demand).
    Now,
    /// The network is back: sync now.
    Reconnected,
    Answer(UpdateAnswer),
    Stop,
}

/// The background sync of one signed-in device (see the module's documentation).
pub struct BackgroundSync {
    asks: Sender<Ask>,
    news: Receiver<DeviceNews>,
    stop: StopSignal,
    /// Cycles finished (or given up, offline) so far.
    cycles: Arc<AtomicU64>,
    worker: Option<JoinHandle<()>>,
}

impl BackgroundSync {
    /// Starts the worker on a companion of `device` (signed in); its first cycle runs at once.
    pub fn start(device: &Device) -> Result<Self, SyncError> {
        if device.store().is_none() {
            return Err(Refused::NotSignedIn.into());
        }
        let stop = StopSignal::default();
        let companion = device.companion(stop.clone());
        let (asks, inbox) = mpsc::channel();
        let (reply, news) = mpsc::channel();
        let cycles = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            device: companion,
            reply,
            cycles: cycles.clone(),
            offered: None,
            approved: None,
        };
        let worker = std::thread::Builder::new()
            .name("profile sync".into())
            .spawn(move || worker.run(&inbox))
            .map_err(|e| CacheError::Io {
                what: "starting the profile sync worker".into(),
                source: e,
            })?;
        Ok(Self {
            asks,
            news,
            stop,
            cycles,
            worker: Some(worker),
        })
    }

    /// Cycles run so far, the ones that found no network included.
    pub fn cycles(&self) -> u64 {
        self.cycles.load(Ordering::Acquire)
    }

    /// Syncs now (after the cycle in progress, if any).
    pub fn sync_now(&self) {
        let _ = self.asks.send(Ask::Now);
    }

    /// The network came back: a cycle runs now.
    pub fn reconnected(&self) {
        let _ = self.asks.send(Ask::Reconnected);
    }

    /// S7: the operator's answer to the last [`DeviceNews::UpdatesAvailable`].
    pub fn answer(&self, answer: UpdateAnswer) {
        let _ = self.asks.send(Ask::Answer(answer));
    }

    /// The worker's next news, if any; never waits.
    pub fn news(&self) -> Option<DeviceNews> {
        self.news.try_recv().ok()
    }
}

/// Stops the worker: a download in flight ends between two reads (kept for resuming), and
/// the thread is joined.
impl Drop for BackgroundSync {
    fn drop(&mut self) {
        self.stop.raise();
        let _ = self.asks.send(Ask::Stop);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

struct Worker {
    device: Device,
    reply: Sender<DeviceNews>,
    cycles: Arc<AtomicU64>,
    /// Bytes of the last offer, while unanswered.
    offered: Option<u64>,
    /// Bytes the operator said yes to: a plan up to this goes ahead unasked.
    approved: Option<u64>,
}

impl Worker {
    fn run(mut self, inbox: &Receiver<Ask>) {
        lower_priority();
        let mut next = Instant::now();
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            match inbox.recv_timeout(wait) {
                Ok(Ask::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Ask::Now) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Ask::Reconnected) => self.device.connectivity_changed(Link::Online),
                Ok(Ask::Answer(UpdateAnswer::DownloadNow)) => {
                    self.approved = self.offered.take();
                }
                Ok(Ask::Answer(UpdateAnswer::Later)) => {
                    // Asked again at the next cycle, when it is due.
                    self.offered = None;
                    continue;
                }
            }
            let every = self.cycle();
            self.cycles.fetch_add(1, Ordering::AcqRel);
            next = Instant::now() + every;
        }
        tracing::info!("profile sync stopped");
    }

    /// One cycle; returns how long until the next.
    fn cycle(&mut self) -> Duration {
        let settings = match self.device.store().map(|s| SyncSettings::load(s)) {
            Some(Ok(settings)) => settings,
            Some(Err(e)) => {
                tracing::warn!("the sync settings cannot be read: {e}");
                SyncSettings::default()
            }
            None => return SyncSettings::default().every(),
        };
        let approved = self.approved.take();
        let mut offer = None;
        let mut approve = |plan: &Plan| {
            let bytes = plan.download_bytes;
            if !settings.background_asks(bytes) || approved.is_some_and(|yes| bytes <= yes) {
                Approval::Go
            } else {
                offer = Some(offer_of(plan));
                Approval::Asked
            }
        };
        let outcome = run_cycle(
            &mut self.device,
            SyncOptions::default(),
            &mut approve,
            &|_, _| {},
        );
        match outcome {
            Ok(report) => {
                tracing::info!(outcome = %report.outcome, bytes = report.downloaded_bytes, "profile sync cycle");
                if let Some(offer) = offer {
                    self.offered = Some(offer.bytes);
                    let _ = self.reply.send(DeviceNews::UpdatesAvailable(offer));
                }
                for line in news_of(&report) {
                    let _ = self.reply.send(DeviceNews::Synced(line));
                }
            }
            // Offline: the cycle waits for the network (or the next tick).
            Err(SyncError::Client(ClientError::Refused(Refused::SyncNeedsNetwork))) => {
                tracing::debug!("profile sync skipped: offline");
            }
            Err(e) => tracing::warn!("profile sync cycle failed: {e}"),
        }
        settings.every()
    }
}

/// S7: what a plan would download, offered to the operator.
fn offer_of(plan: &Plan) -> UpdateOffer {
    UpdateOffer {
        guides: plan.downloads.iter().map(|d| d.title.clone()).collect(),
        bytes: plan.download_bytes,
        size: human_bytes(plan.download_bytes),
    }
}

/// What the operator reads after a cycle (S6, S8): the guides it brought or took away, what it
/// stopped on, and step results the service did not accept. Nothing after a cycle with nothing
/// to do.
pub fn news_of(report: &SyncReport) -> Vec<String> {
    let mut lines = Vec::new();
    if !report.stored.is_empty() || !report.removed.is_empty() {
        let mut line = format!(
            "Offline guides updated: {} downloaded ({})",
            plural(report.stored.len(), "guide"),
            human_bytes(report.downloaded_bytes)
        );
        if !report.removed.is_empty() {
            line.push_str(&format!(
                ", {} removed (no longer in your offline profile)",
                plural(report.removed.len(), "guide")
            ));
        }
        line.push('.');
        lines.push(line);
    }
    for (_, words) in &report.refused {
        lines.push(words.clone());
    }
    for lost in &report.access_lost {
        lines.push(lost.line());
    }
    if let Some(why) = report.outcome.strip_prefix("stopped: ") {
        lines.push(format!(
            "The offline profile sync stopped: {why}. It goes on at the next sync."
        ));
    }
    if let Some(results) = &report.results {
        lines.extend(results.rejected.iter().cloned());
    }
    lines
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The sync shares the machine with the frame loop: it runs at a lower CPU priority (its
/// download threads inherit it), so a frame is never late for it (S5).
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: gettid takes no arguments and cannot fail.
    let thread = unsafe { libc::syscall(libc::SYS_gettid) };
    // SAFETY: setpriority on this thread's own id changes only its nice value.
    let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 10) } != 0;
    if failed {
        tracing::debug!("the profile sync keeps its priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// A shell's device with the background sync around it (see the module's documentation).
pub struct WithBackgroundSync {
    inner: Box<dyn Surroundings>,
    sync: BackgroundSync,
    /// The link at the last frame: a change to online starts a cycle.
    was_online: Cell<bool>,
}

impl WithBackgroundSync {
    pub fn new(inner: Box<dyn Surroundings>, sync: BackgroundSync) -> Self {
        let was_online = Cell::new(inner.online());
        Self {
            inner,
            sync,
            was_online,
        }
    }

    pub fn sync(&self) -> &BackgroundSync {
        &self.sync
    }
}

impl Surroundings for WithBackgroundSync {
    fn online(&self) -> bool {
        let online = self.inner.online();
        if online && !self.was_online.get() {
            self.sync.reconnected();
        }
        self.was_online.set(online);
        online
    }

    fn screen_changed(&self, transition: &Transition) {
        self.inner.screen_changed(transition);
    }

    fn list_guides(&self) -> Option<Vec<AllListEntry>> {
        self.inner.list_guides()
    }

    fn open_guide(&self, guide: Uuid) {
        self.inner.open_guide(guide);
    }

    fn news(&self) -> Option<DeviceNews> {
        self.inner.news().or_else(|| self.sync.news())
    }

    fn check_link(&self, link: &GuideLink) -> Result<(), LinkRefusal> {
        self.inner.check_link(link)
    }

    fn answer_updates(&self, answer: UpdateAnswer) {
        self.sync.answer(answer);
    }

    fn record_answer(&self, answered: &crate::app::Answered) {
        self.inner.record_answer(answered);
    }

    fn operator(&self) -> Option<String> {
        self.inner.operator()
    }
}
