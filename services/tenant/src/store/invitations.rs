//! `invitations`: pending invitations (tenant rows, RLS); only the token's hash is kept.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{InvitationId, TenantId, UserId};
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow)]
pub struct InvitationRow {
    pub id: InvitationId,
    pub tenant_id: TenantId,
    pub email_norm: String,
    pub roles: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, email_norm, roles, expires_at, accepted_at, created_at";

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %inv.tenant_id, invitation = %inv.id))]
pub async fn invitation_insert(
    tx: &mut PgConnection,
    inv: &InvitationRow,
    token_hash: &[u8],
    created_by: &str,
) -> Result<InvitationRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO invitations (id, tenant_id, email_norm, roles, token_hash, expires_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(inv.id)
    .bind(inv.tenant_id)
    .bind(&inv.email_norm)
    .bind(&inv.roles)
    .bind(token_hash)
    .bind(inv.expires_at)
    .bind(created_by)
    .fetch_one(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn invitation_get_by_token_for_update(
    tx: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM invitations WHERE token_hash = $1 FOR UPDATE"))
        .bind(token_hash)
        .fetch_optional(tx)
        .await
}

#[tracing::instrument(level = "debug", skip_all, fields(invitation = %id, user = %user))]
pub async fn invitation_mark_accepted(
    tx: &mut PgConnection,
    id: InvitationId,
    user: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1")
        .bind(id)
        .bind(user)
        .execute(tx)
        .await
        .map(|_| ())
}
