//! authoring's tables. Every function takes the caller's transaction (scoped to a tenant,
//! so RLS holds) and typed ids.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{CourseId, TenantId};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, types::Json};

use crate::app::outline::Outline;

#[derive(Debug, Clone, FromRow)]
pub struct CourseRow {
    pub id: CourseId,
    pub tenant_id: TenantId,
    pub title: String,
    pub summary: String,
    pub locale: String,
    pub tags: Vec<String>,
    pub visibility: String,
    pub status: String,
    pub draft: Json<Outline>,
    pub revision: i64,
    pub latest_version: Option<i32>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

const COURSE: &str = "id, tenant_id, title, summary, locale, tags, visibility, status, draft, revision, latest_version, \
                      created_by, created_at, updated_by, updated_at";

/// The course's metadata as written.
pub struct Meta<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub locale: &'a str,
    pub tags: &'a [String],
    pub visibility: &'a str,
}

pub async fn course_insert(
    tx: &mut PgConnection,
    id: CourseId,
    tenant: TenantId,
    meta: &Meta<'_>,
    draft: &Outline,
    by: &str,
) -> Result<CourseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO courses (id, tenant_id, title, summary, locale, tags, visibility, draft, created_by, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {COURSE}"
    ))
    .bind(id)
    .bind(tenant)
    .bind(meta.title)
    .bind(meta.summary)
    .bind(meta.locale)
    .bind(meta.tags)
    .bind(meta.visibility)
    .bind(Json(draft))
    .bind(by)
    .fetch_one(tx)
    .await
}

/// One course, locked for a write when `lock`.
pub async fn course_get(tx: &mut PgConnection, id: CourseId, lock: bool) -> Result<Option<CourseRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COURSE} FROM courses WHERE id = $1{}", if lock { " FOR UPDATE" } else { "" }))
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// The tenant's courses, newest first, after the cursor `(created_at, id)`.
pub async fn course_list(
    tx: &mut PgConnection,
    after: Option<(DateTime<Utc>, CourseId)>,
    limit: i64,
) -> Result<Vec<CourseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COURSE} FROM courses WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Writes the course's next revision (metadata, draft, status, latest version).
#[allow(clippy::too_many_arguments)]
pub async fn course_update(
    tx: &mut PgConnection,
    id: CourseId,
    meta: &Meta<'_>,
    draft: &Outline,
    status: &str,
    latest_version: Option<i32>,
    by: &str,
) -> Result<CourseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE courses SET title = $2, summary = $3, locale = $4, tags = $5, visibility = $6, draft = $7, status = $8, \
           latest_version = $9, revision = revision + 1, updated_by = $10, updated_at = now() \
         WHERE id = $1 RETURNING {COURSE}"
    ))
    .bind(id)
    .bind(meta.title)
    .bind(meta.summary)
    .bind(meta.locale)
    .bind(meta.tags)
    .bind(meta.visibility)
    .bind(Json(draft))
    .bind(status)
    .bind(latest_version)
    .bind(by)
    .fetch_one(tx)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct VersionRow {
    pub course_id: CourseId,
    pub number: i32,
    pub snapshot: Json<Value>,
    pub content_hash: String,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
}

pub async fn version_insert(tx: &mut PgConnection, tenant: TenantId, v: &VersionRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO course_versions (tenant_id, course_id, number, snapshot, content_hash, published_by, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant)
    .bind(v.course_id)
    .bind(v.number)
    .bind(&v.snapshot)
    .bind(&v.content_hash)
    .bind(&v.published_by)
    .bind(v.published_at)
    .execute(tx)
    .await
    .map(|_| ())
}

pub async fn version_get(
    tx: &mut PgConnection,
    course: CourseId,
    number: i32,
) -> Result<Option<VersionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT course_id, number, snapshot, content_hash, published_by, published_at FROM course_versions \
         WHERE course_id = $1 AND number = $2",
    )
    .bind(course)
    .bind(number)
    .fetch_optional(tx)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct HistoryRow {
    pub revision: i64,
    pub actor: String,
    pub action: String,
    pub detail: Json<Value>,
    pub at: DateTime<Utc>,
}

pub async fn history_add(
    tx: &mut PgConnection,
    tenant: TenantId,
    course: CourseId,
    revision: i64,
    actor: &str,
    action: &str,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO course_history (tenant_id, course_id, revision, actor, action, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(tenant)
        .bind(course)
        .bind(revision)
        .bind(actor)
        .bind(action)
        .bind(Json(detail))
        .execute(tx)
        .await
        .map(|_| ())
}

pub async fn history_list(tx: &mut PgConnection, course: CourseId) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as("SELECT revision, actor, action, detail, at FROM course_history WHERE course_id = $1 ORDER BY id")
        .bind(course)
        .fetch_all(tx)
        .await
}

/// Records that the tenant has this asset or package.
pub async fn ref_add(tx: &mut PgConnection, tenant: TenantId, kind: &str, id: uuid::Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO known_refs (tenant_id, kind, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(tenant)
        .bind(kind)
        .bind(id)
        .execute(tx)
        .await
        .map(drop)
}

pub async fn ref_remove(tx: &mut PgConnection, kind: &str, id: uuid::Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM known_refs WHERE kind = $1 AND id = $2").bind(kind).bind(id).execute(tx).await.map(drop)
}

/// Which of `ids` (of `kind`) the tenant has.
pub async fn refs_known(tx: &mut PgConnection, kind: &str, ids: &[uuid::Uuid]) -> Result<Vec<uuid::Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM known_refs WHERE kind = $1 AND id = ANY($2)")
        .bind(kind)
        .bind(ids)
        .fetch_all(tx)
        .await
}

// ---- AI generations ----------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GenerationRow {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub course_id: CourseId,
    pub kind: String,
    pub lesson_id: Option<uuid::Uuid>,
    pub block_id: Option<uuid::Uuid>,
    pub status: String,
    pub stage: String,
    pub sources: Vec<String>,
    pub blocks_added: i32,
    pub error: Option<Json<Value>>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const GENERATION: &str = "id, tenant_id, course_id, kind, lesson_id, block_id, status, stage, sources, blocks_added, \
                          error, requested_by, created_at, updated_at";

#[allow(clippy::too_many_arguments)]
pub async fn generation_insert(
    tx: &mut PgConnection,
    id: uuid::Uuid,
    tenant: TenantId,
    course: CourseId,
    kind: &str,
    lesson: Option<uuid::Uuid>,
    block: Option<uuid::Uuid>,
    sources: &[String],
    by: &str,
) -> Result<GenerationRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO generations (id, tenant_id, course_id, kind, lesson_id, block_id, status, stage, sources, requested_by) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', 'requested', $7, $8) RETURNING {GENERATION}"
    ))
    .bind(id)
    .bind(tenant)
    .bind(course)
    .bind(kind)
    .bind(lesson)
    .bind(block)
    .bind(sources)
    .bind(by)
    .fetch_one(tx)
    .await
}

pub async fn generation_get(
    tx: &mut PgConnection,
    id: uuid::Uuid,
    lock: bool,
) -> Result<Option<GenerationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {GENERATION} FROM generations WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    ))
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Moves a generation that has not ended on (status, stage, what it added, why it failed).
pub async fn generation_update(
    tx: &mut PgConnection,
    id: uuid::Uuid,
    status: &str,
    stage: &str,
    blocks_added: i32,
    error: Option<&Value>,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE generations SET status = $2, stage = $3, blocks_added = $4, error = $5, updated_at = now() \
         WHERE id = $1 AND status IN ('queued', 'running')",
    )
    .bind(id)
    .bind(status)
    .bind(stage)
    .bind(blocks_added)
    .bind(error.map(Json))
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}
