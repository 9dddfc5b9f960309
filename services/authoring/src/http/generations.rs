//! AI-assisted authoring: ask for a generation on a course, follow it (JSON or SSE),
//! cancel it.

use axum::{
    extract::State,
    http::StatusCode,
    response::sse::{KeepAlive, Sse},
};
use mirai_contracts::ids::{CourseId, GenerationId};
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::generations::{self, Generation, GenerationInput},
};

/// Ask the AI for an outline, a lesson's blocks, quiz questions or a rewrite (editors;
/// the tenant needs `ai.authoring` on). The result lands in the draft as `draft_ai`
/// blocks with their provenance; follow it at `…/events`.
#[utoipa::path(post, path = "/courses/{course_id}/generations", tag = "ai",
    params(("course_id" = uuid::Uuid, Path, description = "The course")), request_body = GenerationInput,
    security(("bearer" = [])),
    responses((status = 202, description = "Asked: follow it", body = Generation),
              (status = 403, description = "AI is off for the tenant (`ai-disabled`), or not an editor", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such course, lesson or block", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The course is retired", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn request_generation(
    State(state): State<AppState>,
    principal: Principal,
    Path(course): Path<CourseId>,
    Json(req): Json<GenerationInput>,
) -> Result<(StatusCode, Json<Generation>), AppError> {
    Ok((StatusCode::ACCEPTED, Json(generations::request(&state, &principal, course, req).await?)))
}

/// A generation.
#[utoipa::path(get, path = "/courses/{course_id}/generations/{generation_id}", tag = "ai",
    params(("course_id" = uuid::Uuid, Path, description = "The course"), ("generation_id" = uuid::Uuid, Path, description = "The generation")),
    security(("bearer" = [])),
    responses((status = 200, description = "The generation", body = Generation),
              (status = 404, description = "No such generation", body = Problem, content_type = "application/problem+json")))]
async fn get_generation(
    State(state): State<AppState>,
    principal: Principal,
    Path((course, id)): Path<(CourseId, GenerationId)>,
) -> Result<Json<Generation>, AppError> {
    Ok(Json(generations::get(&state, &principal, course, id).await?))
}

/// Cancel a generation that has not ended; a result that still comes is dropped.
#[utoipa::path(delete, path = "/courses/{course_id}/generations/{generation_id}", tag = "ai",
    params(("course_id" = uuid::Uuid, Path, description = "The course"), ("generation_id" = uuid::Uuid, Path, description = "The generation")),
    security(("bearer" = [])),
    responses((status = 200, description = "The generation, cancelled unless it had ended", body = Generation),
              (status = 404, description = "No such generation", body = Problem, content_type = "application/problem+json")))]
async fn cancel_generation(
    State(state): State<AppState>,
    principal: Principal,
    Path((course, id)): Path<(CourseId, GenerationId)>,
) -> Result<Json<Generation>, AppError> {
    Ok(Json(generations::cancel(&state, &principal, course, id).await?))
}

/// Follow a generation as server-sent events: a `generation` event (the generation as
/// JSON) each time it moves on, the last when it has ended.
#[utoipa::path(get, path = "/courses/{course_id}/generations/{generation_id}/events", tag = "ai",
    params(("course_id" = uuid::Uuid, Path, description = "The course"), ("generation_id" = uuid::Uuid, Path, description = "The generation")),
    security(("bearer" = [])),
    responses((status = 200, description = "The generation's progress", body = String, content_type = "text/event-stream"),
              (status = 404, description = "No such generation", body = Problem, content_type = "application/problem+json")))]
async fn follow_generation(
    State(state): State<AppState>,
    principal: Principal,
    Path((course, id)): Path<(CourseId, GenerationId)>,
) -> Result<Sse<impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>>, AppError> {
    let stream = generations::follow(&state, &principal, course, id).await?;
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_generation))
        .routes(routes!(get_generation, cancel_generation))
        .routes(routes!(follow_generation))
}
