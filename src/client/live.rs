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

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{ClientError, Device, Opened};
use crate::app::access::{Link, Refused};
use crate::app::shell::Origin;
use crate::app::{Screen, Transition};
use crate::cache::{AssetRef, Store};
use crate::guide::{AssetSource, Guide};
use crate::net::{Connectivity, ConnectivityEvent, ConnectivitySettings};

/// How often the worker looks at connectivity events when no screen changes.
const WORKER_TICK: Duration = Duration::from_millis(200);

/// A cached guide's files, read from the encrypted cache as the renderer asks for them.
pub struct CachedAssets {
    store: Arc<Store>,
    assets: Vec<AssetRef>,
}

impl AssetSource for CachedAssets {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let asset = self
            .assets
            .iter()
            .find(|a| a.path == path)
            .ok_or_else(|| format!("'{path}' is not a file of this guide version"))?;
        self.store
            .read_blob(&asset.sha256)
            .map_err(|e| format!("reading '{path}' from the offline cache: {e}"))
    }
}

impl Device {
    /// Where the files of `opened` come from: the cache for a guide of the service, the app's
    /// own copy for the demo.
    pub fn assets_of(&self, opened: &Opened) -> Result<Box<dyn AssetSource>, ClientError> {
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
    End,
}

/// A guide of the service on screen: the live link for the banner, telemetry for the outbox.
pub struct LiveGuide {
    monitor: Option<Connectivity>,
    notes: Sender<Note>,
    worker: Option<JoinHandle<()>>,
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
        let guide = Arc::clone(&opened.guide);
        let guide_id = opened.guide_id;
        let signed_in = device.store().is_some();
        if signed_in {
            let step = step_id(&guide, start);
            let recorded = device
                .record("session_start", Some(guide_id), None, None)
                .and_then(|()| device.record("guide_opened", Some(guide_id), None, None))
                .and_then(|()| match &step {
                    Some(step) => device.record("step_viewed", Some(guide_id), Some(step), None),
                    None => Ok(()),
                });
            // Telemetry that cannot be kept must not keep the operator from the guide.
            if let Err(e) = recorded {
                tracing::warn!("telemetry not recorded: {e}");
            }
        }
        let (notes, inbox) = mpsc::channel();
        let worker = Worker {
            device,
            guide,
            guide_id,
            signed_in,
            screen: start.clone(),
            since: Instant::now(),
            started: Instant::now(),
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
            worker: Some(worker),
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

struct Worker {
    device: Device,
    guide: Arc<Guide>,
    guide_id: Uuid,
    signed_in: bool,
    /// The screen shown now, and since when (time per step, F9).
    screen: Screen,
    since: Instant,
    started: Instant,
}

impl Worker {
    fn run(mut self, inbox: &Receiver<Note>, events: &Receiver<ConnectivityEvent>) {
        self.upload();
        loop {
            match inbox.recv_timeout(WORKER_TICK) {
                Ok(Note::Screen(transition)) => self.screen_changed(&transition),
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
                    self.upload();
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
        if !self.signed_in {
            return;
        }
        if let Err(e) = self
            .device
            .record_transition(&self.guide, transition, on_screen)
        {
            tracing::warn!("telemetry not recorded: {e}");
        }
        // Sent at once while online: the operator's step is a real request, and one that fails
        // turns the banner on at once instead of at the next probe (F2).
        self.upload();
    }

    fn end(&mut self) {
        if !self.signed_in {
            return;
        }
        let step = step_id(&self.guide, &self.screen);
        let on_screen = millis(self.since.elapsed());
        let session = millis(self.started.elapsed());
        let recorded = match step {
            Some(step) => self.device.record(
                "step_time",
                Some(self.guide_id),
                Some(&step),
                Some(on_screen),
            ),
            None => Ok(()),
        }
        .and_then(|()| {
            self.device
                .record("session_end", Some(self.guide_id), None, Some(session))
        });
        if let Err(e) = recorded {
            tracing::warn!("telemetry not recorded: {e}");
        }
        self.upload();
    }

    fn upload(&mut self) {
        if !self.signed_in || self.device.link() != Link::Online {
            return;
        }
        match self.device.upload_telemetry() {
            Ok(uploaded) => tracing::info!(?uploaded, "telemetry"),
            Err(e) => tracing::warn!("telemetry stays on the device: {e}"),
        }
    }
}
