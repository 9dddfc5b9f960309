//! Courses: create, list, read, write the draft, review an AI block, publish, retire,
//! duplicate, read a version, read the history. Every write to a course sends
//! `If-Match: "<revision>"`; responses carry the new revision as `ETag`.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use mirai_contracts::ids::{BlockId, CourseId};
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Course, CourseInput, CourseSummary, HistoryEntry, Version},
};

fn if_match(h: &HeaderMap) -> Option<&str> {
    h.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

/// The course, with its revision as `ETag`.
fn with_etag(status: StatusCode, course: Course) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", course.revision)).expect("a number is a valid header");
    let mut res = (status, Json(course)).into_response();
    res.headers_mut().insert(header::ETAG, etag);
    res
}

/// Create a course (authors, provider and org admins). Send `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/courses", tag = "courses", request_body = CourseInput, security(("bearer" = [])),
    responses((status = 201, description = "Created; `ETag` is its revision", body = Course),
              (status = 403, description = "Not an author", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_course(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CourseInput>,
) -> Result<Response, AppError> {
    Ok(with_etag(StatusCode::CREATED, app::create(&state, &principal, req).await?))
}

/// The tenant's courses, newest first.
#[utoipa::path(get, path = "/courses", tag = "courses", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of courses", body = Page<CourseSummary>),
              (status = 403, description = "Not an author", body = Problem, content_type = "application/problem+json")))]
async fn list_courses(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<CourseSummary>>, AppError> {
    Ok(Json(app::list(&state, &principal, &page).await?))
}

/// A course with its draft outline; `ETag` is its revision.
#[utoipa::path(get, path = "/courses/{course_id}", tag = "courses", params(("course_id" = uuid::Uuid, Path, description = "The course")), security(("bearer" = [])),
    responses((status = 200, description = "The course", body = Course),
              (status = 403, description = "Not an author (learners never see drafts)", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such course", body = Problem, content_type = "application/problem+json")))]
async fn get_course(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<CourseId>,
) -> Result<Response, AppError> {
    Ok(with_etag(StatusCode::OK, app::get(&state, &principal, id).await?))
}

/// Replace the draft: metadata and outline. Reorder, move, duplicate (a copy without an
/// id) and delete modules, lessons and blocks by sending the outline as it should be.
#[utoipa::path(put, path = "/courses/{course_id}", tag = "courses", request_body = CourseInput,
    params(("course_id" = uuid::Uuid, Path, description = "The course"), ("If-Match" = String, Header, description = "The revision this edit is based on")),
    security(("bearer" = [])),
    responses((status = 200, description = "The new draft; `ETag` is its revision", body = Course),
              (status = 404, description = "No such course", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The course is retired", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale revision (`current_version` in the problem)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid outline", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json")))]
async fn put_course(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<CourseId>,
    headers: HeaderMap,
    Json(req): Json<CourseInput>,
) -> Result<Response, AppError> {
    Ok(with_etag(StatusCode::OK, app::update(&state, &principal, id, if_match(&headers), req).await?))
}

/// Accept an AI-generated block (`draft_ai` → `reviewed`).
#[utoipa::path(post, path = "/courses/{course_id}/blocks/{block_id}/review", tag = "courses",
    params(("course_id" = uuid::Uuid, Path, description = "The course"), ("block_id" = uuid::Uuid, Path, description = "The block"), ("If-Match" = String, Header, description = "The course's revision")),
    security(("bearer" = [])),
    responses((status = 200, description = "The course; `ETag` is its revision", body = Course),
              (status = 404, description = "No such course or block", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale revision", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not an AI-generated block", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json")))]
async fn review_block(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, block)): Path<(CourseId, BlockId)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    Ok(with_etag(StatusCode::OK, app::review(&state, &principal, id, block, if_match(&headers)).await?))
}

/// Publish the draft as the next immutable version (provider or org admins).
#[utoipa::path(post, path = "/courses/{course_id}/publish", tag = "courses",
    params(("course_id" = uuid::Uuid, Path, description = "The course"), ("If-Match" = String, Header, description = "The course's revision")),
    security(("bearer" = [])),
    responses((status = 201, description = "The published version", body = Version),
              (status = 403, description = "Not a publisher", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such course", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The course is retired", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale revision", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Unreviewed AI blocks, or blocks showing media or packages the tenant does not have (each named), or no lesson", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json")))]
async fn publish_course(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<CourseId>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Version>), AppError> {
    Ok((StatusCode::CREATED, Json(app::publish(&state, &principal, id, if_match(&headers)).await?)))
}

/// Retire the course (provider or org admins).
#[utoipa::path(post, path = "/courses/{course_id}/retire", tag = "courses",
    params(("course_id" = uuid::Uuid, Path, description = "The course"), ("If-Match" = String, Header, description = "The course's revision")),
    security(("bearer" = [])),
    responses((status = 200, description = "The retired course", body = Course),
              (status = 404, description = "No such course", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Already retired", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Stale revision", body = Problem, content_type = "application/problem+json"),
              (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json")))]
async fn retire_course(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<CourseId>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    Ok(with_etag(StatusCode::OK, app::retire(&state, &principal, id, if_match(&headers)).await?))
}

/// A new draft course copied from this one.
#[utoipa::path(post, path = "/courses/{course_id}/duplicate", tag = "courses", params(("course_id" = uuid::Uuid, Path, description = "The course")), security(("bearer" = [])),
    responses((status = 201, description = "The copy", body = Course),
              (status = 404, description = "No such course", body = Problem, content_type = "application/problem+json")))]
async fn duplicate_course(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<CourseId>,
) -> Result<Response, AppError> {
    Ok(with_etag(StatusCode::CREATED, app::duplicate(&state, &principal, id).await?))
}

/// One published version, as it was published.
#[utoipa::path(get, path = "/courses/{course_id}/versions/{version}", tag = "courses",
    params(("course_id" = uuid::Uuid, Path, description = "The course"), ("version" = i32, Path, description = "The version number")),
    security(("bearer" = [])),
    responses((status = 200, description = "The version", body = Version),
              (status = 404, description = "No such version", body = Problem, content_type = "application/problem+json")))]
async fn get_version(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, number)): Path<(CourseId, i32)>,
) -> Result<Json<Version>, AppError> {
    Ok(Json(app::version(&state, &principal, id, number).await?))
}

/// Who changed what, when.
#[utoipa::path(get, path = "/courses/{course_id}/history", tag = "courses", params(("course_id" = uuid::Uuid, Path, description = "The course")), security(("bearer" = [])),
    responses((status = 200, description = "The course's changes, oldest first", body = Vec<HistoryEntry>),
              (status = 404, description = "No such course", body = Problem, content_type = "application/problem+json")))]
async fn get_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<CourseId>,
) -> Result<Json<Vec<HistoryEntry>>, AppError> {
    Ok(Json(app::history(&state, &principal, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_course, list_courses))
        .routes(routes!(get_course, put_course))
        .routes(routes!(review_block))
        .routes(routes!(publish_course))
        .routes(routes!(retire_course))
        .routes(routes!(duplicate_course))
        .routes(routes!(get_version))
        .routes(routes!(get_history))
}
