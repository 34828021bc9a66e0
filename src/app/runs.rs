//! N6 reports: a guide's runs rebuilt from the answer records kept on the device, the final
//! answer of each step with the ones it corrected. Pure: the records come in as values.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::answers::Answer;

/// Where a record stands with the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum RecordStatus {
    /// Kept here until the next contact.
    Waiting,
    Sent,
    /// The service refused it, with its reason (S6).
    Rejected(String),
}

/// One answer record as the device keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Uuid,
    pub guide_id: Uuid,
    pub step_id: String,
    pub at: OffsetDateTime,
    /// `{"kind": …, "run": …, "supersedes": …}` as the app wrote it.
    pub value: Value,
    pub status: RecordStatus,
}

/// A step's final answer in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinalAnswer {
    pub step_id: String,
    pub answer: String,
    /// A measured value outside the step's limits (N6: flagged in reports and exports).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub out_of_limits: bool,
    /// A photo's SHA-256, by which the service gives it (`GET /v1/photos/{sha256}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
    /// Earlier answers it corrected, oldest first.
    pub corrected: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(flatten)]
    pub status: RecordStatus,
}

/// One run of one guide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    pub run: String,
    pub guide_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    pub answers: Vec<FinalAnswer>,
}

/// What an answer record says, for people ("Fine", "Done", "26.5 N·m"), the app's own words;
/// a record of another shape is shown as it is.
fn label(value: &Value) -> String {
    serde_json::from_value::<Answer>(value.clone())
        .map_or_else(|_| value.to_string(), |answer| answer.label())
}

/// The digest of the photo a photo answer names.
fn photo(value: &Value) -> Option<String> {
    match serde_json::from_value::<Answer>(value.clone()) {
        Ok(Answer::Photo { sha256, .. }) => Some(sha256),
        _ => None,
    }
}

/// A number the record itself says is outside its step's limits (the service checked the
/// verdict against the guide before it took the record).
fn out_of_limits(value: &Value) -> bool {
    value.get("within_limits").and_then(Value::as_bool) == Some(false)
}

/// The runs in `records` (those with a run id), oldest first; in each, every answered step's
/// final answer — the record no later one supersedes — with what it corrected.
pub fn rebuild(records: &[Record]) -> Vec<RunReport> {
    let superseded: HashSet<String> = records
        .iter()
        .filter_map(|r| r.value.get("supersedes").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let mut runs: BTreeMap<(OffsetDateTime, String), RunReport> = BTreeMap::new();
    let mut starts: BTreeMap<String, (OffsetDateTime, Uuid)> = BTreeMap::new();
    for record in records {
        let Some(run) = record.value.get("run").and_then(Value::as_str) else {
            continue;
        };
        let start = starts
            .entry(run.to_owned())
            .or_insert((record.at, record.guide_id));
        start.0 = start.0.min(record.at);
    }
    for (run, (started_at, guide_id)) in &starts {
        runs.insert(
            (*started_at, run.clone()),
            RunReport {
                run: run.clone(),
                guide_id: *guide_id,
                started_at: *started_at,
                answers: Vec::new(),
            },
        );
    }
    for record in records {
        let Some(run) = record.value.get("run").and_then(Value::as_str) else {
            continue;
        };
        if superseded.contains(&record.id.to_string()) {
            continue;
        }
        // Walk back along what this record corrected.
        let mut corrected = Vec::new();
        let mut previous = record.value.get("supersedes").and_then(Value::as_str);
        while let Some(id) = previous {
            let Some(earlier) = records.iter().find(|r| r.id.to_string() == id) else {
                break;
            };
            corrected.insert(0, label(&earlier.value));
            previous = earlier.value.get("supersedes").and_then(Value::as_str);
        }
        let Some((started_at, _)) = starts.get(run) else {
            continue;
        };
        if let Some(report) = runs.get_mut(&(*started_at, run.to_owned())) {
            report.answers.push(FinalAnswer {
                step_id: record.step_id.clone(),
                answer: label(&record.value),
                out_of_limits: out_of_limits(&record.value),
                photo: photo(&record.value),
                corrected,
                at: record.at,
                status: record.status.clone(),
            });
        }
    }
    runs.into_values().collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    fn record(n: u128, step: &str, value: Value, status: RecordStatus) -> Record {
        Record {
            id: Uuid::from_u128(n),
            guide_id: Uuid::from_u128(99),
            step_id: step.into(),
            at: datetime!(2026-12-07 08:00 UTC) + time::Duration::minutes(n as i64),
            value,
            status,
        }
    }

    #[test]
    fn n6_a_report_rebuilds_the_final_answers_and_keeps_what_they_corrected() {
        let first = Uuid::from_u128(1).to_string();
        let records = [
            record(
                1,
                "s1",
                json!({ "kind": "choice", "option": 0, "label": "Damaged", "run": "r1" }),
                RecordStatus::Sent,
            ),
            record(
                2,
                "s1",
                json!({ "kind": "choice", "option": 1, "label": "Fine", "run": "r1",
                        "supersedes": first }),
                RecordStatus::Waiting,
            ),
            record(
                3,
                "s2",
                json!({ "kind": "check", "state": "not_applicable", "run": "r1" }),
                RecordStatus::Rejected("no access".into()),
            ),
            // A step completion of older builds: no run, not in any report.
            record(4, "s9", json!({ "pressure_bar": 2.5 }), RecordStatus::Sent),
        ];
        let runs = rebuild(&records);
        assert_eq!(runs.len(), 1);
        let answers: Vec<_> = runs[0]
            .answers
            .iter()
            .map(|a| {
                (
                    a.step_id.as_str(),
                    a.answer.as_str(),
                    a.corrected.clone(),
                    a.status.clone(),
                )
            })
            .collect();
        assert_eq!(
            answers,
            vec![
                (
                    "s1",
                    "Fine",
                    vec!["Damaged".to_owned()],
                    RecordStatus::Waiting
                ),
                (
                    "s2",
                    "N/A",
                    vec![],
                    RecordStatus::Rejected("no access".into())
                ),
            ]
        );
        assert_eq!(runs[0].started_at, datetime!(2026-12-07 08:01 UTC));
    }
}
