//! `org_units`: each tenant's tree (tenant rows, RLS).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{OrgUnitId, TenantId};
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow)]
pub struct OrgUnitRow {
    pub id: OrgUnitId,
    pub tenant_id: TenantId,
    pub parent_id: Option<OrgUnitId>,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %u.tenant_id, org_unit = %u.id))]
pub async fn org_unit_insert(tx: &mut PgConnection, u: &OrgUnitRow) -> Result<OrgUnitRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO org_units (id, tenant_id, parent_id, name) VALUES ($1, $2, $3, $4) \
         RETURNING id, tenant_id, parent_id, name, created_at",
    )
    .bind(u.id)
    .bind(u.tenant_id)
    .bind(u.parent_id)
    .bind(&u.name)
    .fetch_one(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all, fields(org_unit = %id))]
pub async fn org_unit_exists(tx: &mut PgConnection, id: OrgUnitId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM org_units WHERE id = $1)").bind(id).fetch_one(tx).await
}

/// The whole tree, parents before children (a tenant's tree is small enough to list).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn org_unit_list(tx: &mut PgConnection) -> Result<Vec<OrgUnitRow>, sqlx::Error> {
    sqlx::query_as(
        "WITH RECURSIVE tree AS ( \
           SELECT id, tenant_id, parent_id, name, created_at, 0 AS depth FROM org_units WHERE parent_id IS NULL \
           UNION ALL \
           SELECT o.id, o.tenant_id, o.parent_id, o.name, o.created_at, t.depth + 1 \
           FROM org_units o JOIN tree t ON o.parent_id = t.id) \
         SELECT id, tenant_id, parent_id, name, created_at FROM tree ORDER BY depth, name",
    )
    .fetch_all(tx)
    .await
}
