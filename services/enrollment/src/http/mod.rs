//! enrollment's HTTP surface under `/api/v1/enrollment`.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::{EnrollmentId, LicenseId};
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Enroll, Enrollment, EnrollmentQuery, Pool, SelfEnroll, SelfEnrollment},
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai enrollment", version = "1.0.0", description = "Seat pools per license and the enrollments that hold their seats."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "enrollments", description = "Who may launch which course, on whose seat.")),
)]
struct ApiDoc;

/// Enroll a member in a course (org admin or manager): takes a seat of the oldest
/// license with one free; 409 `seats-exhausted` naming the licenses when none is left,
/// `no-license` when the tenant holds none. An existing enrollment answers 200. Send
/// `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/enrollments", tag = "enrollments", request_body = Enroll, security(("bearer" = [])),
    responses((status = 201, description = "Enrolled", body = Enrollment),
              (status = 200, description = "Enrolled already", body = Enrollment),
              (status = 403, description = "Not an org admin or manager", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "No seat left, or no license", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not a member", body = Problem, content_type = "application/problem+json")))]
async fn enroll(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<Enroll>,
) -> Result<(StatusCode, Json<Enrollment>), AppError> {
    let (e, new) = app::enroll(&state, &principal, req).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(e)))
}

/// The tenant's enrollments, newest first (org admins, managers, compliance officers).
#[utoipa::path(get, path = "/enrollments", tag = "enrollments", params(EnrollmentQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of enrollments", body = Page<Enrollment>),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json")))]
async fn list_enrollments(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<EnrollmentQuery>,
) -> Result<Json<Page<Enrollment>>, AppError> {
    Ok(Json(app::list(&state, &principal, q, false).await?))
}

/// The caller's own enrollments: what they may launch (`active=true`).
#[utoipa::path(get, path = "/me/enrollments", tag = "enrollments", params(EnrollmentQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of the caller's enrollments", body = Page<Enrollment>),
              (status = 403, description = "Not a user", body = Problem, content_type = "application/problem+json")))]
async fn my_enrollments(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<EnrollmentQuery>,
) -> Result<Json<Page<Enrollment>>, AppError> {
    Ok(Json(app::list(&state, &principal, q, true).await?))
}

/// Enroll yourself in a course whose seats your organization opened to self-enrollment:
/// takes one of them (409 `self-enrollment-closed` when none is open, `seats-exhausted`
/// when they are taken). Enrolled already: your enrollment, 200.
#[utoipa::path(post, path = "/me/enrollments", tag = "enrollments", request_body = SelfEnroll, security(("bearer" = [])),
    responses((status = 201, description = "Enrolled", body = Enrollment),
              (status = 200, description = "Enrolled already", body = Enrollment),
              (status = 403, description = "Not a user of the tenant", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Closed to self-enrollment, or no seat left", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not a member", body = Problem, content_type = "application/problem+json")))]
async fn self_enroll(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<SelfEnroll>,
) -> Result<(StatusCode, Json<Enrollment>), AppError> {
    let (e, new) = app::self_enroll(&state, &principal, req).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(e)))
}

/// Open or close a pool to its members' self-enrollment (org admins; 409 when its
/// listing does not allow it).
#[utoipa::path(put, path = "/pools/{license_id}/self-enrollment", tag = "enrollments", request_body = SelfEnrollment,
    params(("license_id" = uuid::Uuid, Path, description = "The pool's license")), security(("bearer" = [])),
    responses((status = 200, description = "The pool", body = Pool),
              (status = 403, description = "Not an org admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such pool in the tenant", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The listing does not allow self-enrollment", body = Problem, content_type = "application/problem+json")))]
async fn set_self_enrollment(
    State(state): State<AppState>,
    principal: Principal,
    Path(license): Path<LicenseId>,
    Json(req): Json<SelfEnrollment>,
) -> Result<Json<Pool>, AppError> {
    Ok(Json(app::set_self_enrollment(&state, &principal, license, req).await?))
}

/// One enrollment (the learner's own, or any for managers).
#[utoipa::path(get, path = "/enrollments/{enrollment_id}", tag = "enrollments",
    params(("enrollment_id" = uuid::Uuid, Path, description = "The enrollment")), security(("bearer" = [])),
    responses((status = 200, description = "The enrollment", body = Enrollment),
              (status = 404, description = "No such enrollment in the tenant", body = Problem, content_type = "application/problem+json")))]
async fn get_enrollment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<EnrollmentId>,
) -> Result<Json<Enrollment>, AppError> {
    Ok(Json(app::get(&state, &principal, id).await?))
}

/// Withdraw an enrollment: its seat goes back to the pool.
#[utoipa::path(post, path = "/enrollments/{enrollment_id}/withdraw", tag = "enrollments",
    params(("enrollment_id" = uuid::Uuid, Path, description = "The enrollment")), security(("bearer" = [])),
    responses((status = 200, description = "Ended", body = Enrollment),
              (status = 403, description = "Not an org admin or manager", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such enrollment in the tenant", body = Problem, content_type = "application/problem+json")))]
async fn withdraw_enrollment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<EnrollmentId>,
) -> Result<Json<Enrollment>, AppError> {
    Ok(Json(app::withdraw(&state, &principal, id).await?))
}

/// The tenant's seat pools (one per license).
#[utoipa::path(get, path = "/pools", tag = "enrollments", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of pools", body = Page<Pool>),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json")))]
async fn list_pools(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Pool>>, AppError> {
    Ok(Json(app::pools(&state, &principal, page).await?))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(enroll, list_enrollments))
        .routes(routes!(my_enrollments, self_enroll))
        .routes(routes!(set_self_enrollment))
        .routes(routes!(get_enrollment))
        .routes(routes!(withdraw_enrollment))
        .routes(routes!(list_pools))
}
