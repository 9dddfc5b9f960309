//! Sessions: password login (throttled per account and per IP), access tokens, rotating
//! refresh tokens with reuse detection, logout, and the client-credentials grant.

use std::net::IpAddr;

use chrono::{Duration as ChronoDuration, Utc};
use mirai_contracts::ids::{TenantId, UserId};
use mirai_kit::{
    AppError, Principal, Role,
    auth::{CredentialKind, jwt},
};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    AppState, crypto,
    store::{memberships, refresh_tokens, throttle, users},
};

/// What a successful login or refresh returns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The tenant the token acts in, if any.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub tenant_id: Option<TenantId>,
    pub roles: Vec<String>,
}

pub struct LoginInput {
    pub email: String,
    pub password: String,
    pub tenant_id: Option<TenantId>,
    pub ip: Option<IpAddr>,
}

fn invalid_grant(detail: &str) -> AppError {
    AppError::client(axum::http::StatusCode::BAD_REQUEST, "invalid-grant", "Invalid grant", detail)
}

fn bad_login() -> AppError {
    AppError::Unauthenticated("invalid email or password".into())
}

#[tracing::instrument(skip_all, fields(user = tracing::field::Empty, tenant = tracing::field::Empty))]
pub async fn login(state: &AppState, input: LoginInput) -> Result<TokenResponse, AppError> {
    let s = &state.settings;
    let window = s.login_window.as_secs() as i64;
    let account_key = format!("acct:{}", users::normalize_email(&input.email));
    let ip_key = input.ip.map(|ip| format!("ip:{ip}"));
    let mut tx = state.ctx.db.platform_tx().await?;
    for (key, max) in [(Some(&account_key), s.max_failures_account), (ip_key.as_ref(), s.max_failures_ip)] {
        if let Some(key) = key
            && let Some(wait) = throttle::throttle_blocked_for(&mut tx, key, max, window).await?
        {
            return Err(AppError::TooManyRequests {
                detail: "too many failed logins; try again later".into(),
                retry_after_secs: wait as u64,
            });
        }
    }
    let user = users::user_get_by_email(&mut tx, &input.email).await?;
    tx.commit().await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| crypto::dummy_hash(s).to_owned());
    let settings = state.settings.clone();
    let password = input.password;
    let ok = tokio::task::spawn_blocking(move || crypto::verify_password(&settings, &password, &hash))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let mut tx = state.ctx.db.platform_tx().await?;
    let user = match (ok, user) {
        (true, Some(u)) => u,
        _ => {
            throttle::throttle_record_failure(&mut tx, &account_key, window).await?;
            if let Some(k) = &ip_key {
                throttle::throttle_record_failure(&mut tx, k, window).await?;
            }
            tx.commit().await?;
            return Err(bad_login());
        }
    };
    throttle::throttle_clear(&mut tx, &account_key).await?;
    tx.commit().await?;
    let span = tracing::Span::current();
    span.record("user", tracing::field::display(user.id));
    let wanted = input.tenant_id.or(user.default_tenant_id);
    let (tenant, (roles, ver)) = match session_roles(state, &user, wanted).await? {
        Some(access) => (wanted, access),
        None if input.tenant_id.is_some() => {
            return Err(AppError::Forbidden("you are not a member of that tenant".into()));
        }
        // No longer a member of the default tenant: a session without one.
        None => (None, (vec![], None)),
    };
    span.record("tenant", tenant.map(tracing::field::display));
    let family = Uuid::now_v7();
    let mut tx = state.ctx.db.platform_tx().await?;
    let refresh = new_refresh_in_txn(state, &mut tx, family, user.id, tenant).await?;
    tx.commit().await?;
    let sub = format!("user:{}", user.id);
    access_response(state, &sub, tenant, roles, ver, vec![], Some(user.email), "user", Some(refresh)).await
}

/// The roles a session acting in `tenant` carries: the user's roles there (from the
/// projected memberships), plus `platform_admin` for platform admins, who may act in any
/// tenant. None when the user is not a member of `tenant`. With the roles comes the
/// revision of the membership they were read from (the token's `ver`): a later access
/// change makes every key store refuse the token.
async fn session_roles(
    state: &AppState,
    user: &users::UserRow,
    tenant: Option<TenantId>,
) -> Result<Option<(Vec<String>, Option<i64>)>, AppError> {
    let (mut roles, ver) = match tenant {
        None => (Some(vec![]), None),
        Some(t) => {
            let mut tx = state.ctx.db.tenant_tx(t.into()).await?;
            let access = memberships::membership_access(&mut tx, t, user.id).await?;
            tx.commit().await?;
            access
        }
    };
    if user.is_platform_admin {
        let r = roles.get_or_insert_with(Vec::new);
        if !r.iter().any(|r| r == Role::PlatformAdmin.as_str()) {
            r.push(Role::PlatformAdmin.as_str().into());
        }
    }
    Ok(roles.map(|r| (r, ver)))
}

async fn new_refresh_in_txn(
    state: &AppState,
    tx: &mut PgConnection,
    family: Uuid,
    user: UserId,
    tenant: Option<TenantId>,
) -> Result<String, AppError> {
    let token = format!("mr_{}", crypto::random_token(32));
    let expires = Utc::now() + ChronoDuration::from_std(state.settings.refresh_ttl).unwrap_or_default();
    refresh_tokens::refresh_insert(tx, family, user, tenant, &crypto::sha256(&token), expires).await?;
    Ok(token)
}

#[allow(clippy::too_many_arguments)]
async fn access_response(
    state: &AppState,
    sub: &str,
    tenant: Option<TenantId>,
    roles: Vec<String>,
    ver: Option<i64>,
    scopes: Vec<String>,
    email: Option<String>,
    kind: &str,
    refresh_token: Option<String>,
) -> Result<TokenResponse, AppError> {
    let (kid, key) = super::signing_keys::current(state).await?;
    let now = Utc::now().timestamp();
    let ttl = state.settings.access_ttl.as_secs() as i64;
    let claims = jwt::Claims {
        iss: state.ctx.issuer(),
        aud: state.ctx.config.jwt_audience.clone().into(),
        sub: sub.to_owned(),
        exp: now + ttl,
        iat: now,
        nbf: None,
        jti: Uuid::now_v7().to_string(),
        tid: tenant.map(TenantId::into_uuid),
        roles: roles.clone(),
        scopes,
        email,
        kind: kind.to_owned(),
        ver,
    };
    Ok(TokenResponse {
        access_token: jwt::sign(&key, &kid, &claims),
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token,
        tenant_id: tenant,
        roles,
    })
}

/// Rotates a refresh token. Presenting one that was already used (or belongs to a
/// revoked family) revokes the whole family: a stolen token dies with the real one.
#[tracing::instrument(skip_all, fields(user = tracing::field::Empty, tenant = tracing::field::Empty))]
pub async fn refresh(state: &AppState, token: &str) -> Result<TokenResponse, AppError> {
    let mut tx = state.ctx.db.platform_tx().await?;
    let row = refresh_tokens::refresh_get_for_update(&mut tx, &crypto::sha256(token))
        .await?
        .ok_or_else(|| invalid_grant("the refresh token is not recognized"))?;
    let span = tracing::Span::current();
    span.record("user", tracing::field::display(row.user_id));
    span.record("tenant", row.tenant_id.map(tracing::field::display));
    if row.used_at.is_some() || row.revoked_at.is_some() {
        let n = refresh_tokens::refresh_revoke_family(&mut tx, row.family_id).await?;
        tx.commit().await?;
        tracing::warn!(family = %row.family_id, user = %row.user_id, revoked = n, "refresh token reuse: family revoked");
        return Err(invalid_grant("the refresh token was already used; the session has been revoked"));
    }
    if row.expires_at < Utc::now() {
        return Err(invalid_grant("the refresh token has expired"));
    }
    refresh_tokens::refresh_mark_used(&mut tx, row.id).await?;
    let user =
        users::user_get(&mut tx, row.user_id).await?.ok_or_else(|| invalid_grant("the account no longer exists"))?;
    let next = new_refresh_in_txn(state, &mut tx, row.family_id, row.user_id, row.tenant_id).await?;
    tx.commit().await?;
    let (tenant, (roles, ver)) = match session_roles(state, &user, row.tenant_id).await? {
        Some(access) => (row.tenant_id, access),
        None => (None, (vec![], None)),
    };
    let sub = format!("user:{}", user.id);
    access_response(state, &sub, tenant, roles, ver, vec![], Some(user.email), "user", Some(next)).await
}

/// Ends the session the refresh token belongs to (idempotent).
#[tracing::instrument(skip_all, fields(user = tracing::field::Empty))]
pub async fn logout(state: &AppState, token: &str) -> Result<(), AppError> {
    let mut tx = state.ctx.db.platform_tx().await?;
    if let Some(row) = refresh_tokens::refresh_get_for_update(&mut tx, &crypto::sha256(token)).await? {
        tracing::Span::current().record("user", tracing::field::display(row.user_id));
        refresh_tokens::refresh_revoke_family(&mut tx, row.family_id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// OAuth2 client credentials: an API key's id and secret buy a short-lived access token
/// carrying the key's tenant, roles and (optionally narrowed) scopes.
#[tracing::instrument(skip_all, fields(client = %client_id, tenant = tracing::field::Empty))]
pub async fn client_credentials(
    state: &AppState,
    client_id: &str,
    client_secret: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, AppError> {
    let p: Principal = state
        .ctx
        .keys
        .verify_api_key(client_id, client_secret)
        .map_err(|_| AppError::Unauthenticated("invalid client credentials".into()))?;
    debug_assert_eq!(p.kind, CredentialKind::ApiKey);
    let tenant = p.tenant_id.map(TenantId::from);
    tracing::Span::current().record("tenant", tenant.map(tracing::field::display));
    let scopes = match scope {
        None => p.scopes.clone(),
        Some(s) => {
            let asked: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
            if let Some(bad) = asked.iter().find(|a| !p.scopes.contains(a)) {
                return Err(AppError::client(
                    axum::http::StatusCode::BAD_REQUEST,
                    "invalid-scope",
                    "Invalid scope",
                    format!("scope `{bad}` is not granted to this client"),
                ));
            }
            asked
        }
    };
    let roles = p.roles.iter().map(|r| r.as_str().to_owned()).collect();
    access_response(state, &format!("client:{client_id}"), tenant, roles, None, scopes, None, "client", None).await
}
