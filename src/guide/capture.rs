//! What a step asks the operator to record (schema version 2, N6): a check, a choice that may
//! branch, a number with unit and limits, a text, a photo or a sign-off. The decoder checks
//! them ([`super::decode`]); the flow of a guide with branches is worked out here, once, for
//! the validator and the app alike.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::{Guide, Task};

/// One step's capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    #[serde(flatten)]
    pub kind: CaptureKind,
    /// Next stays disabled until it is answered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaptureKind {
    /// Done, not done, or not applicable.
    Check,
    /// 2–6 options; an option with `goto` jumps to that step.
    Choice {
        options: Vec<ChoiceOption>,
    },
    Number(NumberCapture),
    Text {
        max_length: u32,
    },
    /// From the headset's camera (or a file in the text front end).
    Photo,
    /// The signed-in user confirms by name.
    Signoff,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceOption {
    pub label: String,
    /// The step id this answer leads to; the next step when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goto: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumberCapture {
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Digits after the decimal point the value is recorded with.
    #[serde(default)]
    pub decimals: u8,
    /// Shown when a value outside the limits is recorded (it is recorded and flagged anyway).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on_out_of_limits: String,
}

/// Why the service refuses a recorded answer for a step (N6), said to the device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerRefusal {
    #[error("the step asks for a {asked}, and this record is {given}")]
    WrongKind { asked: &'static str, given: String },
    #[error("a check is done, not_done or not_applicable")]
    NoCheckState,
    #[error("the answer is not one of the step's options")]
    NoSuchOption,
    #[error("a number answer needs a finite value")]
    NotANumber,
    #[error("the step measures in {asked}, and this record is in {given:?}")]
    WrongUnit { asked: String, given: String },
    #[error("the record says the value is {claimed} the limits, and it is not")]
    WrongVerdict { claimed: &'static str },
    #[error("a text answer is a text of at most {max} characters")]
    BadText { max: u32 },
    #[error("a sign-off names the person who signed")]
    Unsigned,
    #[error("a photo answer names its JPEG by a SHA-256 (64 hex digits) and its size")]
    UnnamedPhoto,
}

impl Capture {
    /// N6, as the service checks a recorded value: a step completion without a value is
    /// fine; a value must be an answer of the kind the step asks for, naming an answer it
    /// offers, in its unit, with the limits verdict the step's limits give.
    pub fn check_recorded(&self, value: Option<&Value>) -> Result<(), AnswerRefusal> {
        let Some(value) = value else {
            return Ok(());
        };
        let asked = self.kind.name();
        let given = value.get("kind").and_then(Value::as_str);
        if given != Some(asked) {
            return Err(AnswerRefusal::WrongKind {
                asked,
                given: given.map_or("no answer".to_owned(), |k| format!("a {k}")),
            });
        }
        let text = |field: &str| value.get(field).and_then(Value::as_str);
        match &self.kind {
            CaptureKind::Check => match text("state") {
                Some("done" | "not_done" | "not_applicable") => Ok(()),
                _ => Err(AnswerRefusal::NoCheckState),
            },
            CaptureKind::Choice { options } => {
                let option = value
                    .get("option")
                    .and_then(Value::as_u64)
                    .and_then(|i| options.get(usize::try_from(i).ok()?));
                match option {
                    Some(option) if Some(option.label.as_str()) == text("label") => Ok(()),
                    _ => Err(AnswerRefusal::NoSuchOption),
                }
            }
            CaptureKind::Number(number) => {
                let measured = value
                    .get("value")
                    .and_then(Value::as_f64)
                    .filter(|n| n.is_finite())
                    .ok_or(AnswerRefusal::NotANumber)?;
                let unit = text("unit").unwrap_or_default();
                if unit != number.unit {
                    return Err(AnswerRefusal::WrongUnit {
                        asked: number.unit.clone(),
                        given: unit.to_owned(),
                    });
                }
                // The flag an auditor filters on must be the guide's, not the device's word.
                let within = number.within_limits(measured);
                match value.get("within_limits").and_then(Value::as_bool) {
                    Some(claimed) if claimed == within => Ok(()),
                    Some(true) => Err(AnswerRefusal::WrongVerdict { claimed: "within" }),
                    _ => Err(AnswerRefusal::WrongVerdict { claimed: "outside" }),
                }
            }
            CaptureKind::Text { max_length } => match text("text") {
                Some(t) if !t.trim().is_empty() && t.chars().count() <= *max_length as usize => {
                    Ok(())
                }
                _ => Err(AnswerRefusal::BadText { max: *max_length }),
            },
            CaptureKind::Signoff => match text("name") {
                Some(name) if !name.trim().is_empty() => Ok(()),
                _ => Err(AnswerRefusal::Unsigned),
            },
            CaptureKind::Photo => {
                let named = text("sha256").is_some_and(crate::content_address::is_sha256_hex);
                let sized = value
                    .get("bytes")
                    .and_then(Value::as_u64)
                    .is_some_and(|n| n > 0);
                if named && sized {
                    Ok(())
                } else {
                    Err(AnswerRefusal::UnnamedPhoto)
                }
            }
        }
    }
}

impl CaptureKind {
    /// As `guide.json` and records say it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Choice { .. } => "choice",
            Self::Number(_) => "number",
            Self::Text { .. } => "text",
            Self::Photo => "photo",
            Self::Signoff => "signoff",
        }
    }
}

impl NumberCapture {
    /// Whether `value` is within the limits (a missing limit does not bound).
    pub fn within_limits(&self, value: f64) -> bool {
        self.min.is_none_or(|min| value >= min) && self.max.is_none_or(|max| value <= max)
    }

    /// "23 to 27 N·m", "at least 23 N·m"; `None` without limits.
    pub fn limits_text(&self) -> Option<String> {
        let unit = &self.unit;
        match (self.min, self.max) {
            (Some(min), Some(max)) => Some(format!("{min} to {max} {unit}")),
            (Some(min), None) => Some(format!("at least {min} {unit}")),
            (None, Some(max)) => Some(format!("at most {max} {unit}")),
            (None, None) => None,
        }
    }
}

/// Where a step leads in the guide's flow: the indexes (across all tasks) of the steps that can
/// follow it, [`Flow::END`] for "the guide is done".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub next: Vec<Vec<usize>>,
}

impl Flow {
    /// Past the last step.
    pub const END: usize = usize::MAX;

    /// The flow of `guide`: each step leads to the next one, and a choice's options with `goto`
    /// to their step (options without one to the next step). A `goto` naming no step is left
    /// out (the decoder reports it).
    pub fn of(guide: &Guide) -> Self {
        Self::of_tasks(&guide.tasks)
    }

    pub fn of_tasks(tasks: &[Task]) -> Self {
        let steps: Vec<_> = tasks.iter().flat_map(|t| &t.steps).collect();
        let index_of = |id: &str| steps.iter().position(|s| s.id == id);
        let after = |i: usize| {
            if i + 1 < steps.len() {
                i + 1
            } else {
                Self::END
            }
        };
        let next = steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let mut next = Vec::new();
                match step.capture.as_ref().map(|c| &c.kind) {
                    Some(CaptureKind::Choice { options }) => {
                        for option in options {
                            let to = match &option.goto {
                                Some(id) => match index_of(id) {
                                    Some(to) => to,
                                    None => continue,
                                },
                                None => after(i),
                            };
                            if !next.contains(&to) {
                                next.push(to);
                            }
                        }
                    }
                    _ => next.push(after(i)),
                }
                next
            })
            .collect();
        Self { next }
    }

    /// Steps no path from the first step reaches.
    pub fn unreachable(&self) -> Vec<usize> {
        let mut seen = vec![false; self.next.len()];
        let mut stack = vec![0];
        while let Some(i) = stack.pop() {
            if i == Self::END || i >= seen.len() || seen[i] {
                continue;
            }
            seen[i] = true;
            stack.extend(&self.next[i]);
        }
        (0..seen.len()).filter(|i| !seen[*i]).collect()
    }

    /// Steps from which no path reaches the end (a branch that loops for ever).
    pub fn dead_ends(&self) -> Vec<usize> {
        let count = self.next.len();
        let mut reaches_end = vec![false; count];
        // Fixed point: a step reaches the end when one of its successors does.
        loop {
            let mut changed = false;
            for i in 0..count {
                if !reaches_end[i]
                    && self.next[i]
                        .iter()
                        .any(|&n| n == Self::END || reaches_end.get(n).copied().unwrap_or(false))
                {
                    reaches_end[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        (0..count).filter(|i| !reaches_end[*i]).collect()
    }
}
