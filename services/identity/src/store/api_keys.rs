//! `api_keys`: per-tenant API keys (tenant rows, RLS). Only the secret's SHA-256 is kept.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::TenantId;
use mirai_kit::pagination::Cursor;
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub name: String,
    pub secret_sha256: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, name, secret_sha256, roles, scopes, expires_at, revoked_at, last_used_at, created_by, revision, created_at";

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %k.tenant_id, key = %k.id))]
pub async fn api_key_insert(tx: &mut PgConnection, k: &ApiKeyRow) -> Result<ApiKeyRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO api_keys (id, tenant_id, name, secret_sha256, roles, scopes, expires_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(&k.id)
    .bind(k.tenant_id)
    .bind(&k.name)
    .bind(&k.secret_sha256)
    .bind(&k.roles)
    .bind(&k.scopes)
    .bind(k.expires_at)
    .bind(&k.created_by)
    .fetch_one(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all, fields(key = %id))]
pub async fn api_key_get(tx: &mut PgConnection, id: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1")).bind(id).fetch_optional(tx).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn api_key_list(
    tx: &mut PgConnection,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    // Key ids are not UUIDs; the cursor's id is the UUID inside `mk_<hex>`.
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys \
         WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, 'mk_' || replace($2::text, '-', ''))) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

/// Marks the key revoked; returns the row with its new revision, None if already revoked.
#[tracing::instrument(level = "debug", skip_all, fields(key = %id))]
pub async fn api_key_revoke(tx: &mut PgConnection, id: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE api_keys SET revoked_at = now(), revision = revision + 1 WHERE id = $1 AND revoked_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Whether key `id` exists and is not revoked, locking its row against a concurrent
/// revocation until the transaction ends.
#[tracing::instrument(level = "debug", skip_all, fields(key = %id))]
pub async fn api_key_live_for_share(tx: &mut PgConnection, id: &str) -> Result<bool, sqlx::Error> {
    let revoked: Option<Option<chrono::DateTime<chrono::Utc>>> =
        sqlx::query_scalar("SELECT revoked_at FROM api_keys WHERE id = $1 FOR SHARE")
            .bind(id)
            .fetch_optional(tx)
            .await?;
    Ok(matches!(revoked, Some(None)))
}

/// Revokes every live key created by `id` or, recursively, by a key it created (keys
/// record their creator as `apikey:<id>` or, through a client token, `client:<id>`).
#[tracing::instrument(level = "debug", skip_all, fields(key = %id))]
pub async fn api_key_revoke_descendants(tx: &mut PgConnection, id: &str) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH RECURSIVE tree(id) AS ( \
           SELECT id FROM api_keys WHERE created_by IN ('apikey:' || $1, 'client:' || $1) \
           UNION \
           SELECT k.id FROM api_keys k JOIN tree t ON k.created_by IN ('apikey:' || t.id, 'client:' || t.id)) \
         UPDATE api_keys SET revoked_at = now(), revision = revision + 1 \
         WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_all(tx)
    .await
}

/// Moves `last_used_at` forward (never back: reports arrive out of order).
#[tracing::instrument(level = "debug", skip_all, fields(key = %id))]
pub async fn api_key_touch(tx: &mut PgConnection, id: &str, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET last_used_at = GREATEST(last_used_at, $2) WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(tx)
        .await
        .map(|_| ())
}
