//! `invitations`: tenant's invitations as identity learned them (tenant rows, RLS), so
//! the holder of an invitation token can sign up.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{InvitationId, TenantId};
use sqlx::PgConnection;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub invitation_id: InvitationId,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

/// Records an announced invitation (idempotent).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn invitation_insert(
    tx: &mut PgConnection,
    token_sha256: &str,
    invitation: InvitationId,
    tenant: TenantId,
    email: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO invitations (token_sha256, invitation_id, tenant_id, email, expires_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (token_sha256) DO NOTHING",
    )
    .bind(token_sha256)
    .bind(invitation)
    .bind(tenant)
    .bind(email)
    .bind(expires_at)
    .execute(tx)
    .await
    .map(|_| ())
}

/// The invitation whose token hashes to `token_sha256`, in the transaction's tenant.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn invitation_get(tx: &mut PgConnection, token_sha256: &str) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as("SELECT invitation_id, email, expires_at FROM invitations WHERE token_sha256 = $1")
        .bind(token_sha256)
        .fetch_optional(tx)
        .await
}
