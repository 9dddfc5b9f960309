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

/// Sign up with an invitation: the account is created for the address the invitation was
/// sent to. Then log in and accept the invitation (`POST /api/v1/tenant/invitations/accept`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// The token from the invitation (`mi_...`).
    invitation_token: String,
    /// At least 12 characters.
    password: String,
    display_name: Option<String>,
}

/// Create your account with an invitation token (no credential needed: the token is one).
#[utoipa::path(post, path = "/signup", tag = "users", request_body = SignUp, security(()),
    responses((status = 201, description = "Created", body = User),
              (status = 409, description = "An account exists for the invited address: log in and accept", body = Problem, content_type = "application/problem+json"),
              (status = 410, description = "The invitation expired", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid token or password", body = Problem, content_type = "application/problem+json")))]
async fn signup(State(state): State<AppState>, Json(req): Json<SignUp>) -> Result<(StatusCode, Json<User>), AppError> {
    let user = users::signup(&state, &req.invitation_token, &req.password, req.display_name).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Create a user account (platform admin; everyone else joins by invitation: `/signup`).
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
    OpenApiRouter::new().routes(routes!(create_user)).routes(routes!(get_user)).routes(routes!(signup))
}
