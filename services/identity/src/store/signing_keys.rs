//! `signing_keys`: the ES256 key pairs tokens are signed with.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, types::Json};

use mirai_kit::auth::jwt::Jwk;

#[derive(Debug, FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    pub kek_id: String,
    pub sealed_key: Vec<u8>,
    pub public_jwk: Json<Jwk>,
}

const COLUMNS: &str = "kid, kek_id, sealed_key, public_jwk";

#[tracing::instrument(level = "debug", skip_all, fields(kid = %kid))]
pub async fn signing_key_insert(
    tx: &mut PgConnection,
    kid: &str,
    kek_id: &str,
    sealed_key: &[u8],
    jwk: &Jwk,
    not_before: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, kek_id, sealed_key, public_jwk, not_before) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(kid)
    .bind(kek_id)
    .bind(sealed_key)
    .bind(Json(jwk))
    .bind(not_before)
    .execute(tx)
    .await
    .map(|_| ())
}

/// The key that signs now: the newest whose `not_before` has passed and that is not retired.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn signing_key_current(tx: &mut PgConnection) -> Result<Option<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM signing_keys WHERE not_before <= now() AND (retired_at IS NULL OR retired_at > now()) \
         ORDER BY not_before DESC LIMIT 1"
    ))
    .fetch_optional(tx)
    .await
}

/// Keys not yet retired (the current one and any published but not yet signing).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn signing_key_list_unretired(tx: &mut PgConnection) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM signing_keys WHERE retired_at IS NULL ORDER BY not_before"))
        .fetch_all(tx)
        .await
}

/// A key's public half as announced.
#[derive(Debug, sqlx::FromRow)]
pub struct PublicKeyRow {
    pub kid: String,
    pub public_jwk: Json<Jwk>,
    pub not_before: chrono::DateTime<chrono::Utc>,
}

/// The unretired keys' public halves.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn signing_key_list_unretired_public(tx: &mut PgConnection) -> Result<Vec<PublicKeyRow>, sqlx::Error> {
    sqlx::query_as("SELECT kid, public_jwk, not_before FROM signing_keys WHERE retired_at IS NULL ORDER BY not_before")
        .fetch_all(tx)
        .await
}

/// Keys whose tokens may still be valid: what JWKS publishes.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn signing_key_list_verifiable(tx: &mut PgConnection) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM signing_keys WHERE verify_until IS NULL OR verify_until > now() ORDER BY not_before DESC"
    ))
    .fetch_all(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all, fields(kid = %kid))]
pub async fn signing_key_retire(
    tx: &mut PgConnection,
    kid: &str,
    retired_at: DateTime<Utc>,
    verify_until: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE signing_keys SET retired_at = $2, verify_until = $3, revision = revision + 1 WHERE kid = $1 RETURNING revision",
    )
    .bind(kid)
    .bind(retired_at)
    .bind(verify_until)
    .fetch_one(tx)
    .await
}
