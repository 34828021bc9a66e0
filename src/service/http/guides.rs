//! Guides: list, latest metadata, version manifests, links, and publishing a package.

use std::path::PathBuf;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use super::{ApiError, ApiPath, AppState, guide_id};
use crate::service::core::{LinkTarget, PackageOrigin};
use crate::service::error::ServiceError;
use crate::service::model::{Caller, GuideSummary, ServedManifest, VersionManifest};

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<GuideSummary>>, ApiError> {
    Ok(Json(state.run(move |s| s.guides_for(&caller)).await?))
}

pub async fn latest(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GuideSummary>, ApiError> {
    let id = guide_id(&id)?;
    Ok(Json(state.run(move |s| s.guide_for(&caller, id)).await?))
}

pub async fn manifest(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, version)): ApiPath<(String, String)>,
) -> Result<Json<ServedManifest>, ApiError> {
    let id = guide_id(&id)?;
    let version: u32 = version.parse().map_err(|_| {
        ApiError(ServiceError::NotFound(format!(
            "'{}' is not a version number",
            version.chars().take(20).collect::<String>()
        )))
    })?;
    Ok(Json(
        state
            .run(move |s| s.served_manifest(&caller, id, version))
            .await?,
    ))
}

pub async fn resolve_link(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((organisation, id)): ApiPath<(String, String)>,
) -> Result<Json<LinkTarget>, ApiError> {
    let id = guide_id(&id)?;
    Ok(Json(
        state
            .run(move |s| s.resolve_link(&caller, &organisation, id))
            .await?,
    ))
}

/// An upload in progress on disk; removed however the request ends.
struct TemporaryFile(PathBuf);

impl Drop for TemporaryFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `POST /v1/guides` with a zip archive of the package as the body. The body is streamed to a
/// temporary file and refused as soon as it passes the configured limit.
pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<VersionManifest>), ApiError> {
    if !caller.user.role.may_publish() {
        return Err(ApiError(ServiceError::Forbidden(format!(
            "the user '{}' is an {} and may not publish guides; authors and admins may",
            caller.user.username, caller.user.role
        ))));
    }
    let limit = state.service.config().max_upload_bytes;
    let too_large = || {
        ApiError(ServiceError::TooLarge(format!(
            "the guide package is larger than this service accepts ({limit} bytes)"
        )))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let upload = TemporaryFile(
        state
            .service
            .blobs()
            .temporary_dir()
            .join(format!("upload-{}.zip", uuid::Uuid::new_v4())),
    );
    let io_error = |what: &'static str| move |e| ApiError(ServiceError::io(what)(e));
    let mut file = tokio::fs::File::create(&upload.0)
        .await
        .map_err(io_error("creating an upload file"))?;
    let mut body = body;
    let mut received: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| ApiError(ServiceError::Invalid(format!("the upload broke off: {e}"))))?;
        if let Ok(data) = frame.into_data() {
            received += data.len() as u64;
            if received > limit {
                return Err(too_large());
            }
            file.write_all(&data)
                .await
                .map_err(io_error("writing an upload file"))?;
        }
    }
    file.sync_all()
        .await
        .map_err(io_error("writing an upload file"))?;
    drop(file);
    let path = upload.0.clone();
    let manifest = state
        .run(move |s| s.publish(&path, PackageOrigin::Upload, &caller.user))
        .await?;
    drop(upload);
    Ok((StatusCode::CREATED, Json(manifest)))
}
