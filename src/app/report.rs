//! What the app did, the same for every shell: screens shown and why, the All lists, the
//! guides opened from them, the status lines and the Offline banner — each at the frame that
//! first showed it. Frames are counted from 1 everywhere: frame N is the N-th frame the
//! driver built, and an input handled before it belongs to it.

use serde::Serialize;

use super::View;
use crate::scene::ButtonAction;

/// What made the app change screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Start,
    /// A key of the window ("N", "Left").
    Key(&'static str),
    /// A card button pointed at and selected (mouse click, controller ray, pinch).
    Click(ButtonAction),
    /// A controller button bound to the intent (OpenXR's next/back/menu actions).
    Controller,
    /// A button looked at for the dwell time.
    Gaze(ButtonAction),
    /// A line of an input script.
    Script,
    /// A line typed in the text front end (`run --backend text`).
    Typed,
    /// Another guide, chosen from the All list, is shown from its first step.
    Chosen,
    /// A QR sticker's guide link (X2, F7): its step, or its guide once confirmed.
    Sticker,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Start => write!(f, "start"),
            Self::Key(key) => write!(f, "key {key}"),
            Self::Click(action) => write!(f, "click {action:?}"),
            Self::Controller => write!(f, "controller"),
            Self::Gaze(action) => write!(f, "gaze {action:?}"),
            Self::Script => write!(f, "script"),
            Self::Typed => write!(f, "typed"),
            Self::Chosen => write!(f, "chosen from the All list"),
            Self::Sticker => write!(f, "QR sticker"),
        }
    }
}

/// One thing the app did, as it happened (a front end may print it at once).
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A new screen (or the same one after Restart) from frame `frame`.
    Shown { frame: u64, cause: Cause },
    /// Frame `frame` is the first drawn with (`online` false) or without the Offline banner
    /// since the last change.
    Online { frame: u64, online: bool },
    /// F3: the All list with these lines (the exact empty text when nothing is cached).
    AllList { frame: u64, lines: Vec<String> },
    /// A guide chosen from the All list replaces the one shown.
    GuideOpened {
        frame: u64,
        title: String,
        version: u32,
    },
    /// The status line shows `text` (a refusal, how a guide was opened).
    Status { frame: u64, text: String },
    /// N6: an answer was given, as the report says it ("refit-cap: 25.4 N·m (key keyboard)").
    Answered { frame: u64, line: String },
}

/// A screen shown, for the report: `{"frame": 1, "screen": "step 1 of 9", "cause": "start"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScreenShown {
    pub frame: u64,
    pub screen: String,
    pub cause: String,
}

/// What the app did over a run; every shell reports it the same way (`--json`, tests).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AppReport {
    /// Why the guide is open: "demo", "local" (a package by path) or "service".
    pub guide_source: String,
    /// What was on screen at the start: "step 3 of 9" for a link to step 3.
    pub first_screen: String,
    /// What was on screen at the end: "step 3 of 9", "complete".
    pub final_screen: String,
    /// The title of the guide on screen at the end (another one after a choice in the All list).
    pub final_guide: String,
    /// Frames the driver built (counted from 1).
    pub frames: u64,
    /// Every screen shown, in order, with the frame that first showed it.
    pub screens: Vec<ScreenShown>,
    /// F3: each All list shown, as its lines ("1. Pump filter — version 2, downloaded …"), or
    /// the exact empty text.
    pub all_lists: Vec<Vec<String>>,
    /// Guides opened from the All list: "Valve check — version 1: step 1 of 2".
    pub guides_opened: Vec<String>,
    /// Lines put on the status panel (refusals, "Opened from this device's copy.").
    pub statuses: Vec<String>,
    /// QR codes seen that open nothing, once each in a row: "plain text, not a link".
    pub codes_ignored: Vec<String>,
    /// Anchors found by the camera (X3), in the order found: "<id> at frame N, (x, y, z) m".
    pub anchors_found: Vec<String>,
    /// N6: each answer given, in order: "s4: Damaged (click Answer(0))".
    pub answers: Vec<String>,
    /// S7: each update prompt shown ("Updates available: 2 guides, 12 MiB").
    pub update_prompts: Vec<String>,
    /// S7: each answer, with what gave it ("download now (click DownloadUpdates)").
    pub update_answers: Vec<String>,
    /// F2: whether the first and the last frame showed the Offline banner.
    pub offline_banner_first_frame: Option<bool>,
    pub offline_banner_last_frame: Option<bool>,
    /// Frames that showed the Offline banner.
    pub frames_with_offline_banner: u64,
}

/// "step 3 of 9", "complete".
pub fn describe(view: &View<'_>) -> String {
    match view {
        View::Step(step) => format!("step {} of {}", step.step_number, step.step_count),
        View::Complete { .. } => "complete".to_owned(),
    }
}
