//! Decoding a step's `capture` (schema version 2, N6) and the flow rules of branching guides.

use serde_json::Value;

use super::{Decoder, limits};
use crate::guide::capture::{Capture, CaptureKind, ChoiceOption, Flow, NumberCapture};
use crate::guide::model::Task;
use crate::guide::problem::{JsonPath, Rule};

const KINDS: &str = "check, choice, number, text, photo or signoff";

impl Decoder<'_> {
    pub(super) fn capture(&mut self, value: &Value, path: &JsonPath) -> Option<Capture> {
        if self.schema_version < 2 {
            self.problems.error(
                Rule::CaptureNeedsSchema2,
                path,
                "a step records answers ('capture') from schema version 2; set \"schema_version\": 2",
            );
            return None;
        }
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let allowed: &[&str] = match kind {
            "choice" => &["kind", "required", "options"],
            "number" => &[
                "kind",
                "required",
                "unit",
                "min",
                "max",
                "decimals",
                "on_out_of_limits",
            ],
            "text" => &["kind", "required", "max_length"],
            _ => &["kind", "required"],
        };
        let fields = self.object(value, path, allowed)?;
        let kind_path = fields.path.key("kind");
        let named = self.required(&fields, "kind", Self::string)?;
        let required = self
            .optional(&fields, "required", |d, v, p| match v {
                Value::Bool(b) => Some(*b),
                other => {
                    d.wrong_type(other, p, "true or false");
                    None
                }
            })
            .unwrap_or(false);
        let kind = match named.as_str() {
            "check" => CaptureKind::Check,
            "photo" => CaptureKind::Photo,
            "signoff" => CaptureKind::Signoff,
            "choice" => {
                let options = self.required(&fields, "options", |d, v, p| {
                    d.array(v, p, limits::CHOICE_OPTIONS.1, Self::choice_option)
                })?;
                let count = fields
                    .object
                    .get("options")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let (least, most) = limits::CHOICE_OPTIONS;
                if !(least..=most).contains(&count) {
                    self.problems.error(
                        Rule::OutOfRange,
                        fields.path.key("options"),
                        format!("a choice has {least} to {most} options, not {count}"),
                    );
                    return None;
                }
                CaptureKind::Choice { options }
            }
            "number" => CaptureKind::Number(self.number_capture(&fields)?),
            "text" => {
                let max_length = self
                    .optional(&fields, "max_length", Self::unsigned)
                    .unwrap_or(limits::TEXT_ANSWER_CHARS.1);
                let (least, most) = limits::TEXT_ANSWER_CHARS;
                if !(least..=most).contains(&max_length) {
                    self.problems.error(
                        Rule::OutOfRange,
                        fields.path.key("max_length"),
                        format!("max_length is {least} to {most} characters, not {max_length}"),
                    );
                    return None;
                }
                CaptureKind::Text {
                    max_length: max_length as u32,
                }
            }
            other => {
                self.problems.error(
                    Rule::InvalidValue,
                    kind_path,
                    format!("'{other}' is no kind of capture; a capture is a {KINDS}"),
                );
                return None;
            }
        };
        Some(Capture { kind, required })
    }

    fn choice_option(&mut self, value: &Value, path: &JsonPath) -> Option<ChoiceOption> {
        let fields = self.object(value, path, &["label", "goto"])?;
        let label = self.required(&fields, "label", Self::title);
        let goto = self.optional(&fields, "goto", Self::id);
        if let Some(goto) = &goto {
            self.step_references.push((goto.clone(), path.key("goto")));
        }
        Some(ChoiceOption {
            label: label?,
            goto,
        })
    }

    fn number_capture(&mut self, fields: &super::Fields<'_>) -> Option<NumberCapture> {
        let unit = self.required(fields, "unit", |d, v, p| {
            d.text(v, p, limits::UNIT_CHARS, None)
        });
        let limit = |d: &mut Self, v: &Value, p: &JsonPath| {
            let n = v.as_f64();
            match n {
                Some(n) if n.is_finite() => Some(n),
                _ => {
                    d.wrong_type(v, p, "a finite number");
                    None
                }
            }
        };
        let min = self.optional(fields, "min", limit);
        let max = self.optional(fields, "max", limit);
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            self.problems.error(
                Rule::OutOfRange,
                fields.path.key("min"),
                format!("min {min} is above max {max}"),
            );
            return None;
        }
        let decimals = self
            .optional(fields, "decimals", Self::unsigned)
            .unwrap_or(0);
        if decimals > limits::DECIMALS {
            self.problems.error(
                Rule::OutOfRange,
                fields.path.key("decimals"),
                format!("at most {} decimals, not {decimals}", limits::DECIMALS),
            );
            return None;
        }
        let on_out_of_limits = self
            .optional(fields, "on_out_of_limits", |d, v, p| {
                d.text(v, p, limits::TITLE_CHARS * 2, None)
            })
            .unwrap_or_default();
        if !on_out_of_limits.is_empty() && min.is_none() && max.is_none() {
            self.problems.warning(
                Rule::InvalidValue,
                fields.path.key("on_out_of_limits"),
                "this text is never shown: the number has no min or max",
            );
        }
        Some(NumberCapture {
            unit: unit?,
            min,
            max,
            decimals: decimals as u8,
            on_out_of_limits,
        })
    }

    /// N6's flow rules once every step is known: a `goto` names a step; every step can be
    /// reached from the first; from every step the end can be reached.
    pub(super) fn check_flow(&mut self, tasks: &[Task], path: &JsonPath) {
        let references = std::mem::take(&mut self.step_references);
        let ids: Vec<&str> = tasks
            .iter()
            .flat_map(|t| &t.steps)
            .map(|s| s.id.as_str())
            .collect();
        for (goto, reference) in &references {
            if !ids.contains(&goto.as_str()) {
                self.problems.error(
                    Rule::UnknownStep,
                    reference,
                    format!("no step has the id '{goto}'"),
                );
            }
        }
        if references.is_empty() {
            return;
        }
        let flow = Flow::of_tasks(tasks);
        let step_path = |index: usize| {
            let mut at = index;
            for (t, task) in tasks.iter().enumerate() {
                if at < task.steps.len() {
                    return path.key("tasks").index(t).key("steps").index(at);
                }
                at -= task.steps.len();
            }
            path.key("tasks")
        };
        for index in flow.unreachable() {
            self.problems.error(
                Rule::UnreachableStep,
                step_path(index),
                format!(
                    "step '{}' cannot be reached: every path from the first step branches past it",
                    ids[index]
                ),
            );
        }
        // Reported at the branches: a loop with no way out always goes through a choice.
        let branches: Vec<usize> = tasks
            .iter()
            .flat_map(|t| &t.steps)
            .enumerate()
            .filter(|(_, s)| {
                matches!(
                    s.capture.as_ref().map(|c| &c.kind),
                    Some(CaptureKind::Choice { .. })
                )
            })
            .map(|(i, _)| i)
            .collect();
        for index in flow
            .dead_ends()
            .into_iter()
            .filter(|i| branches.contains(i))
        {
            self.problems.error(
                Rule::DeadEndBranch,
                step_path(index),
                format!(
                    "from the branch at step '{}' the guide can never end: every answer leads back",
                    ids[index]
                ),
            );
        }
    }
}
