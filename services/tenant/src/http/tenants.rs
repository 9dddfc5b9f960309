//! Tenants.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::TenantId;
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::tenants::{self, NewTenant, Tenant, TenantKind},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    kind: TenantKind,
    name: String,
    /// URL-safe handle, unique across the platform.
    slug: String,
}

/// Create a tenant (platform admin).
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = CreateTenant, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = Tenant),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Slug taken", body = Problem, content_type = "application/problem+json")))]
async fn create_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CreateTenant>,
) -> Result<(StatusCode, Json<Tenant>), AppError> {
    let t = tenants::create(&state, &principal, NewTenant { kind: req.kind, name: req.name, slug: req.slug }).await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// List tenants (all for a platform admin; your own otherwise).
#[utoipa::path(get, path = "/tenants", tag = "tenants", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of tenants", body = Page<Tenant>)))]
async fn list_tenants(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Tenant>>, AppError> {
    Ok(Json(tenants::list(&state, &principal, &page).await?))
}

/// Get a tenant you belong to.
#[utoipa::path(get, path = "/tenants/{tenant_id}", tag = "tenants", params(("tenant_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The tenant", body = Tenant),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn get_tenant(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<TenantId>,
) -> Result<Json<Tenant>, AppError> {
    Ok(Json(tenants::get(&state, &principal, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_tenant, list_tenants)).routes(routes!(get_tenant))
}
