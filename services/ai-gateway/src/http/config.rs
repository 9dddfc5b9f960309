//! A tenant's AI configuration: providers, routes, budgets, policy.

use axum::{extract::State, http::StatusCode};
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::config::{self, Budget, BudgetInput, Period, Policy, PolicyInput, Provider, ProviderInput, Route, RouteInput},
};

/// Set a provider configuration (org or provider admins). The API key is stored
/// encrypted and never shown again.
#[utoipa::path(put, path = "/providers/{name}", tag = "configuration", request_body = ProviderInput,
    params(("name" = String, Path, description = "1-63 of a-z, 0-9, `-`, `_`")), security(("bearer" = [])),
    responses((status = 200, description = "Stored", body = Provider),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn put_provider(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    Json(req): Json<ProviderInput>,
) -> Result<Json<Provider>, AppError> {
    Ok(Json(config::put_provider(&state, &principal, &name, req).await?))
}

/// The tenant's provider configurations (no keys).
#[utoipa::path(get, path = "/providers", tag = "configuration", security(("bearer" = [])),
    responses((status = 200, description = "Providers", body = Vec<Provider>),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json")))]
async fn list_providers(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<Provider>>, AppError> {
    Ok(Json(config::list_providers(&state, &principal).await?))
}

/// Remove a provider configuration no route uses.
#[utoipa::path(delete, path = "/providers/{name}", tag = "configuration",
    params(("name" = String, Path, description = "The provider")), security(("bearer" = [])),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such provider", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Routes still use it", body = Problem, content_type = "application/problem+json")))]
async fn delete_provider(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    config::delete_provider(&state, &principal, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Route a feature (or `safety.moderation`) to its targets.
#[utoipa::path(put, path = "/routes/{feature}", tag = "configuration", request_body = RouteInput,
    params(("feature" = String, Path, description = "e.g. `authoring.outline`")), security(("bearer" = [])),
    responses((status = 200, description = "Stored", body = Route),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn put_route(
    State(state): State<AppState>,
    principal: Principal,
    Path(feature): Path<String>,
    Json(req): Json<RouteInput>,
) -> Result<Json<Route>, AppError> {
    Ok(Json(config::put_route(&state, &principal, &feature, req).await?))
}

/// The tenant's routes.
#[utoipa::path(get, path = "/routes", tag = "configuration", security(("bearer" = [])),
    responses((status = 200, description = "Routes", body = Vec<Route>),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json")))]
async fn list_routes(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<Route>>, AppError> {
    Ok(Json(config::list_routes(&state, &principal).await?))
}

/// Remove a feature's route.
#[utoipa::path(delete, path = "/routes/{feature}", tag = "configuration",
    params(("feature" = String, Path, description = "The feature")), security(("bearer" = [])),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such route", body = Problem, content_type = "application/problem+json")))]
async fn delete_route(
    State(state): State<AppState>,
    principal: Principal,
    Path(feature): Path<String>,
) -> Result<StatusCode, AppError> {
    config::delete_route(&state, &principal, &feature).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a budget: `*` (the whole tenant) or a feature, per day or month (UTC).
#[utoipa::path(put, path = "/budgets/{scope}/{period}", tag = "configuration", request_body = BudgetInput,
    params(("scope" = String, Path, description = "`*` or a feature"), ("period" = Period, Path, description = "`day` or `month`")),
    security(("bearer" = [])),
    responses((status = 200, description = "Stored, with the period's use so far", body = Budget),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn put_budget(
    State(state): State<AppState>,
    principal: Principal,
    Path((scope, period)): Path<(String, Period)>,
    Json(req): Json<BudgetInput>,
) -> Result<Json<Budget>, AppError> {
    Ok(Json(config::put_budget(&state, &principal, &scope, period, req).await?))
}

/// The tenant's budgets with the current period's use.
#[utoipa::path(get, path = "/budgets", tag = "configuration", security(("bearer" = [])),
    responses((status = 200, description = "Budgets", body = Vec<Budget>),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json")))]
async fn list_budgets(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<Budget>>, AppError> {
    Ok(Json(config::list_budgets(&state, &principal).await?))
}

/// Remove a budget.
#[utoipa::path(delete, path = "/budgets/{scope}/{period}", tag = "configuration",
    params(("scope" = String, Path, description = "`*` or a feature"), ("period" = Period, Path, description = "`day` or `month`")),
    security(("bearer" = [])),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such budget", body = Problem, content_type = "application/problem+json")))]
async fn delete_budget(
    State(state): State<AppState>,
    principal: Principal,
    Path((scope, period)): Path<(String, Period)>,
) -> Result<StatusCode, AppError> {
    config::delete_budget(&state, &principal, &scope, period).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's safety policy (the default until one is set).
#[utoipa::path(get, path = "/policy", tag = "configuration", security(("bearer" = [])),
    responses((status = 200, description = "The policy", body = Policy),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json")))]
async fn get_policy(State(state): State<AppState>, principal: Principal) -> Result<Json<Policy>, AppError> {
    Ok(Json(config::get_policy(&state, &principal).await?))
}

/// Set the tenant's safety policy.
#[utoipa::path(put, path = "/policy", tag = "configuration", request_body = PolicyInput, security(("bearer" = [])),
    responses((status = 200, description = "Stored", body = Policy),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn put_policy(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<PolicyInput>,
) -> Result<Json<Policy>, AppError> {
    Ok(Json(config::put_policy(&state, &principal, req).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_provider, delete_provider))
        .routes(routes!(list_providers))
        .routes(routes!(put_route, delete_route))
        .routes(routes!(list_routes))
        .routes(routes!(put_budget, delete_budget))
        .routes(routes!(list_budgets))
        .routes(routes!(get_policy, put_policy))
}
