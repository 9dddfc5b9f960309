//! Data-subject requests (GDPR erasure).

use axum::{extract::State, http::StatusCode};
use mirai_contracts::{
    events::tenant::DataSubject,
    ids::{DataSubjectRequestId, TenantId},
};
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
    app::data_subjects::{self, DataSubjectRequest},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDataSubjectRequest {
    /// `erasure` (the only kind so far).
    kind: String,
    subject: DataSubject,
    /// Why, for the audit record (at most 500 characters).
    reason: Option<String>,
}

/// Request the erasure of a person's data in this tenant (org admin). Accepted at once;
/// each service that holds personal data erases it and reports back, and the request
/// completes when all have.
#[utoipa::path(post, path = "/tenants/{tenant_id}/data-subject-requests", tag = "data-subjects",
    params(("tenant_id" = uuid::Uuid, Path)), request_body = CreateDataSubjectRequest, security(("bearer" = [])),
    responses((status = 202, description = "Accepted; poll the request for completion", body = DataSubjectRequest),
              (status = 403, description = "Not an org admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_request(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Json(req): Json<CreateDataSubjectRequest>,
) -> Result<(StatusCode, Json<DataSubjectRequest>), AppError> {
    if req.kind != "erasure" {
        return Err(AppError::invalid("kind", "must be `erasure`"));
    }
    let r = data_subjects::request_erasure(&state, &principal, tenant, req.subject, req.reason).await?;
    Ok((StatusCode::ACCEPTED, Json(r)))
}

/// The tenant's data-subject requests, newest first (org admin).
#[utoipa::path(get, path = "/tenants/{tenant_id}/data-subject-requests", tag = "data-subjects",
    params(("tenant_id" = uuid::Uuid, Path), PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of requests", body = Page<DataSubjectRequest>)))]
async fn list_requests(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<DataSubjectRequest>>, AppError> {
    Ok(Json(data_subjects::list(&state, &principal, tenant, &page).await?))
}

/// One data-subject request with each service's step (org admin).
#[utoipa::path(get, path = "/tenants/{tenant_id}/data-subject-requests/{request_id}", tag = "data-subjects",
    params(("tenant_id" = uuid::Uuid, Path), ("request_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The request", body = DataSubjectRequest),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn get_request(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(TenantId, DataSubjectRequestId)>,
) -> Result<Json<DataSubjectRequest>, AppError> {
    Ok(Json(data_subjects::get(&state, &principal, tenant, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_request, list_requests)).routes(routes!(get_request))
}
