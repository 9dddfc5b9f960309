//! search's HTTP surface under `/api/v1/search`.

use axum::extract::State;
use mirai_kit::{AppError, Json, Principal, Query, error::Problem};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Results, SearchParams, SuggestParams},
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai search", version = "1.0.0", description = "Find published courses and lessons: full text per language, typo tolerance, highlights, autocomplete; the caller's tenant and public courses only."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "search", description = "Full-text search and autocomplete.")),
)]
struct ApiDoc;

/// Courses and lessons matching `q`, best first, with highlights.
#[utoipa::path(get, path = "/search", tag = "search", params(SearchParams), security(("bearer" = [])),
    responses((status = 200, description = "The hits", body = Results),
              (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json")))]
async fn search(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<SearchParams>,
) -> Result<Json<Results>, AppError> {
    Ok(Json(app::search(&state, &principal, params).await?))
}

/// Titles completing what the user typed.
#[utoipa::path(get, path = "/suggest", tag = "search", params(SuggestParams), security(("bearer" = [])),
    responses((status = 200, description = "Titles, best first", body = Vec<String>),
              (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json")))]
async fn suggest(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<SuggestParams>,
) -> Result<Json<Vec<String>>, AppError> {
    Ok(Json(app::suggest(&state, &principal, params).await?))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).routes(routes!(search)).routes(routes!(suggest))
}
