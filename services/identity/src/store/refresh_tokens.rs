//! `refresh_tokens`: rotating refresh tokens grouped in families (one per login).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{TenantId, UserId};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

#[derive(Debug, FromRow)]
pub struct RefreshRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: UserId,
    pub tenant_id: Option<TenantId>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[tracing::instrument(
    level = "debug",
    skip_all,
    fields(family = %family, user = %user, tenant = tenant.map(tracing::field::display))
)]
pub async fn refresh_insert(
    tx: &mut PgConnection,
    family: Uuid,
    user: UserId,
    tenant: Option<TenantId>,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, user_id, tenant_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(family)
    .bind(user)
    .bind(tenant)
    .bind(hash)
    .bind(expires_at)
    .execute(tx)
    .await
    .map(|_| ())
}

/// Locks the token's row for rotation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn refresh_get_for_update(tx: &mut PgConnection, hash: &[u8]) -> Result<Option<RefreshRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, family_id, user_id, tenant_id, expires_at, used_at, revoked_at FROM refresh_tokens \
         WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(hash)
    .fetch_optional(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all, fields(token = %id))]
pub async fn refresh_mark_used(tx: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE id = $1").bind(id).execute(tx).await.map(|_| ())
}

#[tracing::instrument(level = "debug", skip_all, fields(family = %family))]
pub async fn refresh_revoke_family(tx: &mut PgConnection, family: Uuid) -> Result<u64, sqlx::Error> {
    sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL")
        .bind(family)
        .execute(tx)
        .await
        .map(|r| r.rows_affected())
}
