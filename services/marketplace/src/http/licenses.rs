//! Licenses: what the caller's tenant owns.

use axum::extract::State;
use mirai_contracts::ids::LicenseId;
use mirai_kit::{AppError, Json, Path, Principal, Query, error::Problem, pagination::Page};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::licenses::{self, License, LicenseQuery, Renewal},
};

/// The tenant's licenses, newest first.
#[utoipa::path(get, path = "/licenses", tag = "licenses", params(LicenseQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of licenses", body = Page<License>),
              (status = 403, description = "Not an org admin, manager or compliance officer", body = Problem, content_type = "application/problem+json")))]
async fn list_licenses(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<LicenseQuery>,
) -> Result<Json<Page<License>>, AppError> {
    Ok(Json(licenses::list(&state, &principal, q).await?))
}

/// One of the tenant's licenses.
#[utoipa::path(get, path = "/licenses/{license_id}", tag = "licenses",
    params(("license_id" = uuid::Uuid, Path, description = "The license")), security(("bearer" = [])),
    responses((status = 200, description = "The license", body = License),
              (status = 404, description = "No such license of the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_license(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<LicenseId>,
) -> Result<Json<License>, AppError> {
    Ok(Json(licenses::get(&state, &principal, id).await?))
}

/// Stop (or resume) a subscription license's renewal at the end of the period paid
/// (the buyer's org admins, or an individual for their own).
#[utoipa::path(put, path = "/licenses/{license_id}/renewal", tag = "licenses",
    params(("license_id" = uuid::Uuid, Path, description = "The license")), request_body = Renewal,
    security(("bearer" = [])),
    responses((status = 200, description = "The license, renewing or not", body = License),
              (status = 403, description = "Not an org admin of the owner", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such license of the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not a subscription, or its subscription ended", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid body", body = Problem, content_type = "application/problem+json")))]
async fn set_renewal(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<LicenseId>,
    Json(input): Json<Renewal>,
) -> Result<Json<License>, AppError> {
    Ok(Json(licenses::set_renewal(&state, &principal, id, input).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_licenses)).routes(routes!(get_license)).routes(routes!(set_renewal))
}
