//! Admin endpoints: users, permissions (F14), deactivation (F13), tags, offline profiles (S1–S4).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::{AdminCaller, ApiError, ApiJson, AppState, guide_id};
use crate::service::error::ServiceError;
use crate::service::model::{GuideSummary, Principal, Profile, ProfileSpec, Role, User};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    username: String,
    password: String,
    role: Role,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tags {
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    username: String,
}

pub async fn users(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.run(|s| s.users()).await?))
}

pub async fn add_user(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(body): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = state
        .run(move |s| s.add_user(&body.username, &body.password, body.role, &body.groups))
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

pub async fn deactivate(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<GuideSummary>, ApiError> {
    let id = guide_id(&id)?;
    Ok(Json(state.run(move |s| s.set_active(id, false)).await?))
}

pub async fn reactivate(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<GuideSummary>, ApiError> {
    let id = guide_id(&id)?;
    Ok(Json(state.run(move |s| s.set_active(id, true)).await?))
}

pub async fn set_tags(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Tags>,
) -> Result<Json<GuideSummary>, ApiError> {
    let id = guide_id(&id)?;
    Ok(Json(state.run(move |s| s.set_tags(id, &body.tags)).await?))
}

pub async fn grants(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Principal>>, ApiError> {
    let id = guide_id(&id)?;
    Ok(Json(state.run(move |s| s.grants(id)).await?))
}

pub async fn grant(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(id): Path<String>,
    ApiJson(to): ApiJson<Principal>,
) -> Result<Json<Vec<Principal>>, ApiError> {
    let id = guide_id(&id)?;
    Ok(Json(state.run(move |s| s.grant(id, &to)).await?))
}

pub async fn revoke(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path((id, kind, name)): Path<(String, String, String)>,
) -> Result<Json<Vec<Principal>>, ApiError> {
    let id = guide_id(&id)?;
    let from = match kind.as_str() {
        "user" => Principal::User(name),
        "group" => Principal::Group(name),
        _ => {
            return Err(ApiError(ServiceError::NotFound(
                "permissions are held by a 'user' or a 'group'".into(),
            )));
        }
    };
    Ok(Json(state.run(move |s| s.revoke(id, &from)).await?))
}

pub async fn profiles(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Vec<Profile>>, ApiError> {
    Ok(Json(state.run(|s| s.profiles()).await?))
}

pub async fn create_profile(
    State(state): State<AppState>,
    _admin: AdminCaller,
    ApiJson(spec): ApiJson<ProfileSpec>,
) -> Result<(StatusCode, Json<Profile>), ApiError> {
    let profile = state.run(move |s| s.create_profile(&spec)).await?;
    Ok((StatusCode::CREATED, Json(profile)))
}

pub async fn profile(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(state.run(move |s| s.profile(&name)).await?))
}

pub async fn update_profile(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
    ApiJson(spec): ApiJson<ProfileSpec>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(
        state.run(move |s| s.update_profile(&name, &spec)).await?,
    ))
}

pub async fn delete_profile(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.run(move |s| s.delete_profile(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_member(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(name): Path<String>,
    ApiJson(member): ApiJson<Member>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(
        state
            .run(move |s| s.add_profile_member(&name, &member.username))
            .await?,
    ))
}

pub async fn remove_member(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path((name, username)): Path<(String, String)>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(
        state
            .run(move |s| s.remove_profile_member(&name, &username))
            .await?,
    ))
}
