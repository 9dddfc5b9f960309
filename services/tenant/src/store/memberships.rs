//! `memberships`: who belongs to a tenant with which roles (tenant rows, RLS).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{MembershipId, OrgUnitId, TenantId, UserId};
use mirai_kit::pagination::Cursor;
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow)]
pub struct MembershipRow {
    pub id: MembershipId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub roles: Vec<String>,
    pub org_unit_id: Option<OrgUnitId>,
    pub active: bool,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, user_id, roles, org_unit_id, active, revision, created_at";

/// Grants (or re-grants, replacing roles) a membership; bumps the revision.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %m.tenant_id, user = %m.user_id))]
pub async fn membership_upsert(tx: &mut PgConnection, m: &MembershipRow) -> Result<MembershipRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO memberships (id, tenant_id, user_id, roles, org_unit_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET roles = EXCLUDED.roles, org_unit_id = EXCLUDED.org_unit_id, \
           active = true, revision = memberships.revision + 1, updated_at = now() \
         RETURNING {COLUMNS}"
    ))
    .bind(m.id)
    .bind(m.tenant_id)
    .bind(m.user_id)
    .bind(&m.roles)
    .bind(m.org_unit_id)
    .fetch_one(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all, fields(user = %user))]
pub async fn membership_get_by_user(tx: &mut PgConnection, user: UserId) -> Result<Option<MembershipRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM memberships WHERE user_id = $1")).bind(user).fetch_optional(tx).await
}

#[tracing::instrument(level = "debug", skip_all, fields(user = %user))]
pub async fn membership_deactivate(tx: &mut PgConnection, user: UserId) -> Result<Option<MembershipRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE memberships SET active = false, revision = revision + 1, updated_at = now() \
         WHERE user_id = $1 AND active RETURNING {COLUMNS}"
    ))
    .bind(user)
    .fetch_optional(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn membership_list(
    tx: &mut PgConnection,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<MembershipRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM memberships WHERE active AND ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}
