//! cmi5's tables: AU sessions, what a registration achieved of each AU, the statements
//! an AU session sent, and the State documents of a registration.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{LessonId, PackageId, PlaySessionId, TenantId, UserId};
use sqlx::{FromRow, PgConnection, types::Json};
use uuid::Uuid;

#[derive(Debug, Clone, FromRow)]
pub struct AuSessionRow {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub session_id: PlaySessionId,
    pub lesson_id: LessonId,
    pub package_id: PackageId,
    /// The cmi5 registration: the session's play of the package.
    pub registration: Option<Uuid>,
    pub au: String,
    pub user_id: UserId,
    pub number: i32,
    /// `Normal`, `Browse` or `Review`.
    pub launch_mode: String,
    /// `launched`, `initialized`, `terminated` or `abandoned`.
    pub state: String,
    /// Whether the AU read the learner's preferences (cmi5 11: before its statements).
    pub prefs_read: bool,
    /// The cmi5-defined verbs the session recorded (their IRIs).
    pub verbs: Vec<String>,
    /// The score of its passed or failed statement.
    pub score: Option<Json<serde_json::Value>>,
    pub fetched_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub launched_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

const AU_SESSION: &str = "id, tenant_id, session_id, lesson_id, package_id, registration, au, user_id, number, launch_mode, state, prefs_read, \
     verbs, score, fetched_at, expires_at, launched_at, last_at";

/// The latest AU session of a registration's lesson, locked.
pub async fn latest(
    tx: &mut PgConnection,
    session: PlaySessionId,
    lesson: LessonId,
) -> Result<Option<AuSessionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {AU_SESSION} FROM cmi5_sessions WHERE session_id = $1 AND lesson_id = $2 \
         ORDER BY number DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(session)
    .bind(lesson)
    .fetch_optional(tx)
    .await
}

/// Which of the three capabilities a token is.
#[derive(Debug, Clone, Copy)]
pub enum Capability {
    Content,
    Fetch,
    Auth,
}

/// The AU session a capability opens (`lock` for a change).
pub async fn by_token(
    tx: &mut PgConnection,
    which: Capability,
    hash: &[u8],
    lock: bool,
) -> Result<Option<AuSessionRow>, sqlx::Error> {
    let column = match which {
        Capability::Content => "content_hash",
        Capability::Fetch => "fetch_hash",
        Capability::Auth => "auth_hash",
    };
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {AU_SESSION} FROM cmi5_sessions WHERE {column} = $1{lock}"))
        .bind(hash)
        .fetch_optional(tx)
        .await
}

pub async fn insert(
    tx: &mut PgConnection,
    s: &AuSessionRow,
    content_hash: &[u8],
    fetch_hash: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cmi5_sessions (id, tenant_id, session_id, lesson_id, package_id, au, user_id, number, launch_mode, \
         state, content_hash, fetch_hash, expires_at, launched_at, last_at, registration) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(s.id)
    .bind(s.tenant_id)
    .bind(s.session_id)
    .bind(s.lesson_id)
    .bind(s.package_id)
    .bind(&s.au)
    .bind(s.user_id)
    .bind(s.number)
    .bind(&s.launch_mode)
    .bind(&s.state)
    .bind(content_hash)
    .bind(fetch_hash)
    .bind(s.expires_at)
    .bind(s.launched_at)
    .bind(s.last_at)
    .bind(s.registration)
    .execute(tx)
    .await?;
    Ok(())
}

/// The cmi5 registration of a session's play of a package, made at its first launch
/// (`true` then).
pub async fn registration_of(
    tx: &mut PgConnection,
    tenant: TenantId,
    session: PlaySessionId,
    package: PackageId,
    at: DateTime<Utc>,
) -> Result<(Uuid, bool), sqlx::Error> {
    let made: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO cmi5_registrations (id, tenant_id, session_id, package_id, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (session_id, package_id) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(session)
    .bind(package)
    .bind(at)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = made {
        return Ok((id, true));
    }
    let id = sqlx::query_scalar("SELECT id FROM cmi5_registrations WHERE session_id = $1 AND package_id = $2")
        .bind(session)
        .bind(package)
        .fetch_one(tx)
        .await?;
    Ok((id, false))
}

/// The AU sessions of a registration still open (launched or initialized), locked.
pub async fn open_sessions(tx: &mut PgConnection, registration: Uuid) -> Result<Vec<AuSessionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {AU_SESSION} FROM cmi5_sessions WHERE registration = $1 AND state IN ('launched', 'initialized') \
         ORDER BY id FOR UPDATE"
    ))
    .bind(registration)
    .fetch_all(tx)
    .await
}

/// Saves an AU session's state, verbs, score and last activity.
pub async fn save(tx: &mut PgConnection, s: &AuSessionRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cmi5_sessions SET state = $2, verbs = $3, score = $4, last_at = $5, prefs_read = $6 WHERE id = $1",
    )
    .bind(s.id)
    .bind(&s.state)
    .bind(&s.verbs)
    .bind(&s.score)
    .bind(s.last_at)
    .bind(s.prefs_read)
    .execute(tx)
    .await?;
    Ok(())
}

/// The fetch URL answered: its auth token is set, once (false when it was answered before).
pub async fn fetched(
    tx: &mut PgConnection,
    id: Uuid,
    auth_hash: &[u8],
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let n =
        sqlx::query("UPDATE cmi5_sessions SET auth_hash = $2, fetched_at = $3 WHERE id = $1 AND fetched_at IS NULL")
            .bind(id)
            .bind(auth_hash)
            .bind(at)
            .execute(tx)
            .await?
            .rows_affected();
    Ok(n == 1)
}

pub async fn sessions_of_lesson(
    tx: &mut PgConnection,
    session: PlaySessionId,
    lesson: LessonId,
) -> Result<Vec<AuSessionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {AU_SESSION} FROM cmi5_sessions WHERE session_id = $1 AND lesson_id = $2 ORDER BY number DESC LIMIT 100"
    ))
    .bind(session)
    .bind(lesson)
    .fetch_all(tx)
    .await
}

#[derive(Debug, Clone, Default, FromRow)]
pub struct AuOutcome {
    pub au: String,
    pub completed: bool,
    pub passed: bool,
    pub failed: bool,
    pub satisfied: bool,
}

/// What a registration achieved of a package's AUs (those it has a record of).
pub async fn outcomes(
    tx: &mut PgConnection,
    session: PlaySessionId,
    package: PackageId,
) -> Result<Vec<AuOutcome>, sqlx::Error> {
    sqlx::query_as(
        "SELECT au, completed, passed, failed, satisfied FROM cmi5_aus WHERE session_id = $1 AND package_id = $2 \
         FOR UPDATE",
    )
    .bind(session)
    .bind(package)
    .fetch_all(tx)
    .await
}

pub async fn outcome_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    session: PlaySessionId,
    package: PackageId,
    o: &AuOutcome,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cmi5_aus (tenant_id, session_id, package_id, au, completed, passed, failed, satisfied) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (session_id, package_id, au) DO UPDATE SET \
         completed = EXCLUDED.completed, passed = EXCLUDED.passed, failed = EXCLUDED.failed, satisfied = EXCLUDED.satisfied",
    )
    .bind(tenant)
    .bind(session)
    .bind(package)
    .bind(&o.au)
    .bind(o.completed)
    .bind(o.passed)
    .bind(o.failed)
    .bind(o.satisfied)
    .execute(tx)
    .await?;
    Ok(())
}

/// The digest a statement was accepted with (by any AU session of the tenant), if it was.
pub async fn statement_digest(tx: &mut PgConnection, id: Uuid) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT digest FROM cmi5_statements WHERE statement_id = $1").bind(id).fetch_optional(tx).await
}

pub async fn statement_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    au_session: Uuid,
    id: Uuid,
    digest: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO cmi5_statements (tenant_id, au_session_id, statement_id, digest) VALUES ($1, $2, $3, $4)")
        .bind(tenant)
        .bind(au_session)
        .bind(id)
        .bind(digest)
        .execute(tx)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct StateDoc {
    pub content_type: String,
    pub content: Vec<u8>,
    pub updated_at: DateTime<Utc>,
}

pub async fn state_get(
    tx: &mut PgConnection,
    session: PlaySessionId,
    activity: &str,
    state_id: &str,
) -> Result<Option<StateDoc>, sqlx::Error> {
    sqlx::query_as(
        "SELECT content_type, content, updated_at FROM cmi5_state \
         WHERE session_id = $1 AND activity_id = $2 AND state_id = $3",
    )
    .bind(session)
    .bind(activity)
    .bind(state_id)
    .fetch_optional(tx)
    .await
}

/// The ids of a registration's State documents of an activity (changed since `since`).
pub async fn state_ids(
    tx: &mut PgConnection,
    session: PlaySessionId,
    activity: &str,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT state_id FROM cmi5_state WHERE session_id = $1 AND activity_id = $2 \
         AND ($3::timestamptz IS NULL OR updated_at > $3) ORDER BY state_id LIMIT 1000",
    )
    .bind(session)
    .bind(activity)
    .bind(since)
    .fetch_all(tx)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn state_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    session: PlaySessionId,
    activity: &str,
    state_id: &str,
    content_type: &str,
    content: &[u8],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cmi5_state (tenant_id, session_id, activity_id, state_id, content_type, content, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (session_id, activity_id, state_id) DO UPDATE SET \
         content_type = EXCLUDED.content_type, content = EXCLUDED.content, updated_at = EXCLUDED.updated_at",
    )
    .bind(tenant)
    .bind(session)
    .bind(activity)
    .bind(state_id)
    .bind(content_type)
    .bind(content)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes one State document, or (without `state_id`) all of the activity's but those
/// the LMS wrote.
pub async fn state_delete(
    tx: &mut PgConnection,
    session: PlaySessionId,
    activity: &str,
    state_id: Option<&str>,
    keep: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM cmi5_state WHERE session_id = $1 AND activity_id = $2 AND ($3::text IS NULL OR state_id = $3) \
         AND state_id <> $4",
    )
    .bind(session)
    .bind(activity)
    .bind(state_id)
    .bind(keep)
    .execute(tx)
    .await?;
    Ok(())
}
