//! Admin endpoints: users, permissions (F14), deactivation (F13), tags, offline profiles (S1–S4).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::{AdminCaller, ApiError, ApiJson, ApiPath, AppState, guide_id};
use crate::service::Membership;
use crate::service::error::ServiceError;
use crate::service::model::{GuideSummary, Principal, Profile, ProfileSpec, Role, Scope, User};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    username: String,
    password: String,
    role: Role,
    /// Defaults to the admin's own; only a server-wide admin may name another.
    #[serde(default)]
    organisation: Option<String>,
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
    AdminCaller(admin): AdminCaller,
) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(
        state.run(move |s| s.users(&admin.user.scope())).await?,
    ))
}

/// A user in the admin's organisation (or, for a server-wide admin, any). Server-wide admins
/// are made on the service's machine only (`hologuide-server user add --all-organisations`).
pub async fn add_user(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiJson(body): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let organisation = body
        .organisation
        .unwrap_or_else(|| admin.user.organisation.clone());
    if !admin.user.scope().includes(&organisation) {
        return Err(ApiError(ServiceError::Forbidden(format!(
            "you may add users to your organisation '{}' only",
            admin.user.organisation
        ))));
    }
    let membership = Membership::of(organisation);
    let user = state
        .run(move |s| {
            s.add_user(
                &body.username,
                &body.password,
                body.role,
                &membership,
                &body.groups,
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

pub async fn deactivate(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GuideSummary>, ApiError> {
    let scope = admin.user.scope();
    let id = guide_id(&id)?;
    Ok(Json(
        state.run(move |s| s.set_active(&scope, id, false)).await?,
    ))
}

pub async fn reactivate(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GuideSummary>, ApiError> {
    let scope = admin.user.scope();
    let id = guide_id(&id)?;
    Ok(Json(
        state.run(move |s| s.set_active(&scope, id, true)).await?,
    ))
}

pub async fn set_tags(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Tags>,
) -> Result<Json<GuideSummary>, ApiError> {
    let scope = admin.user.scope();
    let id = guide_id(&id)?;
    Ok(Json(
        state
            .run(move |s| s.set_tags(&scope, id, &body.tags))
            .await?,
    ))
}

pub async fn grants(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<Principal>>, ApiError> {
    let scope = admin.user.scope();
    let id = guide_id(&id)?;
    Ok(Json(state.run(move |s| s.grants(&scope, id)).await?))
}

pub async fn grant(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath(id): ApiPath<String>,
    ApiJson(to): ApiJson<Principal>,
) -> Result<Json<Vec<Principal>>, ApiError> {
    let scope = admin.user.scope();
    let id = guide_id(&id)?;
    Ok(Json(state.run(move |s| s.grant(&scope, id, &to)).await?))
}

pub async fn revoke(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath((id, kind, name)): ApiPath<(String, String, String)>,
) -> Result<Json<Vec<Principal>>, ApiError> {
    let scope = admin.user.scope();
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
    Ok(Json(state.run(move |s| s.revoke(&scope, id, &from)).await?))
}

/// An admin manages the profiles of their own organisation over HTTP (a server-wide admin
/// too: another organisation's are managed with `hologuide-server profile … --organisation`).
pub async fn profiles(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
) -> Result<Json<Vec<Profile>>, ApiError> {
    Ok(Json(
        state
            .run(move |s| s.profiles(&Scope::Organisation(admin.user.organisation)))
            .await?,
    ))
}

pub async fn create_profile(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiJson(spec): ApiJson<ProfileSpec>,
) -> Result<(StatusCode, Json<Profile>), ApiError> {
    let profile = state
        .run(move |s| s.create_profile(&admin.user.organisation, &spec))
        .await?;
    Ok((StatusCode::CREATED, Json(profile)))
}

pub async fn profile(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(
        state
            .run(move |s| s.profile(&admin.user.organisation, &name))
            .await?,
    ))
}

pub async fn update_profile(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath(name): ApiPath<String>,
    ApiJson(spec): ApiJson<ProfileSpec>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(
        state
            .run(move |s| s.update_profile(&admin.user.organisation, &name, &spec))
            .await?,
    ))
}

pub async fn delete_profile(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state
        .run(move |s| s.delete_profile(&admin.user.organisation, &name))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_member(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath(name): ApiPath<String>,
    ApiJson(member): ApiJson<Member>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(
        state
            .run(move |s| s.add_profile_member(&admin.user.organisation, &name, &member.username))
            .await?,
    ))
}

pub async fn remove_member(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    ApiPath((name, username)): ApiPath<(String, String)>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(
        state
            .run(move |s| s.remove_profile_member(&admin.user.organisation, &name, &username))
            .await?,
    ))
}

/// `GET /v1/runs?guide=<id>[&since=<RFC 3339>]`: a guide's runs for audits (N6), admins only.
pub async fn runs(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Json<Vec<crate::service::core::RunExport>>, ApiError> {
    let (mut guide, mut since) = (None, None);
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "guide" => guide = Some(super::guide_id(&value)?),
            "since" => {
                // A time has no spaces: one is the '+' of an offset that was not encoded.
                let text = value.replace(' ', "+");
                since = Some(
                    time::OffsetDateTime::parse(
                        &text,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map_err(|_| {
                        ApiError(ServiceError::Invalid(format!(
                            "since must be an RFC 3339 time, not '{}'",
                            text.chars().take(40).collect::<String>()
                        )))
                    })?,
                );
            }
            other => {
                return Err(ApiError(ServiceError::Invalid(format!(
                    "unknown query parameter '{}' (guide, since)",
                    other.chars().take(40).collect::<String>()
                ))));
            }
        }
    }
    let guide = guide.ok_or_else(|| {
        ApiError(ServiceError::Invalid(
            "which guide's runs: ?guide=<id> is required".into(),
        ))
    })?;
    let scope = admin.user.scope();
    Ok(Json(
        state
            .run(move |s| s.runs_of_guide(&scope, guide, since))
            .await?,
    ))
}
