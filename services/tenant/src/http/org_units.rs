//! Org units.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::{OrgUnitId, TenantId};
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::org_units::{self, OrgUnit},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgUnit {
    name: String,
    #[schema(value_type = Option<uuid::Uuid>)]
    parent_id: Option<OrgUnitId>,
}

/// Create an org unit (org admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/org-units", tag = "org-units", params(("tenant_id" = uuid::Uuid, Path)),
    request_body = CreateOrgUnit, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = OrgUnit),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_org_unit(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Json(req): Json<CreateOrgUnit>,
) -> Result<(StatusCode, Json<OrgUnit>), AppError> {
    Ok((StatusCode::CREATED, Json(org_units::create(&state, &principal, tenant, req.name, req.parent_id).await?)))
}

/// The tenant's org-unit tree, parents first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/org-units", tag = "org-units", params(("tenant_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "Org units", body = Vec<OrgUnit>)))]
async fn list_org_units(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
) -> Result<Json<Vec<OrgUnit>>, AppError> {
    Ok(Json(org_units::list(&state, &principal, tenant).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_org_unit, list_org_units))
}
