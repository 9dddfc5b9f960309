//! Signing-key rotation (platform admin).

use axum::{extract::State, http::StatusCode};
use mirai_kit::{AppError, Json, Principal, error::Problem};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{AppState, app::signing_keys};

#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    /// The new key's id; it is in JWKS now and signs after the publish delay.
    kid: String,
}

/// Rotate the token-signing key.
#[utoipa::path(post, path = "/signing-keys/rotate", tag = "signing-keys", security(("bearer" = [])),
    responses((status = 202, description = "Rotation scheduled", body = Rotated),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json")))]
async fn rotate(State(state): State<AppState>, principal: Principal) -> Result<(StatusCode, Json<Rotated>), AppError> {
    let kid = signing_keys::rotate(&state, &principal).await?;
    Ok((StatusCode::ACCEPTED, Json(Rotated { kid })))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rotate))
}
