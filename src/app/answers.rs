//! What the operator answered at a step that records something (N6): a check's state, a
//! choice's option, a measured number, a text or a sign-off, as the app holds it during a run
//! and as its record says it. The device turns each answer into an immutable record (a changed
//! answer is a new record that supersedes the last); the service reads the same shape back.

use serde::{Deserialize, Serialize};

use crate::guide::capture::{CaptureKind, ChoiceOption, NumberCapture};

/// A check's three states, in the order the card shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// A measured value, rounded to the step's decimals, with the unit and the verdict against
    /// the step's limits as the card showed them (outside is recorded and flagged).
    Number {
        value: f64,
        unit: String,
        within_limits: bool,
    },
    Text {
        text: String,
    },
    /// The signed-in user confirmed by name.
    Signoff {
        name: String,
    },
    /// A photo from the headset's camera, named by the SHA-256 of its JPEG (the device keeps
    /// the bytes encrypted and uploads them before the record).
    Photo {
        sha256: String,
        bytes: u64,
        width: u32,
        height: u32,
    },
}

impl Answer {
    /// "Done", "Damaged", "26.5 N·m": what the card and reports show.
    pub fn label(&self) -> String {
        match self {
            Self::Check { state } => state.label().to_owned(),
            Self::Choice { label, .. } => label.clone(),
            Self::Number { value, unit, .. } => format!("{} {unit}", format_number(*value)),
            Self::Text { text } => text.clone(),
            Self::Signoff { name } => format!("Signed off by {name}"),
            Self::Photo { bytes, .. } => format!("Photo ({} KB)", bytes.div_ceil(1000)),
        }
    }

    /// A number outside the step's limits: flagged on the card and in exports.
    pub fn out_of_limits(&self) -> bool {
        matches!(
            self,
            Self::Number {
                within_limits: false,
                ..
            }
        )
    }

    /// The answer button that gave this answer, if it came from one.
    pub fn button(&self) -> Option<usize> {
        match self {
            Self::Check { state } => CheckState::ALL.iter().position(|s| s == state),
            Self::Choice { option, .. } => Some(*option),
            Self::Signoff { .. } | Self::Photo { .. } => Some(0),
            Self::Number { .. } | Self::Text { .. } => None,
        }
    }
}

/// A value as typed: no trailing zeros beyond what was recorded, no "-0".
pub fn format_number(value: f64) -> String {
    let text = format!("{value}");
    if text == "-0" { "0".into() } else { text }
}

/// The answers a capture offers as buttons, in order (empty for kinds typed on the keypad).
/// `operator` is the signed-in user a sign-off names.
pub fn offered(kind: &CaptureKind, operator: Option<&str>) -> Vec<String> {
    match kind {
        CaptureKind::Check => CheckState::ALL.iter().map(|s| s.label().into()).collect(),
        CaptureKind::Choice { options } => options.iter().map(|o| o.label.clone()).collect(),
        CaptureKind::Signoff => vec![match operator {
            Some(name) => format!("Sign off as {name}"),
            None => "Sign off".into(),
        }],
        CaptureKind::Photo => vec!["Take photo".into()],
        CaptureKind::Number(_) | CaptureKind::Text { .. } => Vec::new(),
    }
}

/// Why a button or a typed entry gave no answer: shown on the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// There is no such button here (nothing happens, nothing is said).
    NoSuchButton,
    /// Said to the operator.
    Refused(String),
}

/// The answer of button `index` of `kind`.
pub fn answer_at(
    kind: &CaptureKind,
    index: usize,
    operator: Option<&str>,
) -> Result<Answer, NoAnswer> {
    match kind {
        CaptureKind::Check => CheckState::ALL
            .get(index)
            .map(|&state| Answer::Check { state })
            .ok_or(NoAnswer::NoSuchButton),
        CaptureKind::Choice { options } => options
            .get(index)
            .map(|ChoiceOption { label, .. }| Answer::Choice {
                option: index,
                label: label.clone(),
            })
            .ok_or(NoAnswer::NoSuchButton),
        CaptureKind::Signoff if index == 0 => match operator {
            Some(name) => Ok(Answer::Signoff { name: name.into() }),
            None => Err(NoAnswer::Refused(SIGNOFF_NEEDS_USER.into())),
        },
        _ => Err(NoAnswer::NoSuchButton),
    }
}

/// A sign-off names someone: without a signed-in user there is no one to name.
pub const SIGNOFF_NEEDS_USER: &str =
    "A sign-off needs a signed-in user: sign in with `hologuide login` to sign off.";

/// The answer typed on the keypad for `kind`: a number within its format, or a text within its
/// length.
pub fn typed_answer(kind: &CaptureKind, typed: &str) -> Result<Answer, NoAnswer> {
    match kind {
        CaptureKind::Number(number) => number_answer(number, typed),
        CaptureKind::Text { max_length } => {
            let text = typed.trim();
            let length = text.chars().count();
            if text.is_empty() {
                Err(NoAnswer::Refused("Type the answer first.".into()))
            } else if length > *max_length as usize {
                Err(NoAnswer::Refused(format!(
                    "At most {max_length} characters here; this has {length}."
                )))
            } else {
                Ok(Answer::Text { text: text.into() })
            }
        }
        _ => Err(NoAnswer::NoSuchButton),
    }
}

fn number_answer(number: &NumberCapture, typed: &str) -> Result<Answer, NoAnswer> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(NoAnswer::Refused("Type the value first.".into()));
    }
    let value = typed
        .parse::<f64>()
        .ok()
        .filter(|v| {
            v.is_finite()
                && typed
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        })
        .ok_or_else(|| NoAnswer::Refused(format!("{typed:?} is not a number.")))?;
    let scale = 10f64.powi(i32::from(number.decimals.min(9)));
    let value = (value * scale).round() / scale;
    Ok(Answer::Number {
        value,
        unit: number.unit.clone(),
        within_limits: number.within_limits(value),
    })
}

/// Which keys the keypad of a capture has: digits for a number, letters for a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    Digits,
    Letters,
}

impl Keys {
    pub fn of(kind: &CaptureKind) -> Option<Self> {
        match kind {
            CaptureKind::Number(_) => Some(Self::Digits),
            CaptureKind::Text { .. } => Some(Self::Letters),
            _ => None,
        }
    }

    /// The keys in rows, as the keypad lays them out (Erase and OK come after).
    pub fn rows(self) -> &'static [&'static str] {
        match self {
            Self::Digits => &["789", "456", "123", "-0."],
            Self::Letters => &["1234567890", "QWERTYUIOP", "ASDFGHJKL-", "ZXCVBNM,./"],
        }
    }

    /// Whether `c` is one of the keys (a script or a keyboard types it).
    pub fn has(self, c: char) -> bool {
        match self {
            Self::Digits => c.is_ascii_digit() || c == '.' || c == '-',
            // A keyboard types what the keypad cannot (lower case, punctuation): any printable.
            Self::Letters => !c.is_control(),
        }
    }
}
