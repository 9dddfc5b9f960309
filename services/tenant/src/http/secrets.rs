//! Tenant secrets (envelope-encrypted).

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::TenantId;
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::secrets::{self, SecretMeta, SecretValue},
};

/// The tenant's secret names and versions (never values).
#[utoipa::path(get, path = "/tenants/{tenant_id}/secrets", tag = "secrets", params(("tenant_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Secrets", body = Vec<SecretMeta>)))]
async fn list_secrets(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
) -> Result<Json<Vec<SecretMeta>>, AppError> {
    Ok(Json(secrets::list(&state, &principal, tenant).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    /// The value, at most 16 KiB; stored encrypted.
    value: String,
}

/// Store or replace a secret.
#[utoipa::path(put, path = "/tenants/{tenant_id}/secrets/{name}", tag = "secrets", params(("tenant_id" = uuid::Uuid, Path), ("name" = String, Path)),
    request_body = PutSecret, security(("bearer" = [])),
    responses((status = 200, description = "Stored", body = SecretMeta),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn put_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, name)): Path<(TenantId, String)>,
    Json(req): Json<PutSecret>,
) -> Result<Json<SecretMeta>, AppError> {
    Ok(Json(secrets::put(&state, &principal, tenant, &name, &req.value).await?))
}

/// Reveal a secret's value (org or provider admin).
#[utoipa::path(get, path = "/tenants/{tenant_id}/secrets/{name}", tag = "secrets", params(("tenant_id" = uuid::Uuid, Path), ("name" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "The secret", body = SecretValue),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn get_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, name)): Path<(TenantId, String)>,
) -> Result<Json<SecretValue>, AppError> {
    Ok(Json(secrets::reveal(&state, &principal, tenant, &name).await?))
}

/// Delete a secret.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/secrets/{name}", tag = "secrets", params(("tenant_id" = uuid::Uuid, Path), ("name" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn delete_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, name)): Path<(TenantId, String)>,
) -> Result<StatusCode, AppError> {
    secrets::delete(&state, &principal, tenant, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_secrets)).routes(routes!(put_secret, get_secret, delete_secret))
}
