//! delivery's use-cases: launch, the session (outline, resume position, progress), a
//! lesson's content, moving the position and completing lessons. A session is its
//! learner's alone: anyone else (an admin included) is told it does not exist. Every step
//! that changes progress records its statements in the same transaction (the outbox), so
//! the LRS gets them however the request ends.

pub mod cmi5;
pub mod offline;
pub mod runtime;
pub mod xapi;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::{
        authoring::{OutlineBlock, OutlineLesson},
        delivery::StatementsRecorded,
    },
    ids::{CourseId, LessonId, ModuleId, PlaySessionId, TenantId, UserId},
};
use mirai_events::EventMeta;
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    AppState,
    store::{self, SessionRow, VersionRow},
};

/// A learner's progress through the version's lessons.
#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    pub completed: i64,
    pub total: i64,
    /// `completed / total`, rounded down, 0 to 100.
    pub percent: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LessonEntry {
    #[schema(value_type = uuid::Uuid)]
    pub lesson_id: LessonId,
    pub title: String,
    pub completed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleEntry {
    #[schema(value_type = uuid::Uuid)]
    pub module_id: ModuleId,
    pub title: String,
    pub lessons: Vec<LessonEntry>,
}

/// A play session: one per enrollment, resumed by every later launch.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// Also the xAPI registration of every statement the player records for it.
    #[schema(value_type = uuid::Uuid)]
    pub id: PlaySessionId,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub version: i32,
    pub title: String,
    pub locale: String,
    /// `in_progress` or `completed`.
    pub status: String,
    /// The lesson to resume at; null once every lesson is completed.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub position: Option<LessonId>,
    pub progress: Progress,
    pub outline: Vec<ModuleEntry>,
    pub launches: i32,
    pub started_at: DateTime<Utc>,
    pub last_launched_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Counts up with every change.
    pub revision: i64,
}

/// A block of a lesson as the player shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Block {
    #[schema(value_type = uuid::Uuid)]
    pub block_id: Uuid,
    /// `text`, `image`, `video`, `file`, `quiz`, `package`, `code` or `callout`.
    pub kind: String,
    /// The block's content by kind (`markdown`; `media_id`, `alt`, `caption`,
    /// `transcript`, `name`; `quiz_id`; `package_id`, `item`, `title`; `language`,
    /// `source`; `tone`). For versions published before it was carried, `{"text": …}`.
    #[schema(value_type = Object)]
    pub content: Value,
    /// For an image, video or file block: where to fetch its media now (a signed URL,
    /// valid for an hour, needing no credential). Null while the player has not learnt
    /// of the asset yet.
    pub media: Option<MediaLink>,
}

/// A short-lived link to a lesson's media (the asset stays in its provider's tenant).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MediaLink {
    pub url: String,
    pub content_type: String,
    pub filename: String,
    pub size: i64,
    pub expires_at: DateTime<Utc>,
}

/// How long a lesson's media links work.
const MEDIA_LINK_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// A lesson's content.
#[derive(Debug, Serialize, ToSchema)]
pub struct Lesson {
    #[schema(value_type = uuid::Uuid)]
    pub lesson_id: LessonId,
    #[schema(value_type = uuid::Uuid)]
    pub module_id: ModuleId,
    pub title: String,
    pub completed: bool,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// A lesson of the session's course version.
    #[schema(value_type = uuid::Uuid)]
    pub lesson_id: LessonId,
}

fn not_enrolled(course: CourseId) -> AppError {
    AppError::client(
        StatusCode::FORBIDDEN,
        "not-enrolled",
        "Not enrolled",
        format!("you hold no active enrollment in course {course}: ask your organization for one"),
    )
}

/// The learner behind the request: a person of the tenant (an API key plays nothing).
fn learner(p: &Principal) -> Result<(TenantId, UserId), AppError> {
    let tenant = p.tenant()?;
    p.require_in_tenant(tenant, &Role::ALL)?;
    let user = p.user_id.ok_or_else(|| AppError::Forbidden("only a person launches a course".into()))?;
    Ok((tenant.into(), user.into()))
}

fn lessons(v: &VersionRow) -> impl Iterator<Item = (ModuleId, &OutlineLesson)> {
    v.outline.0.iter().flat_map(|m| m.lessons.iter().map(move |l| (m.module_id, l)))
}

fn progress(v: &VersionRow, s: &SessionRow) -> Progress {
    let total = lessons(v).count() as i64;
    let completed = lessons(v).filter(|(_, l)| s.completed_lessons.contains(&l.lesson_id.into_uuid())).count() as i64;
    Progress { completed, total, percent: if total == 0 { 0 } else { completed * 100 / total } }
}

fn view(v: &VersionRow, s: &SessionRow) -> Session {
    let done = |l: LessonId| s.completed_lessons.contains(&l.into_uuid());
    Session {
        id: s.id,
        course_id: s.course_id,
        version: s.version,
        title: v.title.clone(),
        locale: v.locale.clone(),
        status: s.status.clone(),
        position: s.position,
        progress: progress(v, s),
        outline: v
            .outline
            .0
            .iter()
            .map(|m| ModuleEntry {
                module_id: m.module_id,
                title: m.title.clone(),
                lessons: m
                    .lessons
                    .iter()
                    .map(|l| LessonEntry {
                        lesson_id: l.lesson_id,
                        title: l.title.clone(),
                        completed: done(l.lesson_id),
                    })
                    .collect(),
            })
            .collect(),
        launches: s.launches,
        started_at: s.started_at,
        last_launched_at: s.last_launched_at,
        completed_at: s.completed_at,
        revision: s.revision,
    }
}

fn block(b: &OutlineBlock, media: &std::collections::HashMap<Uuid, MediaLink>) -> Block {
    Block {
        block_id: b.block_id.into_uuid(),
        kind: b.kind.clone(),
        content: b.content.clone().unwrap_or_else(|| serde_json::json!({ "text": b.text })),
        media: b.media_id.and_then(|m| media.get(&m.into_uuid()).cloned()),
    }
}

/// Signed links to the media a lesson's blocks show (those the tenant may read).
async fn media_links(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    l: &OutlineLesson,
) -> Result<std::collections::HashMap<Uuid, MediaLink>, AppError> {
    let ids: Vec<Uuid> = l.blocks.iter().filter_map(|b| b.media_id.map(|m| m.into_uuid())).collect();
    let mut out = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for a in store::assets_get(tx, &ids).await? {
        let (url, expires_at) = state
            .blobs
            .sign(
                mirai_blobs::Access::Get,
                &a.object_key,
                MEDIA_LINK_TTL,
                None,
                Some(&a.content_type),
                Some(&a.filename),
            )
            .await
            .map_err(mirai_blobs::unavailable)?;
        out.insert(
            a.id,
            MediaLink { url, content_type: a.content_type, filename: a.filename, size: a.size, expires_at },
        );
    }
    Ok(out)
}

/// The first lesson not completed, from `after` on (wrapping to the start).
fn next_open(v: &VersionRow, s: &SessionRow, after: Option<LessonId>) -> Option<LessonId> {
    let all: Vec<LessonId> = lessons(v).map(|(_, l)| l.lesson_id).collect();
    let start = after.and_then(|a| all.iter().position(|l| *l == a)).map_or(0, |i| i + 1);
    all.iter().cycle().skip(start).take(all.len()).find(|l| !s.completed_lessons.contains(&l.into_uuid())).copied()
}

async fn version_of(tx: &mut sqlx::PgConnection, course: CourseId, version: i32) -> Result<VersionRow, AppError> {
    store::course_version_get(tx, course, version).await?.ok_or_else(|| {
        AppError::Conflict(format!("version {version} of course {course} is not in the player yet: retry shortly"))
    })
}

async fn record(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    meta: &EventMeta,
    s: &SessionRow,
    registration: Option<Uuid>,
    statements: Vec<Value>,
) -> Result<(), AppError> {
    let event =
        StatementsRecorded { tenant_id: s.tenant_id, user_id: s.user_id, session_id: s.id, registration, statements };
    state.ctx.emit(tx, meta, [event.into()]).await
}

/// The statements of one event, at most (the outbox refuses events over 768 KiB).
const STATEMENT_BATCH_BYTES: usize = 256 << 10;

/// Records statements of the session's registration in events of a bounded size, in
/// order.
async fn record_all(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    meta: &EventMeta,
    s: &SessionRow,
    statements: Vec<Value>,
) -> Result<(), AppError> {
    record_in(state, tx, meta, s, None, statements).await
}

/// [`record_all`] for another registration of the session's (a cmi5 course's).
async fn record_in(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    meta: &EventMeta,
    s: &SessionRow,
    registration: Option<Uuid>,
    statements: Vec<Value>,
) -> Result<(), AppError> {
    let mut batch: Vec<Value> = vec![];
    let mut size = 0;
    for st in statements {
        let len = st.to_string().len();
        if !batch.is_empty() && size + len > STATEMENT_BATCH_BYTES {
            record(state, tx, meta, s, registration, std::mem::take(&mut batch)).await?;
            size = 0;
        }
        size += len;
        batch.push(st);
    }
    if !batch.is_empty() {
        record(state, tx, meta, s, registration, batch).await?;
    }
    Ok(())
}

/// A lesson completed in the session: the position moves on, and the statements of the
/// course's progress follow (and of its completion, with the last lesson).
fn advance(state: &AppState, s: &mut SessionRow, v: &VersionRow, lesson: LessonId, at: DateTime<Utc>) -> Vec<Value> {
    s.completed_lessons.push(lesson.into_uuid());
    s.position = next_open(v, s, Some(lesson));
    let progress = progress(v, s);
    let rec = xapi::Recorder { public_url: &state.ctx.public_url, session: s, version: v, at };
    let mut statements = vec![rec.progressed(progress.percent)];
    if progress.completed == progress.total && s.status != "completed" {
        statements.push(rec.course_completed());
        s.status = "completed".into();
        s.completed_at = Some(at);
    }
    statements
}

async fn now(tx: &mut sqlx::PgConnection) -> Result<DateTime<Utc>, AppError> {
    Ok(sqlx::query_scalar("SELECT date_trunc('milliseconds', now())").fetch_one(tx).await?)
}

/// Launches the caller's enrolled version of the course: the first launch opens the
/// session, later ones resume it. Returns whether it was opened now.
#[tracing::instrument(skip_all, fields(course = %course))]
pub async fn launch(state: &AppState, p: &Principal, course: CourseId) -> Result<(Session, bool), AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let enrollment = store::enrollment_active(&mut tx, user, course).await?.ok_or_else(|| not_enrolled(course))?;
    let version = version_of(&mut tx, course, enrollment.version).await?;
    let at = now(&mut tx).await?;
    let (session, new) = match store::session_of_enrollment(&mut tx, enrollment.id).await? {
        Some(mut s) => {
            s.launches += 1;
            s.last_launched_at = at;
            s.revision = store::session_save(&mut tx, &s).await?;
            (s, false)
        }
        None => {
            let mut s = SessionRow {
                id: PlaySessionId::new(),
                tenant_id: tenant,
                enrollment_id: enrollment.id,
                user_id: user,
                course_id: course,
                version: enrollment.version,
                status: "in_progress".into(),
                position: None,
                completed_lessons: vec![],
                opened_lessons: vec![],
                launches: 1,
                started_at: at,
                last_launched_at: at,
                completed_at: None,
                revision: 1,
            };
            s.position = next_open(&version, &s, None);
            s.opened_lessons.extend(s.position.map(LessonId::into_uuid));
            store::session_insert(&mut tx, &s).await?;
            (s, true)
        }
    };
    let rec = xapi::Recorder { public_url: &state.ctx.public_url, session: &session, version: &version, at };
    record(state, &mut tx, &p.event_meta(), &session, None, vec![rec.launched()]).await?;
    tx.commit().await?;
    Ok((view(&version, &session), new))
}

/// The caller's session, for reading (`lock`: for a change, which also needs the
/// enrollment still active).
async fn own_session(
    tx: &mut sqlx::PgConnection,
    user: UserId,
    id: PlaySessionId,
    lock: bool,
) -> Result<(SessionRow, VersionRow), AppError> {
    let mut s = store::session_get(tx, id, false)
        .await?
        .filter(|s| s.user_id == user)
        .ok_or_else(|| AppError::not_found("session", id))?;
    if lock {
        // The enrollment first (as a launch takes it), held so its end waits for this
        // change; then the session, read again under its lock.
        if !store::enrollment_is_active(tx, s.enrollment_id, true).await? {
            return Err(not_enrolled(s.course_id));
        }
        s = store::session_get(tx, id, true).await?.ok_or_else(|| AppError::not_found("session", id))?;
    }
    let v = version_of(tx, s.course_id, s.version).await?;
    Ok((s, v))
}

#[tracing::instrument(skip_all, fields(session = %id))]
pub async fn get(state: &AppState, p: &Principal, id: PlaySessionId) -> Result<Session, AppError> {
    let mut tx = state.ctx.db.tenant_tx(p.tenant()?).await?;
    let (s, v) = own_session(&mut tx, learner(p)?.1, id, false).await?;
    Ok(view(&v, &s))
}

/// A lesson's content, while the learner's enrollment is active.
#[tracing::instrument(skip_all, fields(session = %id, lesson = %lesson))]
pub async fn lesson(state: &AppState, p: &Principal, id: PlaySessionId, lesson: LessonId) -> Result<Lesson, AppError> {
    let mut tx = state.ctx.db.tenant_tx(p.tenant()?).await?;
    let (s, v) = own_session(&mut tx, learner(p)?.1, id, false).await?;
    if !store::enrollment_is_active(&mut tx, s.enrollment_id, false).await? {
        return Err(not_enrolled(s.course_id));
    }
    let (module_id, l) =
        lessons(&v).find(|(_, l)| l.lesson_id == lesson).ok_or_else(|| AppError::not_found("lesson", lesson))?;
    let media = media_links(state, &mut tx, l).await?;
    Ok(Lesson {
        lesson_id: l.lesson_id,
        module_id,
        title: l.title.clone(),
        completed: s.completed_lessons.contains(&lesson.into_uuid()),
        blocks: l.blocks.iter().map(|b| block(b, &media)).collect(),
    })
}

/// Moves the resume position, which opens the lesson (no statement: where the learner is is
/// not progress).
#[tracing::instrument(skip_all, fields(session = %id))]
pub async fn set_position(
    state: &AppState,
    p: &Principal,
    id: PlaySessionId,
    to: Position,
) -> Result<Session, AppError> {
    let mut tx = state.ctx.db.tenant_tx(p.tenant()?).await?;
    let (mut s, v) = own_session(&mut tx, learner(p)?.1, id, true).await?;
    if !lessons(&v).any(|(_, l)| l.lesson_id == to.lesson_id) {
        return Err(AppError::invalid("lesson_id", "is not a lesson of the session's course version"));
    }
    if s.position != Some(to.lesson_id) {
        s.position = Some(to.lesson_id);
        if !s.opened_lessons.contains(&to.lesson_id.into_uuid()) {
            s.opened_lessons.push(to.lesson_id.into_uuid());
        }
        s.revision = store::session_save(&mut tx, &s).await?;
    }
    tx.commit().await?;
    Ok(view(&v, &s))
}

/// Completes a lesson: recorded as the lesson completed and the course progressed, and
/// the course completed with the last one. Completing a completed lesson changes nothing.
/// Only a lesson the learner opened completes this way, and not one holding a quiz or a
/// package: those complete with their activity's result.
#[tracing::instrument(skip_all, fields(session = %id, lesson = %lesson))]
pub async fn complete_lesson(
    state: &AppState,
    p: &Principal,
    id: PlaySessionId,
    lesson: LessonId,
) -> Result<Session, AppError> {
    let mut tx = state.ctx.db.tenant_tx(p.tenant()?).await?;
    let (mut s, v) = own_session(&mut tx, learner(p)?.1, id, true).await?;
    let (_, l) =
        lessons(&v).find(|(_, l)| l.lesson_id == lesson).ok_or_else(|| AppError::not_found("lesson", lesson))?;
    if s.completed_lessons.contains(&lesson.into_uuid()) {
        return Ok(view(&v, &s));
    }
    if !s.opened_lessons.contains(&lesson.into_uuid()) {
        return Err(AppError::client(
            StatusCode::CONFLICT,
            "lesson-not-opened",
            "Lesson not opened",
            format!("lesson {lesson} was never opened in this session: move the position to it first"),
        ));
    }
    if let Some(b) = l.blocks.iter().find(|b| matches!(b.kind.as_str(), "quiz" | "package")) {
        return Err(AppError::client(
            StatusCode::CONFLICT,
            "completes-by-activity",
            "Completes by its activity",
            format!("lesson {lesson} holds a {} block: it completes with that activity's result", b.kind),
        ));
    }
    let at = now(&mut tx).await?;
    let rec = xapi::Recorder { public_url: &state.ctx.public_url, session: &s, version: &v, at };
    let mut statements = vec![rec.lesson_completed(lesson, &l.title)];
    statements.extend(advance(state, &mut s, &v, lesson, at));
    s.revision = store::session_save(&mut tx, &s).await?;
    record(state, &mut tx, &p.event_meta(), &s, None, statements).await?;
    tx.commit().await?;
    Ok(view(&v, &s))
}

/// A quiz passed (assessment's verdict) completes the lessons of the learner's session that
/// hold it: such lessons complete by the quiz's result, never on the learner's word. A
/// learner who has not launched the course yet has no session to complete.
pub async fn quiz_passed(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    meta: &EventMeta,
    e: &mirai_contracts::events::assessment::AttemptGraded,
) -> Result<(), AppError> {
    if !e.passed {
        return Ok(());
    }
    let Some(enrollment) = store::enrollment_active(tx, e.user_id, e.course_id).await? else { return Ok(()) };
    let Some(mut s) = store::session_of_enrollment(tx, enrollment.id).await? else { return Ok(()) };
    let v = version_of(tx, s.course_id, s.version).await?;
    let quiz = e.quiz_id.to_string();
    let holding: Vec<(LessonId, String)> = lessons(&v)
        .filter(|(_, l)| {
            l.blocks.iter().any(|b| {
                b.kind == "quiz" && b.content.as_ref().and_then(|c| c["quiz_id"].as_str()) == Some(quiz.as_str())
            })
        })
        .filter(|(_, l)| !s.completed_lessons.contains(&l.lesson_id.into_uuid()))
        .map(|(_, l)| (l.lesson_id, l.title.clone()))
        .collect();
    if holding.is_empty() {
        return Ok(());
    }
    let at = now(tx).await?;
    let mut statements = vec![];
    for (lesson, title) in holding {
        let rec = xapi::Recorder { public_url: &state.ctx.public_url, session: &s, version: &v, at };
        statements.push(rec.lesson_completed(lesson, &title));
        statements.extend(advance(state, &mut s, &v, lesson, at));
    }
    s.revision = store::session_save(tx, &s).await?;
    record_all(state, tx, meta, &s, statements).await
}

/// The caller's sessions, newest first.
#[tracing::instrument(skip_all)]
pub async fn mine(state: &AppState, p: &Principal, page: PageParams) -> Result<Page<Session>, AppError> {
    let (tenant, user) = learner(p)?;
    let limit = page.limit()?;
    let after = page.cursor()?.map(|c| (c.created_at, PlaySessionId::from(c.id)));
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::sessions_of_learner(&mut tx, user, after, limit + 1).await?;
    let mut versions: std::collections::HashMap<(CourseId, i32), VersionRow> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for s in rows {
        let v = match versions.entry((s.course_id, s.version)) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(version_of(&mut tx, s.course_id, s.version).await?)
            }
        };
        out.push(view(v, &s));
    }
    Ok(Page::from_rows(out, limit, |s| Cursor { created_at: s.started_at, id: s.id.into_uuid() }))
}
