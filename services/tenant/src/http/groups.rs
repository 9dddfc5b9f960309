//! Groups of a tenant's members.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::{GroupId, TenantId, UserId};
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
    app::groups::{self, Group, GroupMember},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// 1 to 200 characters, unique in the tenant.
    name: String,
}

/// Create a group (org admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/groups", tag = "groups", params(("tenant_id" = uuid::Uuid, Path)),
    request_body = CreateGroup, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = Group),
              (status = 409, description = "A group of that name exists", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_group(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Json(req): Json<CreateGroup>,
) -> Result<(StatusCode, Json<Group>), AppError> {
    Ok((StatusCode::CREATED, Json(groups::create(&state, &principal, tenant, req.name).await?)))
}

/// The tenant's groups, newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/groups", tag = "groups", params(("tenant_id" = uuid::Uuid, Path), PageParams),
    security(("bearer" = [])), responses((status = 200, description = "A page of groups", body = Page<Group>)))]
async fn list_groups(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Group>>, AppError> {
    Ok(Json(groups::list(&state, &principal, tenant, &page).await?))
}

/// A group's members, newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/groups/{group_id}/members", tag = "groups",
    params(("tenant_id" = uuid::Uuid, Path), ("group_id" = uuid::Uuid, Path), PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of members", body = Page<GroupMember>),
              (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json")))]
async fn list_group_members(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, group)): Path<(TenantId, GroupId)>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<GroupMember>>, AppError> {
    Ok(Json(groups::members(&state, &principal, tenant, group, &page).await?))
}

/// Put a member of the tenant in a group (org admin); putting them again changes nothing.
#[utoipa::path(put, path = "/tenants/{tenant_id}/groups/{group_id}/members/{user_id}", tag = "groups",
    params(("tenant_id" = uuid::Uuid, Path), ("group_id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "The group", body = Group),
              (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not a member of the tenant", body = Problem, content_type = "application/problem+json")))]
async fn add_group_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, group, user)): Path<(TenantId, GroupId, UserId)>,
) -> Result<Json<Group>, AppError> {
    Ok(Json(groups::add(&state, &principal, tenant, group, user).await?))
}

/// Take a member out of a group (org admin).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/groups/{group_id}/members/{user_id}", tag = "groups",
    params(("tenant_id" = uuid::Uuid, Path), ("group_id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Not in the group (any more)"),
              (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json")))]
async fn remove_group_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, group, user)): Path<(TenantId, GroupId, UserId)>,
) -> Result<StatusCode, AppError> {
    groups::remove(&state, &principal, tenant, group, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group, list_groups))
        .routes(routes!(list_group_members))
        .routes(routes!(add_group_member, remove_group_member))
}
