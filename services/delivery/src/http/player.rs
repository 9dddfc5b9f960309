//! The player: launch, session, lesson, position, completion, the caller's sessions.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::{CourseId, LessonId, PlaySessionId};
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Lesson, Position, Session},
};

/// Launch a course the caller is enrolled in: 201 with a new session on the first
/// launch, 200 with the same session (to resume at its `position`) on every later one.
/// Each launch records an xAPI `launched` statement. 403 `not-enrolled` without an
/// active enrollment.
#[utoipa::path(post, path = "/courses/{course_id}/launch", tag = "player",
    params(("course_id" = uuid::Uuid, Path, description = "The course")), security(("bearer" = [])),
    responses((status = 201, description = "Launched: a new session", body = Session),
              (status = 200, description = "Launched: the session resumed", body = Session),
              (status = 403, description = "Not enrolled, or not a person", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The enrolled version is not in the player yet", body = Problem, content_type = "application/problem+json")))]
async fn launch(
    State(state): State<AppState>,
    principal: Principal,
    Path(course): Path<CourseId>,
) -> Result<(StatusCode, Json<Session>), AppError> {
    let (s, new) = app::launch(&state, &principal, course).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(s)))
}

/// One of the caller's sessions: outline, progress and where to resume.
#[utoipa::path(get, path = "/sessions/{session_id}", tag = "player",
    params(("session_id" = uuid::Uuid, Path, description = "The session")), security(("bearer" = [])),
    responses((status = 200, description = "The session", body = Session),
              (status = 404, description = "No such session of the caller's", body = Problem, content_type = "application/problem+json")))]
async fn get_session(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<PlaySessionId>,
) -> Result<Json<Session>, AppError> {
    Ok(Json(app::get(&state, &principal, id).await?))
}

/// A lesson's content (while the enrollment is active).
#[utoipa::path(get, path = "/sessions/{session_id}/lessons/{lesson_id}", tag = "player",
    params(("session_id" = uuid::Uuid, Path, description = "The session"), ("lesson_id" = uuid::Uuid, Path, description = "A lesson of its course version")),
    security(("bearer" = [])),
    responses((status = 200, description = "The lesson", body = Lesson),
              (status = 403, description = "The enrollment ended", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such session or lesson", body = Problem, content_type = "application/problem+json")))]
async fn get_lesson(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, lesson)): Path<(PlaySessionId, LessonId)>,
) -> Result<Json<Lesson>, AppError> {
    Ok(Json(app::lesson(&state, &principal, id, lesson).await?))
}

/// Move where the session resumes; the lesson counts as opened.
#[utoipa::path(put, path = "/sessions/{session_id}/position", tag = "player",
    params(("session_id" = uuid::Uuid, Path, description = "The session")), request_body = Position,
    security(("bearer" = [])),
    responses((status = 200, description = "The session", body = Session),
              (status = 403, description = "The enrollment ended", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such session", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not a lesson of the version", body = Problem, content_type = "application/problem+json")))]
async fn put_position(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<PlaySessionId>,
    Json(req): Json<Position>,
) -> Result<Json<Session>, AppError> {
    Ok(Json(app::set_position(&state, &principal, id, req).await?))
}

/// Complete a lesson the learner opened: records it completed and the course progressed
/// (and completed, with the last lesson). Completing it again changes nothing. 409
/// `lesson-not-opened` for a lesson never opened; 409 `completes-by-activity` for one
/// holding a quiz or package, which completes with that activity's result.
#[utoipa::path(post, path = "/sessions/{session_id}/lessons/{lesson_id}/complete", tag = "player",
    params(("session_id" = uuid::Uuid, Path, description = "The session"), ("lesson_id" = uuid::Uuid, Path, description = "A lesson of its course version")),
    security(("bearer" = [])),
    responses((status = 200, description = "The session", body = Session),
              (status = 403, description = "The enrollment ended", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such session or lesson", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not opened, or completes by its activity", body = Problem, content_type = "application/problem+json")))]
async fn complete_lesson(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, lesson)): Path<(PlaySessionId, LessonId)>,
) -> Result<Json<Session>, AppError> {
    Ok(Json(app::complete_lesson(&state, &principal, id, lesson).await?))
}

/// The caller's sessions, newest first.
#[utoipa::path(get, path = "/me/sessions", tag = "player", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of sessions", body = Page<Session>),
              (status = 403, description = "Not a person", body = Problem, content_type = "application/problem+json")))]
async fn my_sessions(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Session>>, AppError> {
    Ok(Json(app::mine(&state, &principal, page).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(launch))
        .routes(routes!(get_session))
        .routes(routes!(get_lesson))
        .routes(routes!(put_position))
        .routes(routes!(complete_lesson))
        .routes(routes!(my_sessions))
}
