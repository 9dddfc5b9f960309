//! Per-tenant API keys.

use axum::{extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use mirai_kit::{
    AppError, Json, Path, Principal, Query, Role,
    error::Problem,
    pagination::{Page, PageParams},
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::api_keys::{self, ApiKey, CreatedApiKey, NewApiKey},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    name: String,
    /// Roles the key acts with; a subset of yours (default: all of yours).
    roles: Option<Vec<Role>>,
    /// xAPI scopes, e.g. `statements/write`.
    #[serde(default)]
    scopes: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// Create an API key for your tenant. The secret is in this response only.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", request_body = CreateApiKey, security(("bearer" = [])),
    responses((status = 201, description = "Created; keep the secret", body = CreatedApiKey),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), AppError> {
    let input = NewApiKey { name: req.name, roles: req.roles, scopes: req.scopes, expires_at: req.expires_at };
    Ok((StatusCode::CREATED, Json(api_keys::create(&state, &principal, input).await?)))
}

/// List your tenant's API keys, newest first.
#[utoipa::path(get, path = "/api-keys", tag = "api-keys", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of keys", body = Page<ApiKey>)))]
async fn list_api_keys(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<ApiKey>>, AppError> {
    Ok(Json(api_keys::list(&state, &principal, &page).await?))
}

/// Get one API key (never its secret).
#[utoipa::path(get, path = "/api-keys/{id}", tag = "api-keys", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The key", body = ApiKey),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn get_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ApiKey>, AppError> {
    Ok(Json(api_keys::get(&state, &principal, &id).await?))
}

/// Revoke an API key; every service refuses it within a second.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Revoked", body = ApiKey),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn revoke_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ApiKey>, AppError> {
    Ok(Json(api_keys::revoke(&state, &principal, &id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_api_key, list_api_keys)).routes(routes!(get_api_key, revoke_api_key))
}
