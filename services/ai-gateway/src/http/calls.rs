//! Calls: chat (JSON or SSE), structured generation, embeddings; the prompt registry.

use axum::{
    extract::State,
    response::sse::{KeepAlive, Sse},
};
use mirai_kit::{AppError, Json, Principal, error::Problem};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{
        calls::{self, ChatAnswer, ChatInput, Embeddings, EmbeddingsInput, GenerateInput, Generation},
        vectors::{self, Similar, SimilarInput},
    },
    prompts::{self, PromptInfo},
};

/// Chat through the feature's route. Send `Idempotency-Key` to retry without paying twice.
#[utoipa::path(post, path = "/chat", tag = "calls", request_body = ChatInput, security(("bearer" = [])),
    responses((status = 200, description = "The answer", body = ChatAnswer),
              (status = 403, description = "AI is off for the tenant (`ai-disabled`), or the caller may not use the feature", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "No route for the feature (`ai-no-route`)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid, or blocked by policy (`ai-input-blocked`, `ai-output-blocked`), or refused by the model (`ai-refused`)", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "A budget is spent (see `Retry-After`)", body = Problem, content_type = "application/problem+json"),
              (status = 502, description = "The provider rejected the request (`ai-upstream-rejected`)", body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "No model answered: outage, timeouts or open circuits (see `Retry-After`)", body = Problem, content_type = "application/problem+json")))]
async fn chat(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<ChatInput>,
) -> Result<Json<ChatAnswer>, AppError> {
    Ok(Json(calls::chat(&state, &principal, req).await?))
}

/// Chat, streamed as server-sent events: `meta` (call id, model), `delta` (`{"text"}`)…,
/// then `done` (tokens, cost) or `error` (a problem). Refusals before the first token are
/// ordinary problems. A stream is not replayable: `Idempotency-Key` is not honoured here.
#[utoipa::path(post, path = "/chat/stream", tag = "calls", request_body = ChatInput, security(("bearer" = [])),
    responses((status = 200, description = "The answer as it is generated", body = String, content_type = "text/event-stream"),
              (status = 403, description = "AI is off for the tenant, or the caller may not use the feature", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "No route for the feature", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid, or blocked by policy", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "A budget is spent (see `Retry-After`)", body = Problem, content_type = "application/problem+json"),
              (status = 502, description = "The provider rejected the request", body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "No model answered", body = Problem, content_type = "application/problem+json")))]
async fn chat_stream(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<ChatInput>,
) -> Result<Sse<impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>>, AppError> {
    let stream = calls::chat_stream(&state, &principal, req).await?;
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Structured generation from a registered prompt: the answer is validated against the
/// prompt's output schema (and citation rule), retried once with what was wrong, else a
/// 502 `ai-invalid-output`.
#[utoipa::path(post, path = "/generate", tag = "calls", request_body = GenerateInput, security(("bearer" = [])),
    responses((status = 200, description = "The validated answer", body = Generation),
              (status = 403, description = "AI is off for the tenant, or the caller may not use the feature", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "No route for the feature", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid input for the prompt, blocked by policy, or refused", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "A budget is spent (see `Retry-After`)", body = Problem, content_type = "application/problem+json"),
              (status = 502, description = "The provider rejected the request, or answered invalidly twice", body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "No model answered", body = Problem, content_type = "application/problem+json")))]
async fn generate(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<GenerateInput>,
) -> Result<Json<Generation>, AppError> {
    Ok(Json(calls::generate(&state, &principal, req).await?))
}

/// Embeddings for up to 256 texts through the feature's route.
#[utoipa::path(post, path = "/embeddings", tag = "calls", request_body = EmbeddingsInput, security(("bearer" = [])),
    responses((status = 200, description = "One vector per text", body = Embeddings),
              (status = 403, description = "AI is off for the tenant", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "No route for the feature", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid, or blocked by policy", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "A budget is spent (see `Retry-After`)", body = Problem, content_type = "application/problem+json"),
              (status = 502, description = "The provider rejected the request", body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "No model answered", body = Problem, content_type = "application/problem+json")))]
async fn embeddings(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<EmbeddingsInput>,
) -> Result<Json<Embeddings>, AppError> {
    Ok(Json(calls::embeddings(&state, &principal, req).await?))
}

/// The tenant's lesson chunks nearest in meaning to a text (the local embedding model;
/// needs `ai.semantic_search`).
#[utoipa::path(post, path = "/similar", tag = "calls", request_body = SimilarInput, security(("bearer" = [])),
    responses((status = 200, description = "Nearest first", body = Similar),
              (status = 403, description = "AI is off for the tenant (`ai-disabled`)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "The local model is not installed", body = Problem, content_type = "application/problem+json")))]
async fn similar(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<SimilarInput>,
) -> Result<Json<Similar>, AppError> {
    Ok(Json(vectors::similar(&state, &principal, req).await?))
}

/// Every registered prompt version, with its input and output schemas.
#[utoipa::path(get, path = "/prompts", tag = "prompts", security(("bearer" = [])),
    responses((status = 200, description = "The registry", body = Vec<PromptInfo>),
              (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json")))]
async fn list_prompts(_principal: Principal) -> Json<Vec<PromptInfo>> {
    Json(prompts::registry().all().map(|p| p.info()).collect())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat))
        .routes(routes!(chat_stream))
        .routes(routes!(generate))
        .routes(routes!(embeddings))
        .routes(routes!(similar))
        .routes(routes!(list_prompts))
}
