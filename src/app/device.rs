//! The device around the driver: what a guide is shown from ([`Content`]) and the world the
//! frame loop lives in ([`Surroundings`]: connectivity, telemetry, the All list and opening a
//! chosen guide). Every call returns at once; the answers come from worker threads as
//! [`DeviceNews`].

use std::sync::Arc;

use uuid::Uuid;

use super::access::AllListEntry;
use super::updates::{UpdateAnswer, UpdateOffer};
use super::{GuideSource, Intent, KeyPress, Transition};
use crate::guide::link_trust::{LinkRefusal, LinkTrust};
use crate::guide::{AssetError, AssetSource, Guide, GuideLink, GuidePackage};
use crate::scene::ButtonAction;

/// What a front end shows: the guide, why it is open, and where its files come from (a package
/// on disk, or the encrypted cache for a guide of the service).
pub struct Content {
    pub guide: Arc<Guide>,
    pub source: GuideSource,
    /// `Send`: a guide chosen from the All list is opened on the device's worker thread.
    pub assets: Box<dyn AssetSource + Send>,
}

impl Content {
    /// The demo guide or a package opened by path.
    pub fn from_package(package: Arc<GuidePackage>, source: GuideSource) -> Self {
        Self {
            guide: Arc::new(package.guide.clone()),
            source,
            assets: Box::new(package),
        }
    }

    /// Reads an asset the guide refers to.
    pub fn read_asset(&self, path: &str) -> Result<Vec<u8>, AssetError> {
        self.assets.read(path)
    }
}

/// The world around a front end's frame loop: whether the guide service answers (the Offline
/// banner, F2) and where screen changes go (telemetry, F9). Both are called from the frame
/// loop, so both return at once: the answers come from worker threads.
pub trait Surroundings {
    /// F2: false while the guide service cannot be reached. Read every frame.
    fn online(&self) -> bool;
    /// F9: the app changed screen.
    fn screen_changed(&self, transition: &Transition);
    /// F3: the All list is wanted. `Some` is the list at once; `None` means it was asked for
    /// and arrives through [`Self::news`]. Without an account nothing is cached, so the list is
    /// empty (and shows the exact empty text), as `hologuide guides` prints it.
    fn list_guides(&self) -> Option<Vec<AllListEntry>> {
        Some(Vec::new())
    }
    /// A guide chosen from the All list; the outcome arrives through [`Self::news`].
    fn open_guide(&self, guide: Uuid) {
        tracing::info!("no guide service here to open {guide} with");
    }
    /// The next answer to [`Self::list_guides`] or [`Self::open_guide`]; never waits.
    fn news(&self) -> Option<DeviceNews> {
        None
    }
    /// N2: whether a sticker's link may act, checked against the link keys this device keeps
    /// (offline; never waits). Without an account no key is known: unsigned links act, signed
    /// ones cannot be checked and are refused.
    fn check_link(&self, link: &GuideLink) -> Result<(), LinkRefusal> {
        LinkTrust::default().check(link)
    }
    /// N6: the operator answered the step on screen; the device keeps it as a record and
    /// says when through [`DeviceNews::Kept`].
    fn record_answer(&self, answered: &super::Answered) {
        tracing::info!(step = %answered.step_id, "no account here to keep the answer for");
    }
    /// N6: the signed-in user's name, which a sign-off records (none without an account).
    fn operator(&self) -> Option<String> {
        None
    }
    /// S7: the operator answered the update prompt ([`DeviceNews::UpdatesAvailable`]).
    fn answer_updates(&self, answer: UpdateAnswer) {
        tracing::info!(?answer, "no background sync here to answer");
    }
}

/// What the device answers a front end, a frame or more after it asked.
pub enum DeviceNews {
    /// F3: the cached guides (empty: the exact empty text).
    AllList(Vec<AllListEntry>),
    /// The chosen guide is open: show it instead of the one on screen.
    Opened {
        content: Content,
        /// "Pump filter — version 2", for the log and `--json`.
        title: String,
        version: u32,
        /// A line to show with it ("Opened from this device's copy.").
        notice: Option<String>,
    },
    /// The chosen guide cannot be opened (or the list read): the text to show.
    Refused(String),
    /// S7: the background sync has updates that need the operator's yes.
    UpdatesAvailable(UpdateOffer),
    /// N6: the answer at `step_id` in run `run` is kept on this device at `time` ("14:02").
    Kept {
        run: u32,
        step_id: String,
        time: String,
    },
    /// The background sync did something the operator should know (guides updated, results
    /// refused with the service's reason, S6/S8): a line for the status panel.
    Synced(String),
}

/// The demo guide and local packages: no service, so the banner shows only when asked for
/// (`--offline`, the window's O key), and there is no account to keep telemetry for (F8).
pub struct Standalone;

impl Surroundings for Standalone {
    fn online(&self) -> bool {
        true
    }

    fn screen_changed(&self, _: &Transition) {}
}

/// What pressing a button asks for: the guide to move (the card's buttons), or an answer to
/// the update prompt (S7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    Intent(Intent),
    Updates(UpdateAnswer),
    /// N6: the step's answer button of this position.
    Answer(usize),
    /// N6: a key of the keypad beside the card.
    Key(KeyPress),
}

/// What pressing a button asks the app for.
pub fn press_for(action: ButtonAction) -> Press {
    match action {
        ButtonAction::Back => Press::Intent(Intent::Back),
        ButtonAction::Next | ButtonAction::Finish => Press::Intent(Intent::Next),
        ButtonAction::Restart => Press::Intent(Intent::Restart),
        ButtonAction::DownloadUpdates => Press::Updates(UpdateAnswer::DownloadNow),
        ButtonAction::UpdatesLater => Press::Updates(UpdateAnswer::Later),
        ButtonAction::Answer(index) => Press::Answer(usize::from(index)),
        ButtonAction::Key(c) => Press::Key(KeyPress::Char(c)),
        ButtonAction::KeyErase => Press::Key(KeyPress::Erase),
        ButtonAction::KeyDone => Press::Key(KeyPress::Done),
    }
}
