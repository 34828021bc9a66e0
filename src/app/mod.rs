//! The app as a pure state machine: intents in, a new state and a [`View`] of it out.
//!
//! No I/O and no clock here. Every front end — the text mode today, the renderer and the OpenXR
//! frame loop on top of it — feeds the same intents and draws the same view, so the rules live
//! in one place and are tested without a headset.

use std::num::NonZeroU32;
use std::sync::Arc;

pub mod access;
pub mod anchors;
pub mod answers;
pub mod device;
pub mod driver;
pub mod head_path;
pub mod menu;
pub mod pointer;
pub mod report;
pub mod runs;
pub mod script;
pub mod shell;
pub mod stickers;
pub mod telemetry;
pub mod updates;

use std::collections::HashMap;

use crate::guide::Guide;
use crate::guide::capture::CaptureKind;
use answers::{Answer, Keys, NoAnswer, answer_at, offered, typed_answer};

/// What the operator asked for: a button on the card, a controller gesture, a key in text mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Next,
    Back,
    /// Jump to a step number as shown on the card (from 1).
    GoToStep(NonZeroU32),
    Restart,
}

/// Why a guide is open, which decides what the app may do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuideSource {
    /// The bundled demo: no network, no account (F8).
    Demo,
    /// A local package opened by path (testers, authors previewing their work).
    Local,
    /// A guide from the guide service, freshly downloaded or from this device's cache.
    Service,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Step {
        index: usize,
    },
    /// Past the last step: the guide is done.
    Complete,
}

/// The state of one open guide.
#[derive(Debug, Clone)]
pub struct App {
    guide: Arc<Guide>,
    source: GuideSource,
    screen: Screen,
    /// One line shown over the card until the next intent (a toast).
    notice: Option<String>,
    /// The steps shown before this one, in order: Back goes along the path actually taken.
    path: Vec<usize>,
    /// This run's answers, by step index.
    answers: HashMap<usize, Answer>,
    /// When the device kept each answer ("14:02"), once it said so.
    kept_at: HashMap<usize, String>,
    /// What is typed on the keypad of the step on screen (a number, a text), not yet answered.
    typed: String,
    /// The signed-in user a sign-off names (none in the demo and for local packages).
    operator: Option<String>,
    /// Counts Restarts: each run through the guide is one run of records.
    run: u32,
}

/// A key of the keypad beside a step that asks for a number or a text (N6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPress {
    Char(char),
    Erase,
    /// OK: the typed entry becomes the answer.
    Done,
}

/// An answer given at the step on screen, for the device to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    pub step_id: String,
    pub answer: Answer,
    /// The step had an answer already: this one corrects it.
    pub corrects: Option<Answer>,
    /// Which run through the guide (a Restart starts the next): records of one run share a
    /// run id.
    pub run: u32,
    /// A photo's JPEG, for the device to keep with the record.
    pub attachment: Option<Arc<Vec<u8>>>,
}

/// Longer than any value a meter shows: the keypad takes no more.
const MAX_NUMBER_CHARS: usize = 32;

/// The card said Next needs an answer first (N6 `required`).
pub const ANSWER_FIRST: &str = "This step needs an answer before Next.";

/// What a front end shows for the current state: the step card's content, a type of the scene
/// (which lays it out) so that the scene needs nothing of the app.
pub use crate::scene::{AnsweredLine, CardView as View, KeypadView, StepCard as StepView};

/// What an intent did, for logs and for front ends that animate changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Moved {
        from: Screen,
        to: Screen,
    },
    /// The intent does not apply here (Back on the first step); nothing changed.
    Ignored,
}

impl App {
    /// Opens a guide at a step number (from a guide link) or at its first step.
    /// A step number past the end opens the first step and says why.
    pub fn open(guide: Arc<Guide>, source: GuideSource, start: Option<NonZeroU32>) -> Self {
        let mut app = Self {
            guide,
            source,
            screen: Screen::Complete,
            notice: None,
            path: Vec::new(),
            answers: HashMap::new(),
            kept_at: HashMap::new(),
            typed: String::new(),
            operator: None,
            run: 0,
        };
        app.screen = app.first_screen();
        if let Some(step) = start {
            app.go_to(step);
        }
        app
    }

    pub fn guide(&self) -> &Guide {
        &self.guide
    }

    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The signed-in user, for sign-offs.
    pub fn set_operator(&mut self, operator: Option<String>) {
        self.operator = operator;
    }

    /// Which run through the guide this is (from 0; each Restart adds one).
    pub fn run(&self) -> u32 {
        self.run
    }

    pub fn handle(&mut self, intent: Intent) -> Transition {
        let from = self.screen.clone();
        self.notice = None;
        let last = self.guide.step_count().saturating_sub(1);
        match (intent, self.screen.clone()) {
            (Intent::Next, Screen::Step { index }) => {
                if self.needs_answer(index) {
                    self.notice = Some(ANSWER_FIRST.to_owned());
                    return Transition::Ignored;
                }
                self.path.push(index);
                self.screen = match self.next_of(index) {
                    Some(to) => Screen::Step { index: to },
                    None => Screen::Complete,
                };
            }
            (Intent::Back, _) if !self.path.is_empty() => {
                let index = self.path.pop().unwrap_or_default();
                self.screen = Screen::Step { index };
            }
            // Opened part-way (a link's step): Back goes to the step before it.
            (Intent::Back, Screen::Step { index }) if index > 0 => {
                self.screen = Screen::Step { index: index - 1 };
            }
            (Intent::Back, Screen::Complete) => {
                self.screen = Screen::Step { index: last };
            }
            (Intent::Restart, _) => {
                self.path.clear();
                self.answers.clear();
                self.kept_at.clear();
                self.typed.clear();
                self.run += 1;
                self.screen = self.first_screen();
            }
            (Intent::GoToStep(step), screen) => {
                if let Screen::Step { index } = screen {
                    self.path.push(index);
                }
                self.go_to(step);
            }
            (Intent::Next, Screen::Complete) | (Intent::Back, Screen::Step { .. }) => {}
        }
        if self.screen == from {
            Transition::Ignored
        } else {
            // What was typed belongs to the step left (a refused Next keeps it).
            self.typed.clear();
            tracing::debug!(?from, to = ?self.screen, "screen changed");
            Transition::Moved {
                from,
                to: self.screen.clone(),
            }
        }
    }

    /// N6: answer button `index` of the step on screen. `None` when the step offers no such
    /// answer (or the guide is complete), or when it cannot be given here (the card says why).
    pub fn answer(&mut self, index: usize) -> Option<Answered> {
        let (step, kind) = self.capture_on_screen()?;
        let answer = answer_at(&kind, index, self.operator.as_deref());
        self.give(step, answer)
    }

    /// N6: a key of the keypad of the step on screen; OK gives the typed entry as the answer.
    pub fn key(&mut self, key: KeyPress) -> Option<Answered> {
        let (step, kind) = self.capture_on_screen()?;
        let keys = Keys::of(&kind)?;
        self.notice = None;
        match key {
            KeyPress::Char(c) if keys.has(c) => {
                let limit = match &kind {
                    CaptureKind::Text { max_length } => *max_length as usize,
                    _ => MAX_NUMBER_CHARS,
                };
                if self.typed.chars().count() < limit {
                    self.typed.push(c);
                } else {
                    self.notice = Some(format!("At most {limit} characters here."));
                }
                None
            }
            KeyPress::Char(_) => None,
            KeyPress::Erase => {
                self.typed.pop();
                None
            }
            KeyPress::Done => {
                let answer = typed_answer(&kind, &self.typed);
                let answered = self.give(step, answer)?;
                self.typed.clear();
                Some(answered)
            }
        }
    }

    /// N6: the keys of the keypad of the step on screen, if it has one.
    pub fn keys_on_screen(&self) -> Option<Keys> {
        Keys::of(&self.capture_on_screen()?.1)
    }

    /// Forgets what is typed on the keypad.
    pub fn clear_typed(&mut self) {
        self.typed.clear();
    }

    /// The step on screen and what it records, if it records something.
    fn capture_on_screen(&self) -> Option<(usize, CaptureKind)> {
        let Screen::Step { index } = self.screen else {
            return None;
        };
        let capture = self.guide.step(index)?.step.capture.as_ref()?;
        Some((index, capture.kind.clone()))
    }

    fn give(&mut self, step: usize, answer: Result<Answer, NoAnswer>) -> Option<Answered> {
        let answer = match answer {
            Ok(answer) => answer,
            Err(NoAnswer::NoSuchButton) => return None,
            Err(NoAnswer::Refused(why)) => {
                self.notice = Some(why);
                return None;
            }
        };
        let position = self.guide.step(step)?;
        // Kept as a record only for a guide of the service (the demo and local packages have
        // no account to keep it for).
        let recorded = self.source == GuideSource::Service;
        self.notice = match (&position.step.capture, answer.out_of_limits()) {
            (Some(capture), true) => Some(out_of_limits_notice(&capture.kind, &answer, recorded)),
            _ => None,
        };
        let step_id = position.step.id.clone();
        self.kept_at.remove(&step);
        let corrects = self.answers.insert(step, answer.clone());
        Some(Answered {
            step_id,
            answer,
            corrects,
            run: self.run,
            attachment: None,
        })
    }

    /// N6: whether the step on screen asks for a photo (its one button takes it).
    pub fn asks_photo(&self) -> Option<usize> {
        match self.capture_on_screen()? {
            (step, CaptureKind::Photo) => Some(step),
            _ => None,
        }
    }

    /// N6: the photo taken for step `step` (the one on screen when it was asked for) is its
    /// answer; `None` when that step asks for no photo.
    pub fn photo(&mut self, step: usize, photo: crate::camera::photo::Photo) -> Option<Answered> {
        let asks = self.guide.step(step)?.step.capture.as_ref()?;
        if asks.kind != CaptureKind::Photo {
            return None;
        }
        let answer = Answer::Photo {
            sha256: photo.sha256,
            bytes: photo.jpeg.len() as u64,
            width: photo.width,
            height: photo.height,
        };
        let mut answered = self.give(step, Ok(answer))?;
        answered.attachment = Some(Arc::new(photo.jpeg));
        Some(answered)
    }

    /// A line over the card until the next intent (what the device or the camera says).
    pub fn say(&mut self, text: impl Into<String>) {
        self.notice = Some(text.into());
    }

    /// The device kept the answer at `step_id` in run `run` at `time` ("14:02"): the card
    /// says so.
    pub fn kept(&mut self, run: u32, step_id: &str, time: String) {
        if run != self.run {
            return;
        }
        if let Some(index) = self.guide.steps().position(|p| p.step.id == step_id) {
            self.kept_at.insert(index, time);
        }
    }

    /// The answer given at step `index` in this run.
    pub fn answer_at(&self, index: usize) -> Option<&Answer> {
        self.answers.get(&index)
    }

    fn needs_answer(&self, index: usize) -> bool {
        self.guide
            .step(index)
            .and_then(|p| p.step.capture.as_ref())
            .is_some_and(|c| c.required && !self.answers.contains_key(&index))
    }

    /// Where Next goes from step `index`: a choice's `goto` for the answer given, else the next
    /// step; `None` past the last.
    fn next_of(&self, index: usize) -> Option<usize> {
        let step = self.guide.step(index)?.step;
        let jump = match (
            step.capture.as_ref().map(|c| &c.kind),
            self.answers.get(&index),
        ) {
            (Some(CaptureKind::Choice { options }), Some(Answer::Choice { option, .. })) => options
                .get(*option)
                .and_then(|o| o.goto.as_deref())
                .and_then(|id| self.guide.steps().position(|p| p.step.id == id)),
            _ => None,
        };
        let to = jump.unwrap_or(index + 1);
        (to < self.guide.step_count()).then_some(to)
    }

    /// A guide built in code may have no steps; decoded guides always have one.
    fn first_screen(&self) -> Screen {
        if self.guide.step_count() == 0 {
            Screen::Complete
        } else {
            Screen::Step { index: 0 }
        }
    }

    fn go_to(&mut self, step: NonZeroU32) {
        let count = self.guide.step_count();
        let index = usize::try_from(step.get() - 1).unwrap_or(usize::MAX);
        if index < count {
            self.screen = Screen::Step { index };
        } else {
            self.screen = self.first_screen();
            self.notice = Some(format!(
                "This guide has {count} steps; there is no step {step}. Showing step 1."
            ));
        }
    }

    pub fn view(&self) -> View<'_> {
        let guide = &*self.guide;
        let Screen::Step { index } = self.screen else {
            return View::Complete {
                guide_title: &guide.title,
                step_count: guide.step_count(),
            };
        };
        // `index` is kept within the guide by every transition above.
        let position = guide
            .step(index)
            .expect("screen index stays within the guide");
        let step_count = guide.step_count();
        let capture = position.step.capture.as_ref();
        View::Step(StepView {
            guide_title: &guide.title,
            task_title: &position.task.title,
            task_number: position.task_index + 1,
            task_count: guide.tasks.len(),
            step_number: index + 1,
            step_count,
            title: &position.step.title,
            body: &position.step.body,
            holograms: &position.step.holograms,
            media: position.step.media.as_ref(),
            answers: capture
                .map(|c| offered(&c.kind, self.operator.as_deref()))
                .unwrap_or_default(),
            answered: self.answers.get(&index).map(|answer| AnsweredLine {
                text: answered_line(answer, self.kept_at.get(&index).map(String::as_str)),
                button: answer.button(),
                flagged: answer.out_of_limits(),
            }),
            keypad: capture.and_then(|c| {
                Some(KeypadView {
                    rows: Keys::of(&c.kind)?.rows(),
                    typed: &self.typed,
                    hint: keypad_hint(&c.kind),
                })
            }),
            can_go_back: index > 0 || !self.path.is_empty(),
            is_last: index + 1 == step_count,
            demo: self.source == GuideSource::Demo,
            notice: self.notice.as_deref(),
        })
    }
}

/// The card's line about the answer given: "26.9 N·m · outside the limits · kept 14:02".
fn answered_line(answer: &Answer, kept_at: Option<&str>) -> String {
    let mut line = answer.label();
    if answer.out_of_limits() {
        line.push_str(" · outside the limits");
    }
    if let Some(time) = kept_at {
        line.push_str(&format!(" · kept {time}"));
    }
    line
}

/// What the keypad says it takes: "23 to 27 N·m" (or the unit alone), "Up to 40 characters".
fn keypad_hint(kind: &CaptureKind) -> String {
    match kind {
        CaptureKind::Number(number) => number.limits_text().unwrap_or_else(|| number.unit.clone()),
        CaptureKind::Text { max_length } => format!("Up to {max_length} characters"),
        _ => String::new(),
    }
}

/// The toast after a value outside the limits: it is recorded, flagged, and the step says what
/// to do about it.
fn out_of_limits_notice(kind: &CaptureKind, answer: &Answer, recorded: bool) -> String {
    let CaptureKind::Number(number) = kind else {
        return String::new();
    };
    let mut notice = format!(
        "{} is outside {}: {}.",
        answer.label(),
        number.limits_text().unwrap_or_default(),
        if recorded {
            "recorded and flagged"
        } else {
            "flagged"
        }
    );
    if !number.on_out_of_limits.is_empty() {
        notice.push(' ');
        notice.push_str(&number.on_out_of_limits);
    }
    notice
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod capture_tests;
