//! Login, the OAuth2 token endpoint (refresh and client credentials), logout, and `me`.

use axum::{
    Form,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use mirai_contracts::ids::TenantId;
use mirai_kit::{AppError, Json, Principal, client_ip::ClientIp, error::Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    app::session::{self, LoginInput, TokenResponse},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
    /// Tenant to act in; defaults to the user's first tenant.
    #[schema(value_type = Option<uuid::Uuid>)]
    tenant_id: Option<TenantId>,
}

/// Log in with email and password.
#[utoipa::path(post, path = "/login", tag = "session", security(()), request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the requested tenant", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
    ))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenResponse>, AppError> {
    let input = LoginInput { email: req.email, password: req.password, tenant_id: req.tenant_id, ip };
    Ok(Json(session::login(&state, input).await?))
}

/// OAuth2 token request (form-encoded, RFC 6749).
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
pub struct TokenRequest {
    /// `refresh_token` or `client_credentials`.
    grant_type: String,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// OAuth2 token endpoint: `refresh_token` (rotating) and `client_credentials` (API key id
/// and secret, in the form or as HTTP Basic).
#[utoipa::path(post, path = "/token", tag = "session", security(()),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "Invalid grant", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid client", body = Problem, content_type = "application/problem+json"),
    ))]
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Result<Json<TokenResponse>, AppError> {
    let Form(req) = form.map_err(|e| {
        AppError::client(StatusCode::BAD_REQUEST, "invalid-request", "Invalid token request", e.body_text())
    })?;
    let missing = |f: &str| AppError::invalid(f, "is required for this grant_type");
    match req.grant_type.as_str() {
        "refresh_token" => {
            let t = req.refresh_token.ok_or_else(|| missing("refresh_token"))?;
            Ok(Json(session::refresh(&state, &t).await?))
        }
        "client_credentials" => {
            let (id, secret) = match (req.client_id, req.client_secret) {
                (Some(i), Some(s)) => (i, s),
                _ => basic_credentials(&headers).ok_or_else(|| missing("client_id and client_secret"))?,
            };
            Ok(Json(session::client_credentials(&state, &id, &secret, req.scope.as_deref()).await?))
        }
        other => Err(AppError::client(
            StatusCode::BAD_REQUEST,
            "unsupported-grant-type",
            "Unsupported grant type",
            format!("grant_type `{other}` is not supported; use refresh_token or client_credentials"),
        )),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    refresh_token: String,
}

/// End the session a refresh token belongs to.
#[utoipa::path(post, path = "/logout", tag = "session", security(()), request_body = LogoutRequest,
    responses((status = 204, description = "Logged out")))]
async fn logout(State(state): State<AppState>, Json(req): Json<LogoutRequest>) -> Result<StatusCode, AppError> {
    session::logout(&state, &req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    subject: String,
    user_id: Option<Uuid>,
    tenant_id: Option<Uuid>,
    roles: Vec<String>,
    scopes: Vec<String>,
    email: Option<String>,
}

/// Who the presented credential is.
#[utoipa::path(get, path = "/me", tag = "session", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me),
              (status = 401, description = "No or bad credential", body = Problem, content_type = "application/problem+json")))]
async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        subject: principal.subject,
        user_id: principal.user_id,
        tenant_id: principal.tenant_id,
        roles: principal.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        scopes: principal.scopes,
        email: principal.email,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(token)).routes(routes!(logout)).routes(routes!(me))
}
