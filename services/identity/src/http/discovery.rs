//! OIDC discovery and the JWKS.

use axum::extract::State;
use mirai_kit::{AppError, Json, auth::jwt::Jwk};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{AppState, app::signing_keys};

#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    keys: Vec<Jwk>,
}

/// The public keys tokens are signed with (including one published ahead of rotation).
#[utoipa::path(get, path = "/jwks.json", tag = "discovery", security(()), responses((status = 200, description = "JWKS", body = Jwks)))]
async fn jwks(State(state): State<AppState>) -> Result<Json<Jwks>, AppError> {
    Ok(Json(Jwks { keys: signing_keys::jwks(&state).await? }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenIdConfiguration {
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
    grant_types_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    id_token_signing_alg_values_supported: Vec<&'static str>,
    response_types_supported: Vec<&'static str>,
    subject_types_supported: Vec<&'static str>,
}

/// OpenID Provider metadata for the issuer `<base>/api/v1/identity`.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery", security(()),
    responses((status = 200, description = "Provider metadata", body = OpenIdConfiguration)))]
async fn openid_configuration(State(state): State<AppState>) -> Json<OpenIdConfiguration> {
    let issuer = state.ctx.issuer();
    Json(OpenIdConfiguration {
        jwks_uri: format!("{issuer}/jwks.json"),
        token_endpoint: format!("{issuer}/token"),
        issuer,
        grant_types_supported: vec!["password", "refresh_token", "client_credentials"],
        token_endpoint_auth_methods_supported: vec!["client_secret_post", "client_secret_basic"],
        id_token_signing_alg_values_supported: vec!["ES256"],
        response_types_supported: vec!["token"],
        subject_types_supported: vec!["public"],
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(jwks)).routes(routes!(openid_configuration))
}
