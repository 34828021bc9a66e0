//! Telemetry and step results uploaded by devices.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::{ApiError, ApiJson, AppState};
use crate::service::model::{Caller, IngestOutcome, StepResult, TelemetryEvent};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryBatch {
    events: Vec<TelemetryEvent>,
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
            .run(move |s| s.ingest_telemetry(&caller, &batch.events))
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
