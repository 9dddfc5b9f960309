//! Memberships.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::{OrgUnitId, TenantId, UserId};
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
    app::memberships::{self, Membership},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantMembership {
    #[schema(value_type = uuid::Uuid)]
    user_id: UserId,
    /// Tenant roles, e.g. `org_admin`, `learner`.
    roles: Vec<String>,
    #[schema(value_type = Option<uuid::Uuid>)]
    org_unit_id: Option<OrgUnitId>,
}

/// Grant a user roles in the tenant (replaces their roles if already a member).
#[utoipa::path(post, path = "/tenants/{tenant_id}/memberships", tag = "memberships", params(("tenant_id" = uuid::Uuid, Path)),
    request_body = GrantMembership, security(("bearer" = [])),
    responses((status = 201, description = "Granted", body = Membership),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn grant_membership(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Json(req): Json<GrantMembership>,
) -> Result<(StatusCode, Json<Membership>), AppError> {
    let m = memberships::grant(&state, &principal, tenant, req.user_id, &req.roles, req.org_unit_id).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// List the tenant's active members.
#[utoipa::path(get, path = "/tenants/{tenant_id}/memberships", tag = "memberships", params(("tenant_id" = uuid::Uuid, Path), PageParams),
    security(("bearer" = [])), responses((status = 200, description = "A page of memberships", body = Page<Membership>)))]
async fn list_memberships(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Membership>>, AppError> {
    Ok(Json(memberships::list(&state, &principal, tenant, &page).await?))
}

/// Remove a user from the tenant.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/memberships/{user_id}", tag = "memberships",
    params(("tenant_id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Revoked"),
              (status = 404, description = "Not a member", body = Problem, content_type = "application/problem+json")))]
async fn revoke_membership(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, user)): Path<(TenantId, UserId)>,
) -> Result<StatusCode, AppError> {
    memberships::revoke(&state, &principal, tenant, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(grant_membership, list_memberships)).routes(routes!(revoke_membership))
}
