//! The device while a 3D front end shows one of its guides (F2, F9).
//!
//! The frame loop must never wait on the network or the disk, so the [`Device`] moves to a
//! worker thread for the run: a [`Connectivity`] monitor probes the device's guide service and
//! the frame loop reads its latest word with [`LiveGuide::online`] (an atomic load); screen
//! changes go to the worker over a channel and are recorded in the same telemetry outbox as
//! `hologuide open` uses, and uploaded while the service is reachable (at start, at each screen
//! change, when it comes back, at the end). The monitor's
//! [`Reporter`](crate::net::connectivity::Reporter) is attached to the device, so an upload that
//! fails turns the banner on at once.
//!
//! The All list (F3) is computed on the same worker by [`Device::all_guides`], and a guide
//! chosen from it is opened there by [`Device::open`] (network if online, this device's copy
//! otherwise, the shell's refusal texts if neither): the frame loop asks and then picks the
//! answer up with [`LiveGuide::news`] a frame or more later. Opening another guide ends the
//! telemetry session of the one before and starts one for the new guide (F9).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{ClientError, Device, Opened, Target};
use crate::app::access::{AllListEntry, Link, Refused};
use crate::app::answers::Answer;
use crate::app::device::{Content, DeviceNews, Standalone, Surroundings};
use crate::app::shell::Origin;
use crate::app::telemetry::TelemetryKind;
use crate::app::{Answered, App, GuideSource, Screen, Transition};
use crate::cache::{AssetRef, Store};
use crate::guide::link_trust::{LinkRefusal, LinkTrust};
use crate::guide::{AssetError, AssetSource, Guide, GuideLink};
use crate::net::{Connectivity, ConnectivityEvent, ConnectivitySettings};

/// What the 3D app shows for a guide `device` opened (at `start_step`, else the guide's start):
/// its content, and the device around it — for a guide of the service the live link and
/// telemetry (the device moves to a worker, [`LiveGuide`]); for the demo nothing (F8).
pub fn shown_in_app(
    device: Device,
    opened: &Opened,
    start_step: Option<NonZeroU32>,
) -> Result<(Content, Box<dyn Surroundings>), ClientError> {
    let content = Content {
        guide: Arc::clone(&opened.guide),
        source: opened.source(),
        assets: device.assets_of(opened)?,
    };
    let surroundings: Box<dyn Surroundings> = match content.source {
        GuideSource::Service => {
            let start = App::open(Arc::clone(&content.guide), content.source, start_step);
            Box::new(LiveGuide::start(
                device,
                opened,
                start.screen(),
                ConnectivitySettings::default(),
            )?)
        }
        GuideSource::Demo | GuideSource::Local => Box::new(Standalone),
    };
    Ok((content, surroundings))
}

/// How often the worker looks at connectivity events when no screen changes.
const WORKER_TICK: Duration = Duration::from_millis(200);

/// A cached guide's files, read from the encrypted cache as the renderer asks for them.
pub struct CachedAssets {
    store: Arc<Store>,
    assets: Vec<AssetRef>,
}

impl AssetSource for CachedAssets {
    fn read(&self, path: &str) -> Result<Vec<u8>, AssetError> {
        let asset = self
            .assets
            .iter()
            .find(|a| a.path == path)
            .ok_or_else(|| AssetError::NotInVersion(path.to_owned()))?;
        self.store
            .read_blob(&asset.sha256)
            .map_err(|e| AssetError::OfflineCache {
                path: path.to_owned(),
                source: Box::new(e),
            })
    }
}

/// A guide's hologram files read ahead on the worker, so that the frame loop that shows the
/// guide next does not wait on the encrypted cache; anything else (a model's external buffers)
/// is read from `rest` when asked for.
struct Prefetched {
    files: std::collections::HashMap<String, Vec<u8>>,
    rest: Box<dyn AssetSource + Send>,
}

impl Prefetched {
    fn read_ahead(guide: &Guide, rest: Box<dyn AssetSource + Send>) -> Self {
        let mut files = std::collections::HashMap::new();
        let paths = guide
            .tasks
            .iter()
            .flat_map(|t| &t.steps)
            .flat_map(|s| &s.holograms)
            .map(|h| h.asset.as_str());
        for path in paths {
            // A file that cannot be read is left to `rest`, whose error the renderer reports.
            if !files.contains_key(path)
                && let Ok(bytes) = rest.read(path)
            {
                files.insert(path.to_owned(), bytes);
            }
        }
        Self { files, rest }
    }
}

impl AssetSource for Prefetched {
    fn read(&self, path: &str) -> Result<Vec<u8>, AssetError> {
        match self.files.get(path) {
            Some(bytes) => Ok(bytes.clone()),
            None => self.rest.read(path),
        }
    }
}

impl Device {
    /// Where the files of `opened` come from: the cache for a guide of the service, the app's
    /// own copy for the demo.
    pub fn assets_of(&self, opened: &Opened) -> Result<Box<dyn AssetSource + Send>, ClientError> {
        if opened.origin == Origin::Demo {
            return Ok(Box::new(crate::demo::load()?));
        }
        let store = self.store().cloned().ok_or(Refused::NotSignedIn)?;
        Ok(Box::new(CachedAssets {
            store,
            assets: opened.assets.clone(),
        }))
    }
}

enum Note {
    Screen(Transition),
    /// N6: an answer to keep as a record.
    Answer(Answered),
    /// F3: the All list is wanted.
    ListGuides,
    /// A guide chosen from the All list.
    Open(Uuid),
    End,
}

/// A guide of the service on screen: the live link for the banner, telemetry for the outbox.
pub struct LiveGuide {
    monitor: Option<Connectivity>,
    notes: Sender<Note>,
    news: Receiver<DeviceNews>,
    worker: Option<JoinHandle<()>>,
    /// N2: the link keys from the cache, read once at the start (the frame loop never reads
    /// the disk).
    trust: LinkTrust,
    /// The signed-in user, whom a sign-off names (N6).
    operator: Option<String>,
}

impl LiveGuide {
    /// Starts watching the device's service (one probe on this thread, then on a worker) and
    /// records the start of the session: `session_start`, `guide_opened` and the first step
    /// shown (`start` is where the app opened).
    pub fn start(
        mut device: Device,
        opened: &Opened,
        start: &Screen,
        settings: ConnectivitySettings,
    ) -> Result<Self, ClientError> {
        let (sender, events) = mpsc::channel();
        let monitor = device.server.clone().map(|server| {
            Connectivity::spawn(
                move |timeout| !server.health(timeout).is_err_and(|e| e.is_network()),
                settings,
                sender,
            )
        });
        if let Some(monitor) = &monitor {
            device.attach_monitor(monitor.reporter());
        }
        let trust = match device.store() {
            Some(store) => store.link_trust()?,
            None => LinkTrust::default(),
        };
        let operator = device.username().map(str::to_owned);
        let guide = Arc::clone(&opened.guide);
        let guide_id = opened.guide_id;
        record_start(&mut device, &guide, guide_id, start);
        let (notes, inbox) = mpsc::channel();
        let (reply, news) = mpsc::channel();
        let worker = Worker {
            device,
            guide,
            guide_id,
            run: Uuid::new_v4(),
            run_number: 0,
            records: std::collections::HashMap::new(),
            screen: start.clone(),
            since: Instant::now(),
            started: Instant::now(),
            reply,
        };
        let worker = std::thread::Builder::new()
            .name("guide telemetry".into())
            .spawn(move || worker.run(&inbox, &events))
            .map_err(|e| crate::cache::CacheError::Io {
                what: "starting the telemetry worker".into(),
                source: e,
            })?;
        Ok(Self {
            monitor,
            notes,
            news,
            worker: Some(worker),
            trust,
            operator,
        })
    }

    /// F2: whether the service answers, as the monitor last found; never waits. Without a
    /// known service there is nothing to reach: offline.
    pub fn online(&self) -> bool {
        self.monitor
            .as_ref()
            .is_some_and(|m| m.link() == Link::Online)
    }

    /// F9: a screen change of the open guide; recorded by the worker.
    pub fn screen_changed(&self, transition: &Transition) {
        // A worker that is gone has already said why in the log.
        let _ = self.notes.send(Note::Screen(transition.clone()));
    }

    /// F3: asks the worker for the All list; it arrives through [`Self::news`].
    pub fn list_guides(&self) {
        let _ = self.notes.send(Note::ListGuides);
    }

    /// Asks the worker to open `guide` (chosen from the All list); the outcome arrives through
    /// [`Self::news`].
    pub fn open_guide(&self, guide: Uuid) {
        let _ = self.notes.send(Note::Open(guide));
    }

    /// N6: an answer given on the card; the worker keeps it as a record and uploads it.
    pub fn record_answer(&self, answered: &Answered) {
        let _ = self.notes.send(Note::Answer(answered.clone()));
    }
}

/// The device around the 3D app while a guide of the service is shown: the live link (F2),
/// telemetry (F9), the All list and opening a guide chosen from it (F3), each answered by the
/// worker as [`DeviceNews`] a frame or more later.
impl Surroundings for LiveGuide {
    fn online(&self) -> bool {
        LiveGuide::online(self)
    }

    fn screen_changed(&self, transition: &Transition) {
        LiveGuide::screen_changed(self, transition);
    }

    fn list_guides(&self) -> Option<Vec<AllListEntry>> {
        // Read on the worker (the cache is a database): the answer comes through `news`.
        LiveGuide::list_guides(self);
        None
    }

    fn open_guide(&self, guide: Uuid) {
        LiveGuide::open_guide(self, guide);
    }

    fn record_answer(&self, answered: &Answered) {
        LiveGuide::record_answer(self, answered);
    }

    fn operator(&self) -> Option<String> {
        self.operator.clone()
    }

    /// The worker's next answer, if one is waiting; never waits.
    fn news(&self) -> Option<DeviceNews> {
        self.news.try_recv().ok()
    }

    fn check_link(&self, link: &GuideLink) -> Result<(), LinkRefusal> {
        self.trust.check(link)
    }
}

/// Ends the session when the front end lets go of it: the time on the last screen and
/// `session_end` are recorded, the outbox is uploaded if the service answers (bounded by the
/// client's timeouts), then the monitor stops.
impl Drop for LiveGuide {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            let _ = self.notes.send(Note::End);
            let _ = worker.join();
        }
        self.monitor.take();
    }
}

fn step_id(guide: &Guide, screen: &Screen) -> Option<String> {
    match screen {
        Screen::Step { index } => guide.step(*index).map(|p| p.step.id.clone()),
        Screen::Complete => None,
    }
}

/// F9: `session_start`, `guide_opened` and the first step shown (`start`) of a guide.
fn record_start(device: &mut Device, guide: &Guide, guide_id: Uuid, start: &Screen) {
    device.keep_event(TelemetryKind::SessionStart, Some(guide_id), None, None);
    device.keep_event(TelemetryKind::GuideOpened, Some(guide_id), None, None);
    if let Some(step) = step_id(guide, start) {
        device.keep_event(TelemetryKind::StepViewed, Some(guide_id), Some(&step), None);
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

struct Worker {
    device: Device,
    guide: Arc<Guide>,
    guide_id: Uuid,
    /// This run of the guide: its records share it, so a report can be rebuilt (N6).
    run: Uuid,
    /// The app's count of this run (a Restart starts the next, and a new run id).
    run_number: u32,
    /// The last record of each step in this run: a changed answer supersedes it.
    records: std::collections::HashMap<String, Uuid>,
    /// The screen shown now, and since when (time per step, F9).
    screen: Screen,
    since: Instant,
    started: Instant,
    /// Answers to the front end; a front end that is gone no longer listens.
    reply: Sender<DeviceNews>,
}

impl Worker {
    fn run(mut self, inbox: &Receiver<Note>, events: &Receiver<ConnectivityEvent>) {
        self.device.send_telemetry();
        loop {
            match inbox.recv_timeout(WORKER_TICK) {
                Ok(Note::Screen(transition)) => self.screen_changed(&transition),
                Ok(Note::Answer(answered)) => self.record_answer(&answered),
                Ok(Note::ListGuides) => self.list_guides(),
                Ok(Note::Open(guide)) => self.open(guide),
                Ok(Note::End) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            while let Ok(event) = events.try_recv() {
                let link = match event {
                    ConnectivityEvent::Online => Link::Online,
                    ConnectivityEvent::Offline => Link::Offline,
                };
                self.device.connectivity_changed(link);
                if link == Link::Online {
                    // F9: what was kept while offline goes up now.
                    self.device.send_telemetry();
                }
            }
        }
        self.end();
    }

    fn screen_changed(&mut self, transition: &Transition) {
        let on_screen = millis(self.since.elapsed());
        self.since = Instant::now();
        if let Transition::Moved { to, .. } = transition {
            self.screen = to.clone();
        }
        self.device
            .keep_transition(&self.guide, transition, on_screen);
        // Sent at once while online: the operator's step is a real request, and one that fails
        // turns the banner on at once instead of at the next probe (F2).
        self.device.send_telemetry();
    }

    /// N6: the answer becomes an immutable record in the cache's results (encrypted, kept
    /// until the service took it, N5) and goes up at once while online. A changed answer is a
    /// new record naming the one it supersedes.
    fn record_answer(&mut self, answered: &Answered) {
        let Some(store) = self.device.store().cloned() else {
            return;
        };
        if answered.run != self.run_number {
            // Restarted: the answers from here on are another run, correcting nothing before.
            self.run = Uuid::new_v4();
            self.run_number = answered.run;
            self.records.clear();
        }
        let id = Uuid::new_v4();
        let supersedes = self.records.insert(answered.step_id.clone(), id);
        let mut value = serde_json::to_value(&answered.answer).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.insert("run".into(), self.run.to_string().into());
            if let Some(previous) = supersedes {
                object.insert("supersedes".into(), previous.to_string().into());
            }
        }
        if let (Answer::Photo { sha256, .. }, Some(jpeg)) = (&answered.answer, &answered.attachment)
            && let Err(e) = store.add_photo(sha256, jpeg)
        {
            tracing::error!("the photo at step {} was not kept: {e}", answered.step_id);
            let _ = self.reply.send(DeviceNews::Refused(format!(
                "Your photo could not be saved on this device: {e}"
            )));
            return;
        }
        let now = self.device.now();
        let record = crate::cache::PendingResult {
            id,
            guide_id: self.guide_id,
            version: self.guide.version,
            step_id: answered.step_id.clone(),
            completed_at: now,
            value: Some(value),
            rejected: None,
        };
        if let Err(e) = store.add_result(&record) {
            tracing::error!("the answer at step {} was not kept: {e}", answered.step_id);
            let _ = self.reply.send(DeviceNews::Refused(format!(
                "Your answer could not be saved on this device: {e}"
            )));
            return;
        }
        let _ = self.reply.send(DeviceNews::Kept {
            run: answered.run,
            step_id: answered.step_id.clone(),
            time: format!("{:02}:{:02} UTC", now.hour(), now.minute()),
        });
        if self.device.link() == Link::Online
            && let Err(e) = self.device.upload_results()
        {
            tracing::info!("answers kept for the next contact: {e}");
        }
    }

    fn list_guides(&mut self) {
        let news = match self.device.all_guides() {
            Ok(entries) => DeviceNews::AllList(entries),
            Err(e) => {
                DeviceNews::Refused(format!("The guides on this device cannot be listed: {e}"))
            }
        };
        let _ = self.reply.send(news);
    }

    /// Opens `guide` as `hologuide open` would; on success the session of the guide shown so
    /// far ends and one for the new guide starts (F9).
    fn open(&mut self, guide: Uuid) {
        let opened = self
            .device
            .open(&Target::Guide(guide), &|_| {})
            .and_then(|opened| Ok((self.device.assets_of(&opened)?, opened)));
        let (assets, opened) = match opened {
            Ok(done) => done,
            Err(e) => {
                tracing::info!("opening {guide} from the All list: {e}");
                let _ = self.reply.send(DeviceNews::Refused(e.to_string()));
                return;
            }
        };
        tracing::info!(title = %opened.title, origin = ?opened.origin, "opened from the All list");
        let assets: Box<dyn AssetSource + Send> =
            Box::new(Prefetched::read_ahead(&opened.guide, assets));
        self.end();
        self.guide = Arc::clone(&opened.guide);
        self.guide_id = opened.guide_id;
        self.screen = opened.app().screen().clone();
        self.since = Instant::now();
        self.started = Instant::now();
        self.begin();
        // Opened from the cache, the device says so ("Opened from this device's copy.").
        let notice = match opened.origin {
            Origin::Cache => self.device.shell().status().map(str::to_owned),
            Origin::Network | Origin::Demo => None,
        };
        let _ = self.reply.send(DeviceNews::Opened {
            content: Content {
                guide: Arc::clone(&opened.guide),
                source: opened.source(),
                assets,
            },
            title: opened.title,
            version: opened.version,
            notice,
        });
    }

    /// `session_start`, `guide_opened` and the first step shown of a guide opened from the
    /// All list (as [`LiveGuide::start`] records them for the first guide).
    fn begin(&mut self) {
        // Another guide, another run (N6).
        self.run = Uuid::new_v4();
        self.run_number = 0;
        self.records.clear();
        record_start(&mut self.device, &self.guide, self.guide_id, &self.screen);
        self.device.send_telemetry();
    }

    fn end(&mut self) {
        let on_screen = millis(self.since.elapsed());
        let session = millis(self.started.elapsed());
        if let Some(step) = step_id(&self.guide, &self.screen) {
            self.device.keep_event(
                TelemetryKind::StepTime,
                Some(self.guide_id),
                Some(&step),
                Some(on_screen),
            );
        }
        self.device.keep_event(
            TelemetryKind::SessionEnd,
            Some(self.guide_id),
            None,
            Some(session),
        );
        self.device.send_telemetry();
    }
}
