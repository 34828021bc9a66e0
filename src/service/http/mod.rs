//! The HTTP API (axum). Handlers are thin: extract, call [`Service`] on the blocking pool, turn
//! the answer into JSON. Every error is a JSON body `{"error": code, "message": text}` a device
//! can show as it is; `problems` is added for an invalid guide package.
//!
//! Authentication: `Authorization: Bearer <access token>` from `POST /v1/session`.

mod accounts;
mod admin;
mod blobs;
mod guides;
mod ingest;
mod photos;

/// The JSON request bodies the routes take, nameable outside so the fuzz target (issue 22) reads
/// them through [`ApiJson`] as the routes do.
pub use accounts::{Refresh, SignIn};
pub use admin::{Member, NewUserRequest, Tags};
pub use ingest::{ResultBatch, TelemetryBatch};

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::Service;
use super::error::ServiceError;
use super::model::{Caller, Role};
use super::serve::BodyTooSlow;

/// JSON request bodies (sign-in, telemetry batches, profile edits) are small; packages are
/// uploaded through their own, separately limited, streaming endpoint.
pub const MAX_JSON_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Sign-in and refresh bodies (anyone may send them) hold a name, a password and a device id,
/// or a token: a small bound keeps what an anonymous client can make the service buffer small.
pub const MAX_SESSION_BODY_BYTES: usize = 16 * 1024;

#[derive(Clone)]
pub struct AppState {
    service: Arc<Service>,
}

impl AppState {
    /// Runs service work on the blocking pool: SQLite, file writes and argon2 must not stall the
    /// async workers.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let service = self.service.clone();
        tokio::task::spawn_blocking(move || work(&service))
            .await
            .map_err(|e| ApiError(ServiceError::Internal(format!("a worker failed: {e}"))))?
            .map_err(ApiError)
    }
}

pub fn router(service: Arc<Service>) -> Router {
    let state = AppState { service };
    Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route(
            "/v1/session",
            post(accounts::sign_in)
                .layer(DefaultBodyLimit::max(MAX_SESSION_BODY_BYTES))
                .delete(accounts::sign_out),
        )
        .route(
            "/v1/session/refresh",
            post(accounts::refresh).layer(DefaultBodyLimit::max(MAX_SESSION_BODY_BYTES)),
        )
        .route("/v1/me", get(accounts::me))
        .route("/v1/me/profile/manifest", get(accounts::profile_manifest))
        .route("/v1/me/results", get(ingest::my_results))
        .route("/v1/guides", get(guides::list).post(guides::publish))
        .route("/v1/guides/{id}", get(guides::latest))
        .route("/v1/guides/{id}/versions/{version}", get(guides::manifest))
        .route("/v1/guides/{id}/deactivate", post(admin::deactivate))
        .route("/v1/guides/{id}/reactivate", post(admin::reactivate))
        .route("/v1/guides/{id}/tags", put(admin::set_tags))
        .route(
            "/v1/guides/{id}/permissions",
            get(admin::grants).post(admin::grant),
        )
        .route(
            "/v1/guides/{id}/permissions/{kind}/{name}",
            delete(admin::revoke),
        )
        .route("/v1/blobs/{sha256}", get(blobs::download))
        .route("/v1/links/{org}/g/{id}", get(guides::resolve_link))
        .route("/v1/telemetry", post(ingest::telemetry))
        .route("/v1/results", post(ingest::results))
        .route(
            "/v1/photos/{sha256}",
            put(photos::upload)
                .layer(DefaultBodyLimit::max(crate::service::core::MAX_PHOTO_BYTES))
                .get(photos::download),
        )
        .route("/v1/runs", get(admin::runs))
        .route("/v1/admin/users", get(admin::users).post(admin::add_user))
        .route(
            "/v1/admin/profiles",
            get(admin::profiles).post(admin::create_profile),
        )
        .route(
            "/v1/admin/profiles/{name}",
            get(admin::profile)
                .patch(admin::update_profile)
                .delete(admin::delete_profile),
        )
        .route("/v1/admin/profiles/{name}/members", post(admin::add_member))
        .route(
            "/v1/admin/profiles/{name}/members/{username}",
            delete(admin::remove_member),
        )
        .fallback(|| async {
            ApiError(ServiceError::NotFound(
                "no such endpoint; the API lives under /v1".into(),
            ))
        })
        // Otherwise axum answers 405 with an empty body; devices show every error's message.
        .method_not_allowed_fallback(
            |method: axum::http::Method, uri: axum::http::Uri| async move {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    Json(json!({
                        "error": "method_not_allowed",
                        "message": format!("{} does not take {method}", uri.path()),
                    })),
                )
            },
        )
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY_BYTES))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// One log line per request at `info` (`--log info`): method, path, status, time taken.
/// Query strings and headers are left out: they may carry tokens.
async fn log_request(request: Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        "{method} {path} {} {:.1} ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// A [`ServiceError`] as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        ApiError(error)
    }
}

pub fn status_of(error: &ServiceError) -> StatusCode {
    use super::store::StoreError;
    match error {
        ServiceError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::Gone(_) => StatusCode::GONE,
        ServiceError::NotFound(_) | ServiceError::Store(StoreError::NotFound(_)) => {
            StatusCode::NOT_FOUND
        }
        ServiceError::Conflict(_) | ServiceError::Store(StoreError::Conflict(_)) => {
            StatusCode::CONFLICT
        }
        ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
        ServiceError::InvalidPackage { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ServiceError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
        ServiceError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
        ServiceError::Store(_)
        | ServiceError::Io { .. }
        | ServiceError::SecretKeyFile(_)
        | ServiceError::WrongSecretKey { .. }
        | ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0);
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // The details are for the log, not for whoever sent the request.
            let mut detail = self.0.to_string();
            let mut source = std::error::Error::source(&self.0);
            while let Some(cause) = source {
                detail.push_str(": ");
                detail.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!("{detail}");
            "the service failed to answer; the error is in its log".to_owned()
        } else {
            self.0.to_string()
        };
        let mut body = json!({ "error": self.0.code(), "message": message });
        if let ServiceError::InvalidPackage { problems } = &self.0 {
            body["problems"] = json!(problems);
        }
        let mut response = (status, Json(body)).into_response();
        if let ServiceError::TooManyAttempts { retry_after_secs }
        | ServiceError::Busy {
            retry_after_secs, ..
        } = &self.0
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// `Json<T>` whose refusals (malformed JSON, wrong fields, too large) are JSON errors too.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError(ServiceError::TooLarge(format!(
                    "the request body is larger than {MAX_JSON_BODY_BYTES} bytes \
                     ({MAX_SESSION_BODY_BYTES} for sign-in and refresh)"
                ))))
            }
            Err(rejection) if let Some(slow) = body_too_slow(&rejection) => {
                Err(ApiError(ServiceError::TimedOut(slow)))
            }
            Err(rejection) => Err(ApiError(ServiceError::Invalid(format!(
                "malformed JSON request: {}",
                rejection.body_text()
            )))),
        }
    }
}

/// What the connection's body timeout said, when that is why a body could not be read.
fn body_too_slow(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(slow) = error.downcast_ref::<BodyTooSlow>() {
            return Some(slow.to_string());
        }
        current = error.source();
    }
    None
}

/// `Path<T>` whose refusals (bad percent-encoding, a segment of the wrong type) are JSON errors,
/// as the API promises, instead of axum's plain text.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) if rejection.status().is_server_error() => {
                Err(ApiError(ServiceError::Internal(format!(
                    "reading the request path: {}",
                    rejection.body_text()
                ))))
            }
            Err(rejection) => Err(ApiError(ServiceError::Invalid(format!(
                "malformed request path: {}",
                rejection.body_text()
            )))),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError(ServiceError::unauthorized(
                    "missing_token",
                    "sign in first: this request needs an 'Authorization: Bearer <access token>' header",
                ))
            })?
            .trim()
            .to_owned();
        state.run(move |service| service.authenticate(&token)).await
    }
}

/// The caller, who must be an admin.
pub struct AdminCaller(pub Caller);

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.user.role != Role::Admin {
            return Err(ApiError(ServiceError::Forbidden(
                "only an admin may do this".into(),
            )));
        }
        Ok(AdminCaller(caller))
    }
}

/// A guide id from the path; anything else is a guide that does not exist.
fn guide_id(text: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text).map_err(|_| {
        ApiError(ServiceError::NotFound(format!(
            "'{}' is not a guide id (a UUID)",
            text.chars().take(80).collect::<String>()
        )))
    })
}
