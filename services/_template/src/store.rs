//! template's tables. Every function takes the caller's transaction (already scoped to a
//! tenant, so RLS holds) and typed ids, so a note id cannot be passed for a tenant id.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{NoteId, TenantId};
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow)]
pub struct NoteRow {
    pub id: NoteId,
    pub tenant_id: TenantId,
    pub title: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

pub async fn known_tenant_upsert(tx: &mut PgConnection, tenant: TenantId, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO known_tenants (tenant_id, name) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET name = EXCLUDED.name",
    )
    .bind(tenant)
    .bind(name)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn known_tenant_exists(tx: &mut PgConnection, tenant: TenantId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM known_tenants WHERE tenant_id = $1)")
        .bind(tenant)
        .fetch_one(tx)
        .await
}

pub async fn note_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    title: &str,
    created_by: &str,
) -> Result<NoteRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO notes (id, tenant_id, title, created_by) VALUES ($1, $2, $3, $4) \
         RETURNING id, tenant_id, title, created_by, created_at",
    )
    .bind(NoteId::new())
    .bind(tenant)
    .bind(title)
    .bind(created_by)
    .fetch_one(tx)
    .await
}

pub async fn note_get(tx: &mut PgConnection, id: NoteId) -> Result<Option<NoteRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, tenant_id, title, created_by, created_at FROM notes WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}
