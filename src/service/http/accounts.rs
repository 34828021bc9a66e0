//! Sign-in, refresh, sign-out, the signed-in user and their profile manifest.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiError, ApiJson, AppState};
use crate::service::model::{Caller, Me, ProfileManifest, SessionTokens};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
    /// The device's own id; the service records (user, device) pairs (F6).
    device_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    refresh_token: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<(StatusCode, Json<SessionTokens>), ApiError> {
    let tokens = state
        .run(move |s| s.sign_in(&body.username, &body.password, &body.device_id))
        .await?;
    Ok((StatusCode::CREATED, Json(tokens)))
}

pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Refresh>,
) -> Result<Json<SessionTokens>, ApiError> {
    Ok(Json(
        state.run(move |s| s.refresh(&body.refresh_token)).await?,
    ))
}

pub async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    state.run(move |s| s.sign_out(&caller)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    Ok(Json(state.run(move |s| s.me(&caller)).await?))
}

pub async fn profile_manifest(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ProfileManifest>, ApiError> {
    Ok(Json(state.run(move |s| s.profile_manifest(&caller)).await?))
}
