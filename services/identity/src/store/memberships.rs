//! `memberships`: identity's read model of tenant roles (tenant rows, RLS).

use mirai_contracts::ids::{TenantId, UserId};
use sqlx::PgConnection;

/// Applies a projected membership if it is newer than what we hold; true if it was.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user))]
pub async fn membership_upsert_in_txn(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    roles: &[String],
    active: bool,
    revision: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, roles, active, revision) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE \
           SET roles = EXCLUDED.roles, active = EXCLUDED.active, revision = EXCLUDED.revision, updated_at = now() \
           WHERE memberships.revision < EXCLUDED.revision",
    )
    .bind(tenant)
    .bind(user)
    .bind(roles)
    .bind(active)
    .bind(revision)
    .execute(tx)
    .await
    .map(|r| r.rows_affected() > 0)
}

/// The user's roles in the tenant if they are an active member, and the revision of
/// their membership there (active or not), which access tokens carry as `ver`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user))]
pub async fn membership_access(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
) -> Result<(Option<Vec<String>>, Option<i64>), sqlx::Error> {
    let row: Option<(Vec<String>, bool, i64)> =
        sqlx::query_as("SELECT roles, active, revision FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant)
            .bind(user)
            .fetch_optional(tx)
            .await?;
    Ok(match row {
        Some((roles, active, revision)) => (active.then_some(roles), Some(revision)),
        None => (None, None),
    })
}

/// The user's roles in the transaction's tenant, if they are an active member.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user))]
pub async fn membership_roles(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    sqlx::query_scalar("SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2 AND active")
        .bind(tenant)
        .bind(user)
        .fetch_optional(tx)
        .await
}
