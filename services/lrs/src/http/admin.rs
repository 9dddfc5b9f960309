//! Operator endpoints of the LRS (platform admins; no xAPI version header).

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::{StatementId, TenantId};
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{AppState, app::purge};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Purge {
    /// Why the statement is removed (kept in the audit event).
    reason: String,
}

/// Purge a statement for good (platform admin; audited).
#[utoipa::path(post, path = "/admin/tenants/{tenant_id}/statements/{statement_id}/purge", tag = "admin",
    params(("tenant_id" = uuid::Uuid, Path), ("statement_id" = uuid::Uuid, Path)), request_body = Purge, security(("bearer" = [])),
    responses((status = 204, description = "Purged"),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such statement", body = Problem, content_type = "application/problem+json")))]
async fn purge_statement(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(TenantId, StatementId)>,
    Json(req): Json<Purge>,
) -> Result<StatusCode, AppError> {
    purge::purge(&state, &principal, tenant, id, &req.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(purge_statement))
}
