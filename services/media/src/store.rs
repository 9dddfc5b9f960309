//! media's tables, always inside the caller's tenant transaction (RLS).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{AssetId, TenantId};
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow)]
pub struct AssetRow {
    pub id: AssetId,
    pub tenant_id: TenantId,
    pub status: String,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: Option<String>,
    pub object_key: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub upload_expires_at: DateTime<Utc>,
    pub ready_at: Option<DateTime<Utc>>,
}

const ASSET: &str = "id, tenant_id, status, filename, content_type, size, sha256, object_key, created_by, created_at, \
                     upload_expires_at, ready_at";

/// Serializes a tenant's quota checks: one upload intent at a time sums and inserts.
pub async fn lock_tenant(tx: &mut PgConnection, tenant: TenantId) -> Result<(), sqlx::Error> {
    mirai_kit::db::xact_lock(tx, &format!("media:{tenant}")).await
}

/// Bytes the tenant holds: ready assets and uploads that may still be completed (until
/// an hour after their URL expired: `app::COMPLETION_GRACE`).
pub async fn bytes_held(tx: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(sum(size), 0)::bigint FROM assets \
         WHERE status = 'ready' OR upload_expires_at + interval '1 hour' > now()",
    )
    .fetch_one(tx)
    .await
}

pub struct NewAsset<'a> {
    pub id: AssetId,
    pub tenant: TenantId,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size: i64,
    pub object_key: &'a str,
    pub by: &'a str,
    pub upload_expires_at: DateTime<Utc>,
}

pub async fn asset_insert(tx: &mut PgConnection, a: &NewAsset<'_>) -> Result<AssetRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO assets (id, tenant_id, status, filename, content_type, size, object_key, created_by, upload_expires_at) \
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8) RETURNING {ASSET}"
    ))
    .bind(a.id)
    .bind(a.tenant)
    .bind(a.filename)
    .bind(a.content_type)
    .bind(a.size)
    .bind(a.object_key)
    .bind(a.by)
    .bind(a.upload_expires_at)
    .fetch_one(tx)
    .await
}

pub async fn asset_get(tx: &mut PgConnection, id: AssetId, lock: bool) -> Result<Option<AssetRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ASSET} FROM assets WHERE id = $1{}", if lock { " FOR UPDATE" } else { "" }))
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// Marks a pending asset ready; `None` when it was no longer pending.
pub async fn asset_ready(tx: &mut PgConnection, id: AssetId, sha256: &str) -> Result<Option<AssetRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE assets SET status = 'ready', sha256 = $2, ready_at = now() WHERE id = $1 AND status = 'pending' \
         RETURNING {ASSET}"
    ))
    .bind(id)
    .bind(sha256)
    .fetch_optional(tx)
    .await
}

pub async fn asset_delete(tx: &mut PgConnection, id: AssetId) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM assets WHERE id = $1").bind(id).execute(tx).await?.rows_affected() == 1)
}

/// A page of the tenant's assets, newest first, after `after`.
pub async fn asset_list(
    tx: &mut PgConnection,
    status: Option<&str>,
    after: Option<(DateTime<Utc>, AssetId)>,
    limit: i64,
) -> Result<Vec<AssetRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ASSET} FROM assets WHERE ($1::text IS NULL OR status = $1) \
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(status)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// The published versions that show the asset: `(course, version)`.
pub async fn uses_of(tx: &mut PgConnection, id: AssetId) -> Result<Vec<(uuid::Uuid, i32)>, sqlx::Error> {
    sqlx::query_as("SELECT course_id, version FROM asset_uses WHERE asset_id = $1 ORDER BY course_id, version")
        .bind(id)
        .fetch_all(tx)
        .await
}

pub async fn uses_add(
    tx: &mut PgConnection,
    tenant: uuid::Uuid,
    course: uuid::Uuid,
    version: i32,
    assets: &[uuid::Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO asset_uses (tenant_id, asset_id, course_id, version) \
         SELECT $1, a, $2, $3 FROM unnest($4::uuid[]) AS a ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(course)
    .bind(version)
    .bind(assets)
    .execute(tx)
    .await
    .map(drop)
}
