//! The decoder's field plumbing: typed reads of JSON values that record a problem, with its
//! path, instead of stopping.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{Decoder, Fields, limits};
use crate::guide::link::is_valid_org_slug;
use crate::guide::problem::{JsonPath, Rule};

impl Decoder<'_> {
    pub(super) fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &JsonPath,
        allowed: &[&str],
    ) -> Option<Fields<'v>> {
        let Value::Object(object) = value else {
            self.wrong_type(value, path, "an object");
            return None;
        };
        for key in object.keys() {
            if !allowed.contains(&key.as_str()) {
                self.problems.warning(
                    Rule::UnknownField,
                    path.key(key),
                    format!("unknown field '{key}' is ignored"),
                );
            }
        }
        Some(Fields {
            object,
            path: path.clone(),
        })
    }

    pub(super) fn required<T>(
        &mut self,
        fields: &Fields<'_>,
        key: &str,
        decode: impl FnOnce(&mut Self, &Value, &JsonPath) -> Option<T>,
    ) -> Option<T> {
        match fields.object.get(key) {
            Some(value) => decode(self, value, &fields.path.key(key)),
            None => {
                self.problems.error(
                    Rule::MissingField,
                    fields.path.key(key),
                    format!("required field '{key}' is missing"),
                );
                None
            }
        }
    }

    pub(super) fn optional<T>(
        &mut self,
        fields: &Fields<'_>,
        key: &str,
        decode: impl FnOnce(&mut Self, &Value, &JsonPath) -> Option<T>,
    ) -> Option<T> {
        match fields.object.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => decode(self, value, &fields.path.key(key)),
        }
    }

    pub(super) fn array<T>(
        &mut self,
        value: &Value,
        path: &JsonPath,
        max_len: usize,
        mut element: impl FnMut(&mut Self, &Value, &JsonPath) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Value::Array(items) = value else {
            self.wrong_type(value, path, "an array");
            return None;
        };
        if items.len() > max_len {
            self.problems.error(
                Rule::OutOfRange,
                path,
                format!("{} entries; at most {max_len} are allowed", items.len()),
            );
            return None;
        }
        // Elements that fail are dropped after their problems are recorded, so that rules across
        // the whole guide still run on the rest; the guide as a whole is refused anyway.
        Some(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| element(self, item, &path.index(i)))
                .collect(),
        )
    }

    pub(super) fn string(&mut self, value: &Value, path: &JsonPath) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong_type(other, path, "a string");
                None
            }
        }
    }

    /// Text shown to operators: not blank, no longer than `max` characters, and a warning
    /// past `comfortable` because it will not fit a card without scrolling.
    pub(super) fn text(
        &mut self,
        value: &Value,
        path: &JsonPath,
        max: usize,
        comfortable: Option<usize>,
    ) -> Option<String> {
        let text = self.string(value, path)?;
        let chars = text.chars().count();
        if chars > max {
            self.problems.error(
                Rule::TooLong,
                path,
                format!("{chars} characters; at most {max} are allowed"),
            );
            return None;
        }
        if let Some(comfortable) = comfortable.filter(|c| chars > *c) {
            self.problems.warning(
                Rule::TooLong,
                path,
                format!("{chars} characters will not fit on a step card (about {comfortable} do); split the step"),
            );
        }
        Some(text)
    }

    pub(super) fn title(&mut self, value: &Value, path: &JsonPath) -> Option<String> {
        let title = self.text(
            value,
            path,
            limits::TITLE_CHARS,
            Some(limits::TITLE_CHARS_COMFORTABLE),
        )?;
        if title.trim().is_empty() {
            self.problems
                .error(Rule::Empty, path, "a title cannot be blank");
            return None;
        }
        Some(title)
    }

    pub(super) fn id(&mut self, value: &Value, path: &JsonPath) -> Option<String> {
        let id = self.string(value, path)?;
        if !is_valid_id(&id) {
            self.problems.error(
                Rule::InvalidValue,
                path,
                format!(
                    "id '{id}' must be 1–{} characters of A–Z, a–z, 0–9, '-' or '_'",
                    limits::ID_CHARS
                ),
            );
            return None;
        }
        Some(id)
    }

    pub(super) fn uuid(&mut self, value: &Value, path: &JsonPath) -> Option<Uuid> {
        let text = self.string(value, path)?;
        match Uuid::try_parse(&text) {
            Ok(id) if !id.is_nil() => Some(id),
            _ => {
                self.problems.error(
                    Rule::InvalidValue,
                    path,
                    format!("'{text}' is not a UUID (like 6f1c2e4a-8b3d-4c5e-9f7a-1b2c3d4e5f60)"),
                );
                None
            }
        }
    }

    pub(super) fn organisation(&mut self, value: &Value, path: &JsonPath) -> Option<String> {
        let slug = self.string(value, path)?;
        if !is_valid_org_slug(&slug) {
            self.problems.error(
                Rule::InvalidValue,
                path,
                format!("organisation '{slug}' must be 1–63 characters of a–z, 0–9 and '-', not starting or ending with '-'"),
            );
            return None;
        }
        Some(slug)
    }

    pub(super) fn timestamp(&mut self, value: &Value, path: &JsonPath) -> Option<OffsetDateTime> {
        let text = self.string(value, path)?;
        match OffsetDateTime::parse(&text, &Rfc3339) {
            Ok(t) => Some(t),
            Err(e) => {
                self.problems.error(
                    Rule::InvalidValue,
                    path,
                    format!(
                        "'{text}' is not an RFC 3339 timestamp like 2026-11-25T09:30:00Z ({e})"
                    ),
                );
                None
            }
        }
    }

    pub(super) fn unsigned(&mut self, value: &Value, path: &JsonPath) -> Option<u64> {
        match value.as_u64() {
            Some(n) => Some(n),
            None => {
                self.wrong_type(value, path, "a whole number ≥ 0");
                None
            }
        }
    }

    /// A JSON number that is still finite once narrowed to the `f32` the renderer uses.
    pub(super) fn float(&mut self, value: &Value, path: &JsonPath) -> Option<f32> {
        let Some(wide) = value.as_f64() else {
            self.wrong_type(value, path, "a number");
            return None;
        };
        let narrow = wide as f32;
        if !narrow.is_finite() {
            self.problems.error(
                Rule::NonFinite,
                path,
                format!("{wide} is not a finite 32-bit number"),
            );
            return None;
        }
        Some(narrow)
    }

    pub(super) fn number_in(
        &mut self,
        value: &Value,
        path: &JsonPath,
        min: f32,
        max: f32,
        unit: &str,
    ) -> Option<f32> {
        let n = self.float(value, path)?;
        if !(min..=max).contains(&n) {
            self.problems.error(
                Rule::OutOfRange,
                path,
                format!("{n} {unit} is outside {min}–{max} {unit}"),
            );
            return None;
        }
        Some(n)
    }

    pub(super) fn floats<const N: usize>(
        &mut self,
        value: &Value,
        path: &JsonPath,
    ) -> Option<[f32; N]> {
        let items = match value {
            Value::Array(items) if items.len() == N => items,
            other => {
                self.wrong_type(other, path, &format!("an array of {N} numbers"));
                return None;
            }
        };
        let decoded: Vec<Option<f32>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.float(item, &path.index(i)))
            .collect();
        let decoded: Option<Vec<f32>> = decoded.into_iter().collect();
        decoded.and_then(|v| v.try_into().ok())
    }

    pub(super) fn wrong_type(&mut self, value: &Value, path: &JsonPath, expected: &str) {
        let found = match value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        self.problems.error(
            Rule::WrongType,
            path,
            format!("expected {expected}, found {found}"),
        );
    }
}

/// The rule for every id in a guide (tasks, steps, anchors), and for an anchor named by a link.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= limits::ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
