//! `tenants`: a platform table (the tenant row is not inside any tenant).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::TenantId;
use mirai_kit::pagination::Cursor;
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow)]
pub struct TenantRow {
    pub id: TenantId,
    pub kind: String,
    pub name: String,
    pub slug: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, name, slug, created_by, created_at";

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %t.id))]
pub async fn tenant_insert(tx: &mut PgConnection, t: &TenantRow) -> Result<TenantRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO tenants (id, kind, name, slug, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(t.id)
    .bind(&t.kind)
    .bind(&t.name)
    .bind(&t.slug)
    .bind(&t.created_by)
    .fetch_one(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %id))]
pub async fn tenant_get(tx: &mut PgConnection, id: TenantId) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1")).bind(id).fetch_optional(tx).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn tenant_list(
    tx: &mut PgConnection,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<TenantRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tenants WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}
