//! Telemetry and step results uploaded by devices.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::{ApiError, ApiJson, AppState};
use crate::service::model::{Caller, IngestOutcome, StepResult, TelemetryEvent, TelemetrySummary};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryBatch {
    #[serde(default)]
    events: Vec<TelemetryEvent>,
    /// Folded app sessions (F9); absent from devices that have none to send.
    #[serde(default)]
    summaries: Vec<TelemetrySummary>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBatch {
    results: Vec<StepResult>,
}

pub async fn telemetry(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(batch): ApiJson<TelemetryBatch>,
) -> Result<Json<IngestOutcome>, ApiError> {
    Ok(Json(
        state
            .run(move |s| {
                let mut outcome = s.ingest_telemetry(&caller, &batch.events)?;
                let summaries = s.ingest_summaries(&caller, &batch.summaries)?;
                outcome.accepted.extend(summaries.accepted);
                outcome.duplicates.extend(summaries.duplicates);
                outcome.rejected.extend(summaries.rejected);
                Ok(outcome)
            })
            .await?,
    ))
}

pub async fn results(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(batch): ApiJson<ResultBatch>,
) -> Result<Json<IngestOutcome>, ApiError> {
    Ok(Json(
        state
            .run(move |s| s.ingest_results(&caller, &batch.results))
            .await?,
    ))
}

pub async fn my_results(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<StepResult>>, ApiError> {
    Ok(Json(state.run(move |s| s.results_of(&caller)).await?))
}
