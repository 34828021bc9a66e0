//! The step card's content as the app hands it over; the scene lays it out.

use crate::guide::Hologram;

/// What the step card shows: the app builds it fresh from its state (`app::App::view`), never
/// stores it.
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
    /// N6: the answers the step offers as buttons (a check's states, a choice's options).
    pub answers: Vec<String>,
    /// The answer given in this run, as its button says it.
    pub answered: Option<&'a str>,
    pub can_go_back: bool,
    /// On the last step "Next" finishes the guide.
    pub is_last: bool,
    pub demo: bool,
    pub notice: Option<&'a str>,
}
