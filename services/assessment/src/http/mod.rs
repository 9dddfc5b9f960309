//! assessment's HTTP surface under `/api/v1/assessment`.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use mirai_contracts::ids::{ItemId, QuizAttemptId, QuizId};
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Answers, Attempt, Item, NewItem, NewQuiz, Quiz, Review},
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai assessment", version = "1.0.0", description = "Item banks, quizzes and attempts: drawn and shuffled per attempt, graded on the server, timed by the server; results to the LRS as xAPI."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "items", description = "A provider's item bank: eight kinds of question, each with its key."),
         (name = "quizzes", description = "Quizzes of a course: pools, shuffling, time and attempt limits, a pass mark."),
         (name = "attempts", description = "A learner's attempts: questions without their keys, answers saved, graded on submission or at the time limit.")),
)]
struct ApiDoc;

/// Write an item (authors, provider and org admins). `body.kind` is one of
/// `single_choice`, `multiple_choice`, `true_false`, `fill_in`, `matching`, `ordering`,
/// `numeric` or `essay`, with that kind's key.
#[utoipa::path(post, path = "/items", tag = "items", request_body = NewItem, security(("bearer" = [])),
    responses((status = 201, description = "Written", body = Item),
              (status = 403, description = "Not an author", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid: each error names its field", body = Problem, content_type = "application/problem+json")))]
async fn create_item(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<NewItem>,
) -> Result<(StatusCode, Json<Item>), AppError> {
    Ok((StatusCode::CREATED, Json(app::create_item(&state, &principal, req).await?)))
}

/// An item of the tenant's bank, key included.
#[utoipa::path(get, path = "/items/{item_id}", tag = "items",
    params(("item_id" = uuid::Uuid, Path, description = "The item")), security(("bearer" = [])),
    responses((status = 200, description = "The item", body = Item),
              (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json")))]
async fn get_item(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<ItemId>,
) -> Result<Json<Item>, AppError> {
    Ok(Json(app::get_item(&state, &principal, id).await?))
}

/// The tenant's items, newest first.
#[utoipa::path(get, path = "/items", tag = "items", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of items", body = Page<Item>),
              (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json")))]
async fn list_items(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Item>>, AppError> {
    Ok(Json(app::list_items(&state, &principal, &page).await?))
}

/// Create a quiz of a course from the tenant's items.
#[utoipa::path(post, path = "/quizzes", tag = "quizzes", request_body = NewQuiz, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = Quiz),
              (status = 403, description = "Not an author", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_quiz(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<NewQuiz>,
) -> Result<(StatusCode, Json<Quiz>), AppError> {
    Ok((StatusCode::CREATED, Json(app::create_quiz(&state, &principal, req).await?)))
}

/// A quiz: to its authors, and to learners enrolled in its course (no items, no keys).
#[utoipa::path(get, path = "/quizzes/{quiz_id}", tag = "quizzes",
    params(("quiz_id" = uuid::Uuid, Path, description = "The quiz")), security(("bearer" = [])),
    responses((status = 200, description = "The quiz", body = Quiz),
              (status = 404, description = "No such quiz (or not one of the caller's courses)", body = Problem, content_type = "application/problem+json")))]
async fn get_quiz(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<QuizId>,
) -> Result<Json<Quiz>, AppError> {
    Ok(Json(app::get_quiz(&state, &principal, id).await?))
}

/// Start an attempt (201), or get back the one open (200). Its questions come without
/// their keys; the time limit runs from now.
#[utoipa::path(post, path = "/quizzes/{quiz_id}/attempts", tag = "attempts",
    params(("quiz_id" = uuid::Uuid, Path, description = "The quiz")), security(("bearer" = [])),
    responses((status = 201, description = "A new attempt", body = Attempt),
              (status = 200, description = "The attempt open", body = Attempt),
              (status = 403, description = "Not enrolled in the quiz's course", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such quiz", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "No attempts left", body = Problem, content_type = "application/problem+json")))]
async fn start_attempt(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<QuizId>,
) -> Result<(StatusCode, Json<Attempt>), AppError> {
    let (a, new) = app::start(&state, &principal, id).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(a)))
}

/// The caller's attempt (closed first if its time is up).
#[utoipa::path(get, path = "/attempts/{attempt_id}", tag = "attempts",
    params(("attempt_id" = uuid::Uuid, Path, description = "The attempt")), security(("bearer" = [])),
    responses((status = 200, description = "The attempt", body = Attempt),
              (status = 404, description = "No such attempt of the caller's", body = Problem, content_type = "application/problem+json")))]
async fn get_attempt(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<QuizAttemptId>,
) -> Result<Json<Attempt>, AppError> {
    Ok(Json(app::get_attempt(&state, &principal, id).await?))
}

/// Save responses (item id → response; null clears one). `If-Match: "<revision>"`
/// refuses a stale write (412). After the time limit: 409 `time-up`, the attempt closed
/// with what was saved before it.
#[utoipa::path(put, path = "/attempts/{attempt_id}/answers", tag = "attempts",
    params(("attempt_id" = uuid::Uuid, Path, description = "The attempt")), request_body = Answers, security(("bearer" = [])),
    responses((status = 200, description = "Saved", body = Attempt),
              (status = 404, description = "No such attempt of the caller's", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Time is up, or the attempt is closed", body = Problem, content_type = "application/problem+json"),
              (status = 412, description = "Another write came first", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A response does not fit its question", body = Problem, content_type = "application/problem+json")))]
async fn save_answers(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<QuizAttemptId>,
    headers: HeaderMap,
    Json(req): Json<Answers>,
) -> Result<Json<Attempt>, AppError> {
    let if_match = match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(v) => Some(
            v.trim()
                .trim_matches('"')
                .parse::<i64>()
                .map_err(|_| AppError::invalid("If-Match", "a revision: \"<n>\""))?,
        ),
    };
    Ok(Json(app::answer(&state, &principal, id, req, if_match).await?))
}

/// Submit the attempt: graded on the server now (with an essay, once a person scores it).
#[utoipa::path(post, path = "/attempts/{attempt_id}/submit", tag = "attempts",
    params(("attempt_id" = uuid::Uuid, Path, description = "The attempt")), security(("bearer" = [])),
    responses((status = 200, description = "Graded (or waiting for review)", body = Attempt),
              (status = 404, description = "No such attempt of the caller's", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Time is up, or already closed", body = Problem, content_type = "application/problem+json")))]
async fn submit_attempt(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<QuizAttemptId>,
) -> Result<Json<Attempt>, AppError> {
    Ok(Json(app::submit(&state, &principal, id).await?))
}

/// Score an attempt's essays (the learner's org admins and managers); it is then graded.
#[utoipa::path(post, path = "/attempts/{attempt_id}/review", tag = "attempts",
    params(("attempt_id" = uuid::Uuid, Path, description = "The attempt")), request_body = Review, security(("bearer" = [])),
    responses((status = 200, description = "Graded", body = Attempt),
              (status = 403, description = "Not a grader of the tenant", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such attempt", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not waiting for review", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "An essay without its score", body = Problem, content_type = "application/problem+json")))]
async fn review_attempt(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<QuizAttemptId>,
    Json(req): Json<Review>,
) -> Result<Json<Attempt>, AppError> {
    Ok(Json(app::review(&state, &principal, id, req).await?))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(create_item, list_items))
        .routes(routes!(get_item))
        .routes(routes!(create_quiz))
        .routes(routes!(get_quiz))
        .routes(routes!(start_attempt))
        .routes(routes!(get_attempt))
        .routes(routes!(save_answers))
        .routes(routes!(submit_attempt))
        .routes(routes!(review_attempt))
}
