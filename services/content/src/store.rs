//! content's tables, inside the caller's tenant transaction (RLS).

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::{authoring::CoursePublished, media::AssetReady},
    ids::{CourseId, PackageId, TenantId},
};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, types::Json};

#[derive(Debug, Clone, FromRow)]
pub struct PackageRow {
    pub id: PackageId,
    pub tenant_id: TenantId,
    pub standard: String,
    pub title: String,
    pub sha256: String,
    pub bytes: i64,
    pub unpacked: i64,
    pub files: i32,
    pub manifest: Json<Value>,
    pub course_id: CourseId,
    pub into_existing: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

const PACKAGE: &str = "id, tenant_id, standard, title, sha256, bytes, unpacked, files, manifest, course_id, into_existing, \
                       created_by, created_at";

/// Serializes a tenant's quota check and insert.
pub async fn lock_tenant(tx: &mut PgConnection, tenant: TenantId) -> Result<(), sqlx::Error> {
    mirai_kit::db::xact_lock(tx, &format!("content:{tenant}")).await
}

/// What the tenant's packages inflate to, in all.
pub async fn unpacked_held(tx: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT coalesce(sum(unpacked), 0)::bigint FROM packages").fetch_one(tx).await
}

pub async fn package_by_sha(tx: &mut PgConnection, sha256: &str) -> Result<Option<PackageRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {PACKAGE} FROM packages WHERE sha256 = $1")).bind(sha256).fetch_optional(tx).await
}

pub async fn package_get(tx: &mut PgConnection, id: PackageId) -> Result<Option<PackageRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {PACKAGE} FROM packages WHERE id = $1")).bind(id).fetch_optional(tx).await
}

pub async fn package_list(
    tx: &mut PgConnection,
    after: Option<(DateTime<Utc>, PackageId)>,
    limit: i64,
) -> Result<Vec<PackageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PACKAGE} FROM packages WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Inserts the package; `None` when the tenant imported the same bytes meanwhile.
pub async fn package_insert(tx: &mut PgConnection, p: &PackageRow) -> Result<Option<PackageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO packages ({PACKAGE}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (tenant_id, sha256) DO NOTHING RETURNING {PACKAGE}"
    ))
    .bind(p.id)
    .bind(p.tenant_id)
    .bind(&p.standard)
    .bind(&p.title)
    .bind(&p.sha256)
    .bind(p.bytes)
    .bind(p.unpacked)
    .bind(p.files)
    .bind(&p.manifest)
    .bind(p.course_id)
    .bind(p.into_existing)
    .bind(&p.created_by)
    .bind(p.created_at)
    .fetch_optional(tx)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct VersionRow {
    pub title: String,
    pub locale: String,
    pub outline: Json<Value>,
}

pub async fn version_put(tx: &mut PgConnection, e: &CoursePublished) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO versions (course_id, version, tenant_id, title, locale, outline, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (course_id, version) DO NOTHING",
    )
    .bind(e.course_id)
    .bind(e.version)
    .bind(e.tenant_id)
    .bind(&e.title)
    .bind(&e.locale)
    .bind(Json(&e.outline))
    .bind(e.published_at)
    .execute(tx)
    .await
    .map(drop)
}

pub async fn version_get(
    tx: &mut PgConnection,
    course: CourseId,
    version: i32,
) -> Result<Option<VersionRow>, sqlx::Error> {
    sqlx::query_as("SELECT title, locale, outline FROM versions WHERE course_id = $1 AND version = $2")
        .bind(course)
        .bind(version)
        .fetch_optional(tx)
        .await
}

pub async fn media_put(tx: &mut PgConnection, e: &AssetReady) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO media (asset_id, tenant_id, filename, content_type, object_key) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (asset_id) DO NOTHING",
    )
    .bind(e.asset_id)
    .bind(e.tenant_id)
    .bind(&e.filename)
    .bind(&e.content_type)
    .bind(&e.object_key)
    .execute(tx)
    .await
    .map(drop)
}

pub async fn media_delete(tx: &mut PgConnection, asset: uuid::Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM media WHERE asset_id = $1").bind(asset).execute(tx).await.map(drop)
}

/// The known media among `assets`: `(asset id, content type, object key)`.
pub async fn media_of(
    tx: &mut PgConnection,
    assets: &[uuid::Uuid],
) -> Result<Vec<(uuid::Uuid, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT asset_id, content_type, object_key FROM media WHERE asset_id = ANY($1)")
        .bind(assets)
        .fetch_all(tx)
        .await
}
