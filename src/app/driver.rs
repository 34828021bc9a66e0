//! The guide app written once: [`Driver`] owns the open guide ([`App`]), the one [`Shell`] (via
//! the All list's [`Menu`]), pointing and dwell, the card follower, the step timer, scripted
//! input and telemetry. A shell (OpenXR, the window, headless) hands it raw input and a head
//! pose each frame and draws the [`Frame`] it returns; nothing of the app lives in a shell.
//!
//! Events in ([`Input`], the [`Surroundings`]' news and connectivity, read without waiting),
//! effects out ([`Effect`] for the shell; requests and telemetry to the [`Surroundings`]), and
//! [`Driver::frame`] → [`Frame`]. Pure: no GPU, no runtime, no network, no clock of its own.
//!
//! [`Shell`]: super::shell::Shell

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Arc;

use super::anchors::AnchorTracker;
use super::device::{Content, Press, Surroundings, press_for};
use super::menu::{Menu, MenuChange};
use super::pointer::{Dwell, Ray, hit_button, hit_list_entry};
use super::report::{AppReport, Cause, Observation, ScreenShown, describe};
use super::script::{Command, Player, ScriptedCommand};
use super::updates::UpdateOffer;
use super::{App, GuideSource, Intent, KeyPress, Transition, View};
use crate::app::access::Link;
use crate::camera::Sighting;
use crate::camera::decoding::QrWorker;
use crate::camera::virtual_camera::HeadFeed;
use crate::guide::{Guide, GuideLink};
use crate::scene::{CardFollower, Frame, Pose, SceneInput};

/// Distinct ignored payloads remembered: more garbage codes than this in turn are logged again.
const IGNORED_KEPT: usize = 32;

/// How a run starts.
#[derive(Debug, Clone, Default)]
pub struct DriverSettings {
    /// Step number to open at (a guide link's step, `--step`).
    pub start_step: Option<NonZeroU32>,
    /// F2: true shows the Offline banner whatever the surroundings say (`--offline`).
    pub offline: bool,
    /// Head-gaze dwell before a looked-at button is pressed; `None` where a pointer is always
    /// at hand (the window's mouse), so looking around presses nothing.
    pub dwell_s: Option<f32>,
    /// Scripted input, fed at its frames through the same path as real input.
    pub script: Vec<ScriptedCommand>,
    /// A camera looks for stickers (X3): anchored holograms wait for their sticker instead of
    /// standing in front of the user.
    pub camera: bool,
    /// The virtual camera follows the head: written every frame.
    pub head_feed: Option<HeadFeed>,
}

/// Raw input a shell hands the driver between frames.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A command from a key, a controller button or a script.
    Command(Command, Cause),
    /// Select what this ray points at: an entry of the All list on screen, else a card button
    /// (a mouse click, a controller's select with its aim ray, a pinch).
    Select(Ray),
    /// Show or hide the Offline banner by hand (the window's O key).
    ToggleOffline,
    /// A QR code the camera saw (X2, F7), from the decoder thread: see [`Driver::sighted`].
    QrDetected(Box<Sighting>),
    /// N6: a key typed on a keyboard into the keypad beside the card.
    Typed(KeyPress),
}

/// What the shell must do after a driver call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Another guide is shown: the renderer forgets the last one's assets (paths may repeat)
    /// and may load the new [`Driver::content`]'s ahead.
    SwapAssets,
}

/// What is around a guide in a still picture (screenshots, goldens).
#[derive(Debug, Clone, Default)]
pub struct Situation {
    pub online: bool,
    /// Some: the All list is open with these lines.
    pub all_list: Option<Vec<String>>,
    pub status: Option<String>,
    /// S7: the update prompt's question.
    pub prompt: Option<String>,
    /// N6: what the operator did on the card before the picture (`answer N`, `enter TEXT`).
    pub given: Vec<Command>,
    /// N6: typed on the keypad, not yet OK'd.
    pub typed: String,
    /// N6: the signed-in user a sign-off names.
    pub operator: Option<String>,
    /// N6: the device kept every answer at this time ("14:02 UTC").
    pub kept_at: Option<String>,
}

pub struct Driver {
    app: App,
    content: Content,
    surroundings: Box<dyn Surroundings>,
    /// The All list over the one shell (link, list, status line).
    menu: Menu,
    follower: CardFollower,
    dwell: Option<Dwell>,
    player: Player,
    /// False while the banner is forced (`--offline`, the O key).
    online_wanted: bool,
    /// Whether the last frame was drawn online; starts as asked, so the first frame reports a
    /// banner only when the surroundings bring it.
    drawn_online: bool,
    /// Seconds the current screen has been shown.
    step_time_s: f32,
    /// A new screen: its first frame has step time 0.
    screen_changed: bool,
    /// Screens shown so far (a shell keys per-screen work on it, e.g. the window's shots).
    screens_shown: u64,
    /// Frames built so far; the next is `frame + 1`.
    frame: u64,
    last_frame: Option<Frame>,
    exit_asked: bool,
    /// The head pose of the last frame: where a scripted `select` aims.
    head: Pose,
    /// The last sticker that did something (moved, asked, opened, was refused): seen again, it
    /// does nothing.
    sticker: Option<GuideLink>,
    /// That sticker was refused (N2): seen again, it places no anchor either.
    sticker_refused: bool,
    /// A different guide's sticker, waiting for Select ("Open …? Select to confirm").
    sticker_question: Option<GuideLink>,
    /// A sticker's guide asked of the device: opened at the sticker's step when it comes.
    sticker_opening: Option<GuideLink>,
    /// Payloads ignored lately (hashed, the newest last), so a garbage code in view — or a
    /// few of them on one machine — is logged once, not every frame.
    ignored: VecDeque<u64>,
    /// S7: updates offered by the background sync, waiting for Download now or Later.
    update_offer: Option<UpdateOffer>,
    /// N6: a photo asked for, until the camera delivers it.
    photo: answers::PhotoRequest,
    /// Where the guide's anchors were seen (X3).
    anchors: AnchorTracker,
    camera: bool,
    /// The XR runtime reads and locates stickers itself (see [`Driver::runtime_tracks_stickers`]).
    runtime_markers: bool,
    head_feed: Option<HeadFeed>,
    effects: Vec<Effect>,
    observations: Vec<Observation>,
    report: AppReport,
}

impl Driver {
    pub fn new(
        content: Content,
        surroundings: Box<dyn Surroundings>,
        settings: DriverSettings,
    ) -> Self {
        let mut app = App::open(
            Arc::clone(&content.guide),
            content.source,
            settings.start_step,
        );
        app.set_operator(surroundings.operator());
        let online = !settings.offline;
        let mut driver = Self {
            report: AppReport {
                guide_source: source_name(content.source).to_owned(),
                first_screen: describe(&app.view()),
                ..AppReport::default()
            },
            app,
            content,
            surroundings,
            menu: Menu::new(if online { Link::Online } else { Link::Offline }),
            follower: CardFollower::default(),
            dwell: settings.dwell_s.map(Dwell::new),
            player: Player::new(settings.script),
            online_wanted: online,
            drawn_online: online,
            step_time_s: 0.0,
            screen_changed: true,
            screens_shown: 0,
            frame: 0,
            last_frame: None,
            exit_asked: false,
            head: Pose::IDENTITY,
            sticker: None,
            sticker_refused: false,
            sticker_question: None,
            sticker_opening: None,
            ignored: VecDeque::new(),
            update_offer: None,
            photo: answers::PhotoRequest::None,
            anchors: AnchorTracker::default(),
            camera: settings.camera,
            runtime_markers: false,
            head_feed: settings.head_feed,
            effects: Vec::new(),
            observations: Vec::new(),
        };
        driver.shown(Cause::Start);
        driver
    }

    /// Handles input that arrived since the last frame; it shows from the next frame.
    pub fn input(&mut self, input: Input) {
        // A sighting leaves a sticker's question alone; any other input answers it.
        if self.sticker_question.is_some()
            && !matches!(input, Input::QrDetected(_))
            && self.answer_question(&input)
        {
            return;
        }
        match input {
            Input::Command(command, cause) => self.command(command, cause),
            Input::QrDetected(sighting) => self.sighted(&sighting),
            Input::Select(ray) => {
                let Some(frame) = self.last_frame.as_ref() else {
                    return;
                };
                // F3: an entry of the All list on screen is chosen by selecting it.
                if let Some((number, _)) = hit_list_entry(frame, ray) {
                    self.choose(number);
                } else if let Some((action, _)) = hit_button(frame, ray) {
                    self.press(action, Cause::Click(action));
                }
            }
            Input::ToggleOffline => self.online_wanted = !self.online_wanted,
            Input::Typed(key) => self.key(key, Cause::Key("keyboard")),
        }
    }

    /// The codes the camera's decoder found since the last frame, as [`Input::QrDetected`];
    /// every shell calls it before [`Self::frame`]. Never waits for the decoder.
    pub fn collect_sightings(&mut self, camera: &QrWorker) {
        while let Some(sighting) = camera.try_sighting() {
            self.input(Input::QrDetected(Box::new(sighting)));
        }
        self.collect_photo(camera);
    }

    /// Builds the next frame for a head at `head`, `dt_s` seconds after the last one: scripted
    /// input due now, gaze dwell on the last frame, the device's answers, connectivity, then
    /// the scene.
    pub fn frame(&mut self, head: Pose, dt_s: f32) -> &Frame {
        let number = self.frame + 1;
        self.head = head;
        if let Some(feed) = &self.head_feed {
            feed.set(head);
        }
        let due: Vec<Command> = self.player.due(number).collect();
        for command in due {
            // Through `input`, as a key would: a sticker's question is answered the same way.
            self.input(Input::Command(command, Cause::Script));
        }
        if let (Some(dwell), Some(frame)) = (self.dwell.as_mut(), self.last_frame.as_ref()) {
            let gaze = Ray {
                origin: head.position,
                direction: head.forward(),
            };
            if let Some(action) = dwell.update(hit_button(frame, gaze).map(|h| h.0), dt_s) {
                self.press(action, Cause::Gaze(action));
            }
        }
        // The device's answers (the All list, a chosen guide) as they arrive; never waits.
        for change in self.menu.poll(self.surroundings.as_ref()) {
            self.menu_changed(Some(change));
        }
        if !self.menu.is_opening() {
            // Refused (F7 offline: never opened on this device): the refusal is on screen.
            self.sticker_opening = None;
        }
        // F2: the monitor's latest word, read without waiting; a forced banner wins.
        let online = self.online_wanted && self.surroundings.online();
        self.menu
            .connectivity(if online { Link::Online } else { Link::Offline });
        if online != self.drawn_online {
            tracing::info!(
                frame = number,
                "Offline banner {}",
                if online { "removed" } else { "shown" }
            );
            self.drawn_online = online;
            self.observations.push(Observation::Online {
                frame: number,
                online,
            });
        }
        self.report
            .offline_banner_first_frame
            .get_or_insert(!online);
        self.report.offline_banner_last_frame = Some(!online);
        self.report.frames_with_offline_banner += u64::from(!online);

        if std::mem::take(&mut self.screen_changed) {
            self.step_time_s = 0.0;
        } else {
            self.step_time_s += dt_s.max(0.0);
        }
        let view = self.app.view();
        let hint = self
            .stickers_looked_for()
            .then(|| super::stickers::hint(self.app.guide(), &view, &self.anchors))
            .flatten();
        let mut input = self.menu.shell().scene_input(
            &view,
            head,
            self.anchors.known(),
            self.stickers_looked_for(),
            self.step_time_s,
        );
        input.status = input.status.or(hint.as_deref());
        let question = self.update_offer.as_ref().map(UpdateOffer::question);
        input.prompt = question.as_deref();
        let frame = Frame::build(&input, &mut self.follower, dt_s);
        self.frame = number;
        self.report.frames = number;
        self.last_frame.insert(frame)
    }

    /// The current state drawn for `head` without changing anything (a warm-up draw).
    pub fn preview(&self, head: Pose) -> Frame {
        let view = self.app.view();
        let input = self.menu.shell().scene_input(
            &view,
            head,
            self.anchors.known(),
            self.stickers_looked_for(),
            self.step_time_s,
        );
        let question = self.update_offer.as_ref().map(UpdateOffer::question);
        let input = SceneInput {
            prompt: question.as_deref(),
            ..input
        };
        Frame::build(&input, &mut CardFollower::default(), 0.0)
    }

    /// What the shell must do since it last asked.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// What the app did since the last call, for a front end that prints as it goes.
    pub fn take_observations(&mut self) -> Vec<Observation> {
        std::mem::take(&mut self.observations)
    }

    /// What the app did so far, with the screen and guide on screen now.
    pub fn report(&self) -> AppReport {
        AppReport {
            final_screen: describe(&self.app.view()),
            final_guide: self.app.guide().title.clone(),
            ..self.report.clone()
        }
    }

    pub fn view(&self) -> View<'_> {
        self.app.view()
    }

    /// The guide on screen and its files (another one after a choice in the All list).
    pub fn content(&self) -> &Content {
        &self.content
    }

    pub fn last_frame(&self) -> Option<&Frame> {
        self.last_frame.as_ref()
    }

    /// Frames built so far (the last one's number).
    pub fn frames(&self) -> u64 {
        self.frame
    }

    pub fn step_time_s(&self) -> f32 {
        self.step_time_s
    }

    /// Screens shown so far (the start counts): changes whenever a new screen is shown.
    pub fn screens_shown(&self) -> u64 {
        self.screens_shown
    }

    pub fn all_list_open(&self) -> bool {
        self.menu.is_open()
    }

    /// F2: whether the last frame was drawn without the Offline banner.
    pub fn online(&self) -> bool {
        self.drawn_online
    }

    /// An exit command came (a script's `exit`).
    pub fn exit_asked(&self) -> bool {
        self.exit_asked
    }

    fn command(&mut self, command: Command, cause: Cause) {
        match command {
            Command::Intent(intent) => self.intent(intent, cause),
            Command::Menu => {
                let change = self.menu.toggle(self.surroundings.as_ref());
                self.menu_changed(change);
            }
            Command::Open(number) => {
                let number = usize::try_from(number.get()).unwrap_or(usize::MAX);
                // The update prompt answers to numbers as the All list does, while the list
                // is not on screen.
                if self.update_offer.is_some() && !self.menu.is_open() {
                    self.answer_updates_numbered(number, cause);
                } else {
                    self.choose(number);
                }
            }
            Command::Exit => self.exit_asked = true,
            Command::Answer(number) => {
                let index = usize::try_from(number.get() - 1).unwrap_or(usize::MAX);
                self.answer(index, cause);
            }
            Command::Enter(typed) => self.enter(&typed, cause),
            Command::Select => self.input(Input::Select(Ray {
                origin: self.head.position,
                direction: self.head.forward(),
            })),
        }
    }

    /// A button was pressed (selected or looked at): the guide moves, or the update prompt
    /// is answered.
    fn press(&mut self, action: crate::scene::ButtonAction, cause: Cause) {
        match press_for(action) {
            Press::Intent(intent) => self.intent(intent, cause),
            Press::Updates(answer) => self.answer_updates(answer, cause),
            Press::Answer(index) => self.answer(index, cause),
            Press::Key(key) => self.key(key, cause),
        }
    }

    fn choose(&mut self, number: usize) {
        let change = self.menu.choose(number, self.surroundings.as_ref());
        self.menu_changed(change);
    }

    fn intent(&mut self, intent: Intent, cause: Cause) {
        // A button pressed by gaze is another action: the question it hides goes with it.
        if let Some(link) = self.sticker_question.take() {
            tracing::info!(link = %link, "sticker's question dismissed");
        }
        let transition = self.app.handle(intent);
        tracing::info!(?intent, %cause, "input: now on {}", describe(&self.app.view()));
        self.menu.dismiss_status();
        if transition != Transition::Ignored {
            self.surroundings.screen_changed(&transition);
        }
        // Restart on the first step changes nothing but is still shown (the operator asked).
        if transition != Transition::Ignored || intent == Intent::Restart {
            self.shown(cause);
        }
    }

    fn shown(&mut self, cause: Cause) {
        let frame = self.frame + 1;
        self.screen_changed = true;
        self.screens_shown += 1;
        self.report.screens.push(ScreenShown {
            frame,
            screen: describe(&self.app.view()),
            cause: cause.to_string(),
        });
        self.observations.push(Observation::Shown { frame, cause });
    }

    /// What the All list did, in the report; a chosen guide replaces the one shown, from its
    /// first step.
    fn menu_changed(&mut self, change: Option<MenuChange>) {
        let frame = self.frame + 1;
        match change {
            None => {}
            Some(MenuChange::ListShown(lines)) => {
                tracing::info!(?lines, "All list shown");
                self.report.all_lists.push(lines.clone());
                self.observations
                    .push(Observation::AllList { frame, lines });
            }
            Some(MenuChange::Status(text)) => {
                tracing::info!("status: {text}");
                self.report.statuses.push(text.clone());
                self.observations.push(Observation::Status { frame, text });
            }
            Some(MenuChange::UpdatesOffered(offer)) => self.offer_updates(offer),
            Some(MenuChange::Kept { run, step_id, time }) => self.app.kept(run, &step_id, time),
            Some(MenuChange::Open {
                content,
                title,
                version,
            }) => {
                let sticker = self
                    .sticker_opening
                    .take()
                    .filter(|link| link.guide == content.guide.id);
                let start = sticker.as_ref().and_then(|link| link.step);
                if sticker.is_none() {
                    // Another guide by hand: a sticker of the old one may act again.
                    self.sticker = None;
                }
                self.app = App::open(Arc::clone(&content.guide), content.source, start);
                self.app.set_operator(self.surroundings.operator());
                self.content = content;
                self.anchors.clear();
                self.last_frame = None;
                self.effects.push(Effect::SwapAssets);
                let screen = describe(&self.app.view());
                let from = if sticker.is_some() {
                    "a QR sticker"
                } else {
                    "the All list"
                };
                tracing::info!("opened {title} — version {version} from {from}: {screen}");
                self.report
                    .guides_opened
                    .push(format!("{title} — version {version}: {screen}"));
                self.observations.push(Observation::GuideOpened {
                    frame,
                    title,
                    version,
                });
                self.shown(if sticker.is_some() {
                    Cause::Sticker
                } else {
                    Cause::Chosen
                });
            }
        }
    }
}

/// A still picture of step `step` of `guide` in `situation`, the card placed at once and the
/// step shown for `step_time_s` (screenshots and goldens).
pub fn picture(
    guide: Arc<Guide>,
    step: NonZeroU32,
    situation: &Situation,
    head: Pose,
    step_time_s: f32,
) -> Frame {
    let mut app = App::open(guide, GuideSource::Demo, Some(step));
    app.set_operator(situation.operator.clone());
    for command in &situation.given {
        let answered = match command {
            Command::Answer(number) => app.answer(number.get() as usize - 1),
            Command::Enter(typed) => {
                typed.chars().for_each(|c| _ = app.key(KeyPress::Char(c)));
                app.key(KeyPress::Done)
            }
            _ => None,
        };
        if let (Some(answered), Some(time)) = (answered, &situation.kept_at) {
            app.kept(answered.run, &answered.step_id, time.clone());
        }
    }
    situation
        .typed
        .chars()
        .for_each(|c| _ = app.key(KeyPress::Char(c)));
    let view = app.view();
    let input = SceneInput {
        view: &view,
        online: situation.online,
        all_list: situation.all_list.as_deref(),
        status: situation.status.as_deref(),
        prompt: situation.prompt.as_deref(),
        head,
        anchors: &[],
        anchors_tracked: false,
        step_time_s,
    };
    Frame::build(&input, &mut CardFollower::default(), 0.0)
}

/// "demo", "local" or "service", as reports say it.
pub fn source_name(source: GuideSource) -> &'static str {
    match source {
        GuideSource::Demo => "demo",
        GuideSource::Local => "local",
        GuideSource::Service => "service",
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;

#[path = "driver_sightings.rs"]
mod sightings;

#[path = "driver_updates.rs"]
mod updates;

#[path = "driver_answers.rs"]
mod answers;

#[cfg(test)]
#[path = "driver_answers_tests.rs"]
mod answers_tests;

#[cfg(test)]
#[path = "driver_updates_tests.rs"]
mod updates_tests;
