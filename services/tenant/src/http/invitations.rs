//! Invitations.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::TenantId;
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{
        invitations::{self, CreatedInvitation},
        memberships::Membership,
    },
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    email: String,
    roles: Vec<String>,
}

/// Invite someone to the tenant (org admin). The token is in this response only.
#[utoipa::path(post, path = "/tenants/{tenant_id}/invitations", tag = "invitations", params(("tenant_id" = uuid::Uuid, Path)),
    request_body = CreateInvitation, security(("bearer" = [])),
    responses((status = 201, description = "Invited", body = CreatedInvitation),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_invitation(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Json(req): Json<CreateInvitation>,
) -> Result<(StatusCode, Json<CreatedInvitation>), AppError> {
    Ok((StatusCode::CREATED, Json(invitations::create(&state, &principal, tenant, &req.email, &req.roles).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    token: String,
}

/// Accept an invitation as the logged-in user it was sent to.
#[utoipa::path(post, path = "/invitations/accept", tag = "invitations", request_body = AcceptInvitation, security(("bearer" = [])),
    responses((status = 200, description = "Now a member", body = Membership),
              (status = 403, description = "Sent to someone else", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Already accepted", body = Problem, content_type = "application/problem+json")))]
async fn accept_invitation(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<AcceptInvitation>,
) -> Result<Json<Membership>, AppError> {
    Ok(Json(invitations::accept(&state, &principal, &req.token).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_invitation)).routes(routes!(accept_invitation))
}
