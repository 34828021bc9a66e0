//! Sign-in, refresh, sign-out, the signed-in user and their profile manifest.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, ApiJson, AppState};
use crate::service::error::ServiceError;
use crate::service::model::{Caller, Me, ProfileManifest, SessionTokens};
use crate::service::secrets::sha256_hex;

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

/// The client's address counts in the sign-in throttle (behind a reverse proxy, every client
/// has the proxy's address: forwarded headers are not trusted, anyone can write them).
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<(StatusCode, Json<SessionTokens>), ApiError> {
    let tokens = state
        .run(move |s| s.sign_in(&body.username, &body.password, &body.device_id, peer.ip()))
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

/// The manifest with an ETag over its content: a device polling with `If-None-Match` gets a
/// body-less 304 until something it should hold changes (S7).
pub async fn profile_manifest(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let manifest: ProfileManifest = state.run(move |s| s.profile_manifest(&caller)).await?;
    let body = serde_json::to_vec(&manifest)
        .map_err(|e| ApiError(ServiceError::Internal(format!("writing JSON: {e}"))))?;
    let etag = format!("\"{}\"", sha256_hex(&body));
    let etag_value = HeaderValue::from_str(&etag)
        .map_err(|e| ApiError(ServiceError::Internal(format!("ETag: {e}"))))?;
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (header::ETAG, etag_value),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response())
}
