//! Users.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::UserId;
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::users::{self, NewUser, User},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    email: String,
    /// At least 12 characters.
    password: String,
    display_name: Option<String>,
}

/// Create a user account (platform admin only; org admins invite people to their tenant).
#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUser, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = User),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Email taken", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CreateUser>,
) -> Result<(StatusCode, Json<User>), AppError> {
    let input = NewUser { email: req.email, password: req.password, display_name: req.display_name };
    Ok((StatusCode::CREATED, Json(users::create(&state, &principal, input).await?)))
}

/// Get a user (yourself, or as an org admin/manager).
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The user", body = User),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<UserId>,
) -> Result<Json<User>, AppError> {
    Ok(Json(users::get(&state, &principal, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_user)).routes(routes!(get_user))
}
