//! assessment's tables: items, quizzes, enrollments (projected), attempts.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::enrollment::{EnrollmentCreated, EnrollmentEnded},
    ids::{CourseId, ItemId, QuizAttemptId, QuizId, TenantId, UserId},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, types::Json};
use uuid::Uuid;

use crate::app::kinds::Body;

#[derive(Debug, Clone, FromRow)]
pub struct ItemRow {
    pub id: ItemId,
    pub tenant_id: TenantId,
    pub stem: String,
    pub body: Json<Body>,
    pub points: f64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ITEM: &str = "id, tenant_id, stem, body, points, created_by, created_at, updated_at";

pub async fn item_insert(tx: &mut PgConnection, i: &ItemRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO items (id, tenant_id, kind, stem, body, points, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(i.id)
    .bind(i.tenant_id)
    .bind(i.body.0.kind())
    .bind(&i.stem)
    .bind(&i.body)
    .bind(i.points)
    .bind(&i.created_by)
    .bind(i.created_at)
    .bind(i.updated_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The current tenant's own items among `ids` (not those it reads through an enrollment).
pub async fn items_own(tx: &mut PgConnection, tenant: TenantId, ids: &[ItemId]) -> Result<Vec<ItemRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ITEM} FROM items WHERE tenant_id = $1 AND id = ANY($2)"))
        .bind(tenant)
        .bind(ids)
        .fetch_all(tx)
        .await
}

/// Items of a quiz's provider, as an enrolled learner's tenant reads them.
pub async fn items_of(tx: &mut PgConnection, provider: TenantId, ids: &[ItemId]) -> Result<Vec<ItemRow>, sqlx::Error> {
    items_own(tx, provider, ids).await
}

/// The tenant's items, newest first, after a cursor.
pub async fn item_list(
    tx: &mut PgConnection,
    tenant: TenantId,
    after: Option<(DateTime<Utc>, ItemId)>,
    limit: i64,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    let (at, id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    sqlx::query_as(&format!(
        "SELECT {ITEM} FROM items WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(tenant)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// A pool of a quiz: items to draw from, and how many to draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub items: Vec<ItemId>,
    /// How many of them an attempt draws (all, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw: Option<i32>,
}

#[derive(Debug, Clone, FromRow)]
pub struct QuizRow {
    pub id: QuizId,
    pub tenant_id: TenantId,
    pub course_id: CourseId,
    pub title: String,
    pub pools: Json<Vec<Pool>>,
    pub shuffle: bool,
    pub time_limit_seconds: Option<i32>,
    pub max_attempts: Option<i32>,
    pub pass_mark: f64,
    /// `score` or `per_question`: what a graded attempt tells its learner.
    pub feedback: String,
    /// The course is known to be the quiz's tenant's: only then do its learners see it.
    pub course_verified: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

const QUIZ: &str = "id, tenant_id, course_id, title, pools, shuffle, time_limit_seconds, max_attempts, pass_mark, \
     feedback, course_verified, created_by, created_at";

pub async fn quiz_insert(tx: &mut PgConnection, q: &QuizRow, item_ids: &[ItemId]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO quizzes (id, tenant_id, course_id, title, pools, item_ids, shuffle, time_limit_seconds, \
         max_attempts, pass_mark, created_by, created_at, feedback, course_verified) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(q.id)
    .bind(q.tenant_id)
    .bind(q.course_id)
    .bind(&q.title)
    .bind(&q.pools)
    .bind(item_ids)
    .bind(q.shuffle)
    .bind(q.time_limit_seconds)
    .bind(q.max_attempts)
    .bind(q.pass_mark)
    .bind(&q.created_by)
    .bind(q.created_at)
    .bind(&q.feedback)
    .bind(q.course_verified)
    .execute(tx)
    .await?;
    Ok(())
}

/// A course published by the current tenant (from authoring's events).
pub async fn course_put(tx: &mut PgConnection, tenant: TenantId, course: CourseId) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO courses (id, tenant_id) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(course)
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    // Quizzes of the tenant written before the course was known are shown from now on.
    sqlx::query(
        "UPDATE quizzes SET course_verified = true WHERE course_id = $1 AND tenant_id = $2 AND NOT course_verified",
    )
    .bind(course)
    .bind(tenant)
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether the current tenant published the course.
pub async fn course_owned(tx: &mut PgConnection, course: CourseId) -> Result<bool, sqlx::Error> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM courses WHERE id = $1").bind(course).fetch_optional(tx).await?;
    Ok(found.is_some())
}

/// A quiz the current tenant may read: its own, or one of a course it is enrolled in.
pub async fn quiz_get(tx: &mut PgConnection, id: QuizId) -> Result<Option<QuizRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {QUIZ} FROM quizzes WHERE id = $1")).bind(id).fetch_optional(tx).await
}

pub async fn enrollment_put(tx: &mut PgConnection, e: &EnrollmentCreated) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enrollments (id, tenant_id, user_id, course_id, active, at) VALUES ($1, $2, $3, $4, true, $5) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(e.enrollment_id)
    .bind(e.tenant_id)
    .bind(e.user_id)
    .bind(e.course_id)
    .bind(e.at)
    .execute(tx)
    .await?;
    Ok(())
}

/// An enrollment ended (before its creation was applied: a tombstone).
pub async fn enrollment_end(tx: &mut PgConnection, e: &EnrollmentEnded) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enrollments (id, tenant_id, user_id, course_id, active, at) VALUES ($1, $2, $3, $4, false, $5) \
         ON CONFLICT (id) DO UPDATE SET active = false",
    )
    .bind(e.enrollment_id)
    .bind(e.tenant_id)
    .bind(e.user_id)
    .bind(e.course_id)
    .bind(e.at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether the learner holds an active enrollment in the course (held until commit, so
/// its end waits for the attempt's change).
pub async fn enrolled(tx: &mut PgConnection, user: UserId, course: CourseId) -> Result<bool, sqlx::Error> {
    let found: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM enrollments WHERE user_id = $1 AND course_id = $2 AND active LIMIT 1 FOR SHARE",
    )
    .bind(user)
    .bind(course)
    .fetch_optional(tx)
    .await?;
    Ok(found.is_some())
}

/// An item as an attempt drew it: a copy of the question and its key, the order its
/// choices are shown in, and (once graded) what it earned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drawn {
    pub item_id: ItemId,
    pub stem: String,
    pub points: f64,
    pub body: Body,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earned: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub id: QuizAttemptId,
    pub tenant_id: TenantId,
    pub quiz_id: QuizId,
    pub course_id: CourseId,
    pub user_id: UserId,
    pub number: i32,
    /// `open`, `pending_review` or `graded`.
    pub state: String,
    /// The quiz's title, pass mark and feedback when the attempt began.
    pub title: String,
    pub pass_mark: f64,
    pub feedback: String,
    pub items: Json<Vec<Drawn>>,
    pub answers: Json<serde_json::Map<String, Value>>,
    pub started_at: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub score: Option<f64>,
    pub max_score: f64,
    pub scaled: Option<f64>,
    pub passed: Option<bool>,
    pub revision: i64,
}

const ATTEMPT: &str = "id, tenant_id, quiz_id, course_id, user_id, number, state, title, pass_mark, feedback, items, answers, started_at, deadline, \
     closed_at, closed_by, score, max_score, scaled, passed, revision";

pub async fn attempt_insert(tx: &mut PgConnection, a: &AttemptRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO attempts (id, tenant_id, quiz_id, course_id, user_id, number, state, items, answers, started_at, \
         deadline, max_score, title, pass_mark, feedback) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(a.id)
    .bind(a.tenant_id)
    .bind(a.quiz_id)
    .bind(a.course_id)
    .bind(a.user_id)
    .bind(a.number)
    .bind(&a.state)
    .bind(&a.items)
    .bind(&a.answers)
    .bind(a.started_at)
    .bind(a.deadline)
    .bind(a.max_score)
    .bind(&a.title)
    .bind(a.pass_mark)
    .bind(&a.feedback)
    .execute(tx)
    .await?;
    Ok(())
}

/// An attempt, locked for a change.
pub async fn attempt_get(tx: &mut PgConnection, id: QuizAttemptId) -> Result<Option<AttemptRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ATTEMPT} FROM attempts WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// The learner's latest attempt of a quiz, locked (starts and closes of it take turns),
/// and how many they made.
pub async fn attempt_latest(
    tx: &mut PgConnection,
    quiz: QuizId,
    user: UserId,
) -> Result<(Option<AttemptRow>, i64), sqlx::Error> {
    let latest = sqlx::query_as(&format!(
        "SELECT {ATTEMPT} FROM attempts WHERE quiz_id = $1 AND user_id = $2 ORDER BY number DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(quiz)
    .bind(user)
    .fetch_optional(&mut *tx)
    .await?;
    let count = sqlx::query_scalar("SELECT count(*) FROM attempts WHERE quiz_id = $1 AND user_id = $2")
        .bind(quiz)
        .bind(user)
        .fetch_one(tx)
        .await?;
    Ok((latest, count))
}

/// Saves an open attempt's answers alone.
pub async fn attempt_save_answers(tx: &mut PgConnection, a: &AttemptRow) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE attempts SET answers = $2, revision = revision + 1 WHERE id = $1 AND state = 'open'")
        .bind(a.id)
        .bind(&a.answers)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn attempt_save(tx: &mut PgConnection, a: &AttemptRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE attempts SET state = $2, items = $3, answers = $4, closed_at = $5, closed_by = $6, score = $7, \
         scaled = $8, passed = $9, revision = revision + 1 WHERE id = $1",
    )
    .bind(a.id)
    .bind(&a.state)
    .bind(&a.items)
    .bind(&a.answers)
    .bind(a.closed_at)
    .bind(&a.closed_by)
    .bind(a.score)
    .bind(a.scaled)
    .bind(a.passed)
    .execute(tx)
    .await?;
    Ok(())
}
