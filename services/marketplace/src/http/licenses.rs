//! Licenses: what the caller's tenant owns.

use axum::extract::State;
use mirai_contracts::ids::LicenseId;
use mirai_kit::{AppError, Json, Path, Principal, Query, error::Problem, pagination::Page};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::licenses::{self, License, LicenseQuery},
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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_licenses)).routes(routes!(get_license))
}
