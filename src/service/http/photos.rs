//! `PUT /v1/photos/{sha256}` (a device sends a photo an answer names) and
//! `GET /v1/photos/{sha256}` (its sender or an admin of its organisation reads it back), N6.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiPath, AppState};
use crate::service::model::Caller;

pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(sha256): ApiPath<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    state
        .run(move |s| s.put_photo(&caller, &sha256, body.to_vec()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(sha256): ApiPath<String>,
) -> Result<Response, ApiError> {
    let jpeg = state.run(move |s| s.photo_for(&caller, &sha256)).await?;
    let mut response = jpeg.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    // Named by its content: the bytes behind this URL never change.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    Ok(response)
}
