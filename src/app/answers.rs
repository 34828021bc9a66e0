//! What the operator answered at a step that records something (N6): a check's state or a
//! choice's option, as the app holds it during a run. The device turns each answer into an
//! immutable record (a changed answer is a new record that supersedes the last).

use serde::Serialize;

use crate::guide::capture::{CaptureKind, ChoiceOption};

/// A check's three states, in the order the card shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Done,
    NotDone,
    NotApplicable,
}

impl CheckState {
    pub const ALL: [Self; 3] = [Self::Done, Self::NotDone, Self::NotApplicable];

    pub fn label(self) -> &'static str {
        match self {
            Self::Done => "Done",
            Self::NotDone => "Not done",
            Self::NotApplicable => "N/A",
        }
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    Check {
        state: CheckState,
    },
    /// The option's position (from 0) and its label as the card showed it.
    Choice {
        option: usize,
        label: String,
    },
}

impl Answer {
    /// "Done", "Damaged": what the card shows once answered.
    pub fn label(&self) -> &str {
        match self {
            Self::Check { state } => state.label(),
            Self::Choice { label, .. } => label,
        }
    }
}

/// The answers a capture offers as buttons, in order (empty for kinds answered otherwise).
pub fn offered(kind: &CaptureKind) -> Vec<String> {
    match kind {
        CaptureKind::Check => CheckState::ALL.iter().map(|s| s.label().into()).collect(),
        CaptureKind::Choice { options } => options.iter().map(|o| o.label.clone()).collect(),
        CaptureKind::Number(_)
        | CaptureKind::Text { .. }
        | CaptureKind::Photo
        | CaptureKind::Signoff => Vec::new(),
    }
}

/// The answer of button `index` of `kind`, if there is such a button.
pub fn answer_at(kind: &CaptureKind, index: usize) -> Option<Answer> {
    match kind {
        CaptureKind::Check => CheckState::ALL
            .get(index)
            .map(|&state| Answer::Check { state }),
        CaptureKind::Choice { options } => {
            options
                .get(index)
                .map(|ChoiceOption { label, .. }| Answer::Choice {
                    option: index,
                    label: label.clone(),
                })
        }
        _ => None,
    }
}
