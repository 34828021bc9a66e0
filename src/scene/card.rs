//! The step card's content as the app hands it over; the scene lays it out.

use crate::guide::{Hologram, Media};

/// What the step card shows: the app builds it fresh from its state (`app::App::view`), never
/// stores it.
// One value per frame on the stack, never kept in a collection: boxing the step would only add
// an allocation per frame.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CardView<'a> {
    Step(StepCard<'a>),
    Complete {
        guide_title: &'a str,
        step_count: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepCard<'a> {
    pub guide_title: &'a str,
    pub task_title: &'a str,
    /// From 1, as printed on the card.
    pub task_number: usize,
    pub task_count: usize,
    pub step_number: usize,
    pub step_count: usize,
    pub title: &'a str,
    pub body: &'a str,
    pub holograms: &'a [Hologram],
    /// The step's picture or video, shown beside the card with its caption.
    pub media: Option<&'a Media>,
    /// N6: the answers the step offers as buttons (a check's states, a choice's options).
    pub answers: Vec<String>,
    /// The answer given in this run.
    pub answered: Option<AnsweredLine>,
    /// A number or a text is typed on a keypad beside the card.
    pub keypad: Option<KeypadView<'a>>,
    pub can_go_back: bool,
    /// On the last step "Next" finishes the guide.
    pub is_last: bool,
    pub demo: bool,
    pub notice: Option<&'a str>,
}

/// The answer given at a step, as the card shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnsweredLine {
    /// "Done · kept 14:02", "26.9 N·m · outside the limits".
    pub text: String,
    /// The answer button that gave it (drawn filled).
    pub button: Option<usize>,
    /// Outside the step's limits: drawn as a warning.
    pub flagged: bool,
}

/// The keypad beside a step that asks for a number or a text.
#[derive(Debug, Clone, PartialEq)]
pub struct KeypadView<'a> {
    /// The keys, row by row; Erase and OK follow.
    pub rows: &'static [&'static str],
    /// What is typed so far.
    pub typed: &'a str,
    /// "N·m · limits 23 to 27 N·m".
    pub hint: String,
}
