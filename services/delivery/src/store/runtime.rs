//! The SCORM runtime's tables: packages (from content's events), the packages of each
//! version, and attempts.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::content::{PackageAu, PackageImported},
    ids::{LessonId, PackageId, PlaySessionId, TenantId, UserId},
};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection, types::Json};
use uuid::Uuid;

/// A package's launchable item, as the runtime needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackageItem {
    pub item: String,
    pub title: String,
    pub launch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mastery_score: Option<f64>,
    /// A cmi5 AU's moveOn, launch method and parameters, and enclosing blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub au: Option<PackageAu>,
}

#[derive(Debug, Clone, FromRow)]
pub struct PackageRow {
    pub id: PackageId,
    pub tenant_id: TenantId,
    pub standard: String,
    pub items: Json<Vec<PackageItem>>,
    /// The cmi5 course's IRI.
    pub course_iri: Option<String>,
}

/// A package as imported: written once.
pub async fn package_put(tx: &mut PgConnection, e: &PackageImported) -> Result<(), sqlx::Error> {
    let items: Vec<PackageItem> = e
        .modules
        .iter()
        .flat_map(|m| &m.lessons)
        .map(|l| PackageItem {
            item: l.item.clone(),
            title: l.title.clone(),
            launch: l.launch.clone(),
            mastery_score: l.mastery_score,
            au: l.au.clone(),
        })
        .collect();
    sqlx::query(
        "INSERT INTO packages (id, tenant_id, standard, title, items, imported_at, course_iri) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(e.package_id)
    .bind(e.tenant_id)
    .bind(&e.standard)
    .bind(&e.title)
    .bind(Json(items))
    .bind(e.imported_at)
    .bind(&e.course_iri)
    .execute(tx)
    .await?;
    Ok(())
}

/// The package, when the current tenant may read it (its own, or one a version it is
/// enrolled in plays).
pub async fn package_get(tx: &mut PgConnection, id: PackageId) -> Result<Option<PackageRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, tenant_id, standard, items, course_iri FROM packages WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub session_id: PlaySessionId,
    pub lesson_id: LessonId,
    pub package_id: PackageId,
    pub item: String,
    pub standard: String,
    pub user_id: UserId,
    pub number: i32,
    /// `open`, `suspended` or `ended`.
    pub state: String,
    pub cmi: Json<std::collections::BTreeMap<String, String>>,
    pub total_centis: i64,
    pub seq: i64,
    /// The digest of the commit `seq` applied: its retry is told from a conflicting one.
    pub last_digest: Option<Vec<u8>>,
    pub initialized: bool,
    pub token_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const ATTEMPT: &str = "id, tenant_id, session_id, lesson_id, package_id, item, standard, user_id, number, state, cmi, \
     total_centis, seq, last_digest, initialized, token_expires_at, created_at, updated_at";

/// The latest attempt of a session's lesson, locked for a change.
pub async fn attempt_latest(
    tx: &mut PgConnection,
    session: PlaySessionId,
    lesson: LessonId,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ATTEMPT} FROM runtime_attempts WHERE session_id = $1 AND lesson_id = $2 \
         ORDER BY number DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(session)
    .bind(lesson)
    .fetch_optional(tx)
    .await
}

/// The attempt a runtime token opens, locked: commits of one attempt take turns.
pub async fn attempt_by_token(tx: &mut PgConnection, hash: &[u8]) -> Result<Option<AttemptRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ATTEMPT} FROM runtime_attempts WHERE token_hash = $1 FOR UPDATE"))
        .bind(hash)
        .fetch_optional(tx)
        .await
}

/// The attempt a runtime token opens, for serving its files (no lock).
pub async fn attempt_files(tx: &mut PgConnection, hash: &[u8]) -> Result<Option<AttemptRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ATTEMPT} FROM runtime_attempts WHERE token_hash = $1"))
        .bind(hash)
        .fetch_optional(tx)
        .await
}

pub async fn attempt_insert(tx: &mut PgConnection, a: &AttemptRow, token_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO runtime_attempts (id, tenant_id, session_id, lesson_id, package_id, item, standard, user_id, \
         number, state, cmi, total_centis, seq, initialized, token_hash, token_expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(a.id)
    .bind(a.tenant_id)
    .bind(a.session_id)
    .bind(a.lesson_id)
    .bind(a.package_id)
    .bind(&a.item)
    .bind(&a.standard)
    .bind(a.user_id)
    .bind(a.number)
    .bind(&a.state)
    .bind(&a.cmi)
    .bind(a.total_centis)
    .bind(a.seq)
    .bind(a.initialized)
    .bind(token_hash)
    .bind(a.token_expires_at)
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Saves an attempt's data and state; with a token, replaces the runtime's capability.
pub async fn attempt_save(tx: &mut PgConnection, a: &AttemptRow, token_hash: Option<&[u8]>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE runtime_attempts SET state = $2, cmi = $3, total_centis = $4, seq = $5, initialized = $6, \
         token_expires_at = $7, updated_at = $8, token_hash = COALESCE($9, token_hash), last_digest = $10 WHERE id = $1",
    )
    .bind(a.id)
    .bind(&a.state)
    .bind(&a.cmi)
    .bind(a.total_centis)
    .bind(a.seq)
    .bind(a.initialized)
    .bind(a.token_expires_at)
    .bind(a.updated_at)
    .bind(token_hash)
    .bind(&a.last_digest)
    .execute(tx)
    .await?;
    Ok(())
}

/// A session's attempts of a lesson, newest first.
pub async fn attempts_of_lesson(
    tx: &mut PgConnection,
    session: PlaySessionId,
    lesson: LessonId,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ATTEMPT} FROM runtime_attempts WHERE session_id = $1 AND lesson_id = $2 ORDER BY number DESC LIMIT 100"
    ))
    .bind(session)
    .bind(lesson)
    .fetch_all(tx)
    .await
}
