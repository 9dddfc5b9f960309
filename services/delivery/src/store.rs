//! delivery's tables. Every function takes the caller's transaction (scoped to a tenant,
//! so RLS holds) and typed ids.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::{
        authoring::{CoursePublished, OutlineModule},
        enrollment::EnrollmentCreated,
    },
    ids::{CourseId, EnrollmentId, LessonId, PlaySessionId, TenantId, UserId},
};
use sqlx::{FromRow, PgConnection, types::Json};
use uuid::Uuid;

#[derive(Debug, Clone, FromRow)]
pub struct VersionRow {
    pub course_id: CourseId,
    pub version: i32,
    pub tenant_id: TenantId,
    pub title: String,
    pub locale: String,
    pub content_hash: String,
    pub outline: Json<Vec<OutlineModule>>,
}

#[derive(Debug, Clone, FromRow)]
pub struct EnrollmentRow {
    pub id: EnrollmentId,
    pub version: i32,
}

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: PlaySessionId,
    pub tenant_id: TenantId,
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub version: i32,
    pub status: String,
    pub position: Option<LessonId>,
    pub completed_lessons: Vec<Uuid>,
    pub launches: i32,
    pub started_at: DateTime<Utc>,
    pub last_launched_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub revision: i64,
}

const SESSION: &str = "id, tenant_id, enrollment_id, user_id, course_id, version, status, position, \
     completed_lessons, launches, started_at, last_launched_at, completed_at, revision";

/// A published version: written once (a redelivery or a replay changes nothing).
pub async fn course_version_put(tx: &mut PgConnection, e: &CoursePublished) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO course_versions (course_id, version, tenant_id, title, locale, content_hash, outline, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (course_id, version) DO NOTHING",
    )
    .bind(e.course_id)
    .bind(e.version)
    .bind(e.tenant_id)
    .bind(&e.title)
    .bind(&e.locale)
    .bind(&e.content_hash)
    .bind(Json(&e.outline))
    .bind(e.published_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The version the current tenant may read (its own, or one an enrollment of it points at).
pub async fn course_version_get(
    tx: &mut PgConnection,
    course: CourseId,
    version: i32,
) -> Result<Option<VersionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT course_id, version, tenant_id, title, locale, content_hash, outline FROM course_versions \
         WHERE course_id = $1 AND version = $2",
    )
    .bind(course)
    .bind(version)
    .fetch_optional(tx)
    .await
}

pub async fn enrollment_put(tx: &mut PgConnection, e: &EnrollmentCreated) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enrollments (id, tenant_id, user_id, course_id, version, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, true, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(e.enrollment_id)
    .bind(e.tenant_id)
    .bind(e.user_id)
    .bind(e.course_id)
    .bind(e.version)
    .bind(e.at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn enrollment_end(tx: &mut PgConnection, id: EnrollmentId, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE enrollments SET active = false, ended_at = $2 WHERE id = $1 AND active")
        .bind(id)
        .bind(at)
        .execute(tx)
        .await?;
    Ok(())
}

/// The learner's active enrollment in the course, locked: launches of one enrollment
/// take turns, so two first launches make one session.
pub async fn enrollment_active(
    tx: &mut PgConnection,
    user: UserId,
    course: CourseId,
) -> Result<Option<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, version FROM enrollments WHERE user_id = $1 AND course_id = $2 AND active \
         ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
    )
    .bind(user)
    .bind(course)
    .fetch_optional(tx)
    .await
}

pub async fn enrollment_is_active(tx: &mut PgConnection, id: EnrollmentId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM enrollments WHERE id = $1 AND active)")
        .bind(id)
        .fetch_one(tx)
        .await
}

pub async fn session_of_enrollment(
    tx: &mut PgConnection,
    enrollment: EnrollmentId,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SESSION} FROM sessions WHERE enrollment_id = $1 FOR UPDATE"))
        .bind(enrollment)
        .fetch_optional(tx)
        .await
}

/// A session of the current tenant; `lock` takes its row for an update.
pub async fn session_get(
    tx: &mut PgConnection,
    id: PlaySessionId,
    lock: bool,
) -> Result<Option<SessionRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {SESSION} FROM sessions WHERE id = $1{lock}")).bind(id).fetch_optional(tx).await
}

pub async fn session_insert(tx: &mut PgConnection, s: &SessionRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, enrollment_id, user_id, course_id, version, status, position, \
           completed_lessons, launches, started_at, last_launched_at, completed_at, revision) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(s.id)
    .bind(s.tenant_id)
    .bind(s.enrollment_id)
    .bind(s.user_id)
    .bind(s.course_id)
    .bind(s.version)
    .bind(&s.status)
    .bind(s.position)
    .bind(&s.completed_lessons)
    .bind(s.launches)
    .bind(s.started_at)
    .bind(s.last_launched_at)
    .bind(s.completed_at)
    .bind(s.revision)
    .execute(tx)
    .await?;
    Ok(())
}

/// Saves what changes over a session's life, and counts the revision up.
pub async fn session_save(tx: &mut PgConnection, s: &SessionRow) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE sessions SET status = $2, position = $3, completed_lessons = $4, launches = $5, \
           last_launched_at = $6, completed_at = $7, revision = revision + 1 WHERE id = $1 RETURNING revision",
    )
    .bind(s.id)
    .bind(&s.status)
    .bind(s.position)
    .bind(&s.completed_lessons)
    .bind(s.launches)
    .bind(s.last_launched_at)
    .bind(s.completed_at)
    .fetch_one(tx)
    .await
}

/// The learner's sessions, most recently launched first, after the cursor.
pub async fn sessions_of_learner(
    tx: &mut PgConnection,
    user: UserId,
    after: Option<(DateTime<Utc>, PlaySessionId)>,
    limit: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    let (at, id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    sqlx::query_as(&format!(
        "SELECT {SESSION} FROM sessions WHERE user_id = $1 \
           AND ($2::timestamptz IS NULL OR (last_launched_at, id) < ($2, $3::uuid)) \
         ORDER BY last_launched_at DESC, id DESC LIMIT $4"
    ))
    .bind(user)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(tx)
    .await
}
