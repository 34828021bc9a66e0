//! Guide runs for audits (N6): every answer recorded for a guide, grouped by run, each step's
//! final answer with what it corrected, and who recorded it on which device. The grouping is
//! the device's own (`app::runs::rebuild`): one rule for both.

use std::collections::HashMap;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Service;
use crate::app::runs::{Record, RecordStatus, RunReport, rebuild};
use crate::service::error::ServiceError;
use crate::service::model::Scope;

/// One run of a guide as the service holds it.
#[derive(Debug, Clone, Serialize)]
pub struct RunExport {
    pub username: String,
    pub device_id: String,
    #[serde(flatten)]
    pub run: RunReport,
}

impl Service {
    /// `GET /v1/runs?guide=…`, `hologuide-server runs export`: the runs of `guide` (a guide of
    /// `scope`) with answers recorded from `since` on, oldest first.
    pub fn runs_of_guide(
        &self,
        scope: &Scope,
        guide: Uuid,
        since: Option<OffsetDateTime>,
    ) -> Result<Vec<RunExport>, ServiceError> {
        self.existing_guide(scope, guide)?;
        let results = self.store.results_of_guide(guide, since)?;
        let records: Vec<Record> = results
            .iter()
            .filter_map(|r| {
                Some(Record {
                    id: r.result.id,
                    guide_id: guide,
                    step_id: r.result.step_id.clone(),
                    at: r.result.completed_at,
                    value: r.result.value.clone()?,
                    status: RecordStatus::Sent,
                })
            })
            .collect();
        // Who answered in each run: the first record of the run names them.
        let mut by_run: HashMap<&str, (&str, &str)> = HashMap::new();
        for r in &results {
            if let Some(run) = r.result.value.as_ref().and_then(|v| v.get("run")?.as_str()) {
                by_run
                    .entry(run)
                    .or_insert((r.username.as_str(), r.device_id.as_str()));
            }
        }
        Ok(rebuild(&records)
            .into_iter()
            .map(|run| {
                let (username, device_id) =
                    by_run.get(run.run.as_str()).copied().unwrap_or_default();
                RunExport {
                    username: username.to_owned(),
                    device_id: device_id.to_owned(),
                    run,
                }
            })
            .collect())
    }
}

/// The runs as CSV, one row per final answer: what an auditor opens in a spreadsheet.
pub fn runs_csv(runs: &[RunExport]) -> String {
    let mut csv = String::from(
        "run,user,device,started_at,step_id,answer,out_of_limits,corrected_from,answered_at,photo_sha256\n",
    );
    let time = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    for export in runs {
        for answer in &export.run.answers {
            let fields = [
                export.run.run.clone(),
                export.username.clone(),
                export.device_id.clone(),
                time(export.run.started_at),
                answer.step_id.clone(),
                answer.answer.clone(),
                if answer.out_of_limits { "yes" } else { "" }.to_owned(),
                answer.corrected.join(" > "),
                time(answer.at),
                answer.photo.clone().unwrap_or_default(),
            ];
            let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
    }
    csv
}

/// RFC 4180 quoting; a leading formula character is defused, as spreadsheets would run it.
fn csv_field(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Fine"), "Fine");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
