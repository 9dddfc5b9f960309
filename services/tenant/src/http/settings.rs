//! Tenant settings and feature flags.

use axum::extract::State;
use mirai_contracts::ids::TenantId;
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::settings::{self, FeatureFlag, Settings},
};

/// The tenant's settings object.
#[utoipa::path(get, path = "/tenants/{tenant_id}/settings", tag = "settings", params(("tenant_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Settings", body = Settings)))]
async fn get_settings(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
) -> Result<Json<Settings>, AppError> {
    Ok(Json(settings::get(&state, &principal, tenant).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSettings {
    /// A JSON object, at most 64 KiB; replaces the previous one.
    settings: serde_json::Value,
}

/// Replace the tenant's settings (org or provider admin).
#[utoipa::path(put, path = "/tenants/{tenant_id}/settings", tag = "settings", params(("tenant_id" = uuid::Uuid, Path)),
    request_body = PutSettings, security(("bearer" = [])),
    responses((status = 200, description = "Stored", body = Settings),
              (status = 422, description = "Not an object or too large", body = Problem, content_type = "application/problem+json")))]
async fn put_settings(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Json(req): Json<PutSettings>,
) -> Result<Json<Settings>, AppError> {
    Ok(Json(settings::put(&state, &principal, tenant, req.settings).await?))
}

/// Every feature flag with its effective value for the tenant.
#[utoipa::path(get, path = "/tenants/{tenant_id}/feature-flags", tag = "settings", params(("tenant_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Flags", body = Vec<FeatureFlag>)))]
async fn list_flags(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
) -> Result<Json<Vec<FeatureFlag>>, AppError> {
    Ok(Json(settings::flags(&state, &principal, tenant).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutFlag {
    enabled: bool,
}

/// Turn a feature on or off for the tenant (org or provider admin).
#[utoipa::path(put, path = "/tenants/{tenant_id}/feature-flags/{key}", tag = "settings",
    params(("tenant_id" = uuid::Uuid, Path), ("key" = String, Path)), request_body = PutFlag, security(("bearer" = [])),
    responses((status = 200, description = "The flag", body = FeatureFlag),
              (status = 404, description = "Unknown flag", body = Problem, content_type = "application/problem+json")))]
async fn put_flag(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, key)): Path<(TenantId, String)>,
    Json(req): Json<PutFlag>,
) -> Result<Json<FeatureFlag>, AppError> {
    Ok(Json(settings::set_flag(&state, &principal, tenant, &key, req.enabled).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_flags))
        .routes(routes!(put_flag))
}
