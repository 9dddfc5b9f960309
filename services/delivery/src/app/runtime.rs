//! The SCORM runtime (1.2 and 2004): a learner opens the package a lesson holds, and gets
//! a player page whose URL carries a random capability (no cookie: it works in a frame
//! of any site, Safari included). The page serves the adapter (`window.API` or
//! `window.API_1484_11`), the SCO's files from the package content imported, and takes
//! the adapter's commits: every value is checked again against the data model here and
//! kept with the attempt, a retried commit is answered without being applied twice, and
//! what the values amount to (initialized, scored, completed, passed, failed, answered,
//! suspended, terminated) is recorded as xAPI through the outbox in the same transaction.
//! A completed (and not failed) attempt completes its lesson in the session.
//!
//! Attempts: one is open until the SCO terminates; a launch after a `suspend` exit
//! resumes it (`entry` = `resume`), a launch after any other exit begins the next one.
//! Each launch replaces the capability, so a frame left open elsewhere stops committing.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, Duration, Utc};
use mirai_contracts::{
    ids::{LessonId, PackageId, PlaySessionId, TenantId},
    xapi as iri,
};
use mirai_kit::{AppError, Principal, telemetry::RequestContext};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{advance, learner, lessons, now, own_session, record_all, xapi};
use crate::{
    AppState,
    scorm::{Cmi, Fault, Start, Version},
    store::{
        self,
        runtime::{AttemptRow, PackageItem, PackageRow},
    },
};

/// How long a player page's capability lasts: a long sitting, not a day.
pub const TOKEN_TTL_HOURS: i64 = 8;
/// Values one commit may carry (a SCO sets a few dozen; 500 interactions of 9 fields fit).
pub const MAX_VALUES: usize = 10_000;
/// What an attempt's data model may weigh (keys and values): 2 MiB.
pub const MAX_ATTEMPT_BYTES: usize = 2 << 20;

/// An attempt of a package's item, as the learner (and the runtime) see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    pub id: Uuid,
    #[schema(value_type = uuid::Uuid)]
    pub lesson_id: LessonId,
    #[schema(value_type = uuid::Uuid)]
    pub package_id: PackageId,
    /// The item (SCO) of the package.
    pub item: String,
    /// `scorm_1.2` or `scorm_2004`.
    pub standard: String,
    /// 1 for the first attempt of the lesson, then 2, 3, …
    pub number: i32,
    /// `open` (playing, or left without terminating), `suspended` (resumes at the next
    /// launch) or `ended`.
    pub state: String,
    pub completed: bool,
    /// Passed (true), failed (false), or no verdict (null).
    pub success: Option<bool>,
    /// The score as xAPI has it (`raw`, `min`, `max`, `scaled`), once the SCO set one.
    #[schema(value_type = Option<Object>)]
    pub score: Option<Value>,
    /// The attempt's total time (ISO 8601 duration).
    pub total_time: String,
    /// The data model as committed: element → value.
    #[schema(value_type = Object)]
    pub cmi: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A runtime launched: the page to open (in a frame or a window) and until when it works.
#[derive(Debug, Serialize, ToSchema)]
pub struct Launched {
    pub attempt: Attempt,
    /// The player page: it serves the SCORM adapter and the SCO; its URL is the
    /// capability (keep it to the learner).
    pub player_url: String,
    pub expires_at: DateTime<Utc>,
    /// A cmi5 AU's launch: `player_url` is the AU's URL with cmi5's launch parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub au: Option<super::cmi5::AuLaunch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommitEvent {
    /// `Initialize`/`LMSInitialize` (what was set before it, if anything, with it).
    Initialize,
    /// `Commit`/`LMSCommit`, or the page closing with values unsent.
    Commit,
    /// `Terminate`/`LMSFinish`: the runtime session ends.
    Terminate,
}

/// What the adapter sends: the values set since its last acknowledged commit, in the
/// order they were set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Commit {
    /// One more than the last sequence number the server answered; a commit already
    /// applied (a retry) is answered again without being applied.
    pub seq: i64,
    pub event: CommitEvent,
    /// `[element, value]` pairs.
    #[schema(value_type = Vec<Vec<String>>)]
    pub values: Vec<(String, String)>,
}

/// The server's answer: the data model as it now holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Committed {
    pub seq: i64,
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, String>,
}

/// What the player page needs: the version, its rules, the values, the SCO to frame.
pub struct Page {
    pub version: Version,
    pub title: String,
    pub launch: String,
    pub seq: i64,
    pub values: BTreeMap<String, String>,
}

fn view(a: &AttemptRow) -> Attempt {
    let cmi = Cmi { version: Version::of(&a.standard).unwrap_or(Version::Scorm12), values: a.cmi.0.clone() };
    let outcome = cmi.outcome();
    Attempt {
        id: a.id,
        lesson_id: a.lesson_id,
        package_id: a.package_id,
        item: a.item.clone(),
        standard: a.standard.clone(),
        number: a.number,
        state: a.state.clone(),
        completed: outcome.completed,
        success: outcome.success,
        score: score_json(&cmi),
        total_time: crate::scorm::interval(a.total_centis),
        cmi: a.cmi.0.clone(),
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

/// The score as xAPI's `result.score` (min and max only when they hold the raw score).
fn score_json(cmi: &Cmi) -> Option<Value> {
    let s = cmi.score()?;
    let mut out = json!({});
    if let Some(scaled) = s.scaled {
        out["scaled"] = json!((scaled * 10_000.0).round() / 10_000.0);
    }
    if let Some(raw) = s.raw {
        out["raw"] = json!(raw);
        if let (Some(min), Some(max)) = (s.min, s.max)
            && min <= raw
            && raw <= max
        {
            out["min"] = json!(min);
            out["max"] = json!(max);
        }
    }
    Some(out)
}

fn conflict(slug: &'static str, title: &'static str, detail: String) -> AppError {
    AppError::client(StatusCode::CONFLICT, slug, title, detail)
}

/// A runtime token: the tenant (so its row is found under RLS) and 32 random bytes.
pub(super) fn new_token(tenant: TenantId) -> (String, Vec<u8>) {
    let secret: [u8; 32] = rand::rng().random();
    let token = format!("{}{}", tenant.into_uuid().simple(), B64.encode(secret));
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

pub(super) fn parse_token(token: &str) -> Option<(Uuid, Vec<u8>)> {
    if token.len() != 32 + 43 || !token.is_ascii() {
        return None;
    }
    let tenant = Uuid::try_parse(&token[..32]).ok()?;
    Some((tenant, Sha256::digest(token.as_bytes()).to_vec()))
}

fn runtime_not_found() -> AppError {
    AppError::client(
        StatusCode::NOT_FOUND,
        "not-found",
        "Runtime not found",
        "no runtime has this address: it was replaced by a later launch, or never existed".to_owned(),
    )
}

fn refused(version: Version, f: Fault, element: &str) -> AppError {
    AppError::client(
        StatusCode::UNPROCESSABLE_ENTITY,
        "scorm-value-refused",
        "Value refused by the data model",
        format!("{element}: SCORM {} error {} ({f:?})", version.as_str(), version.code(f)),
    )
}

/// The package block a lesson holds, and the package and item it launches.
async fn package_of(
    tx: &mut sqlx::PgConnection,
    v: &store::VersionRow,
    lesson: LessonId,
) -> Result<(PackageRow, PackageItem), AppError> {
    let (_, l) =
        lessons(v).find(|(_, l)| l.lesson_id == lesson).ok_or_else(|| AppError::not_found("lesson", lesson))?;
    let block = l.blocks.iter().find(|b| b.kind == "package").ok_or_else(|| {
        conflict("no-package", "No package", format!("lesson {lesson} holds no package block: it plays in the player"))
    })?;
    let id = block.package_id.ok_or_else(|| {
        conflict("no-package", "No package", format!("lesson {lesson}'s package block names no package"))
    })?;
    let pkg = store::runtime::package_get(tx, id)
        .await?
        .ok_or_else(|| AppError::Conflict(format!("package {id} is not in the player yet: retry shortly")))?;
    let item = match &block.item {
        Some(want) => pkg.items.0.iter().find(|i| &i.item == want),
        None => pkg.items.0.first(),
    }
    .cloned()
    .ok_or_else(|| conflict("no-package", "No such item", format!("package {id} has no item {:?}", block.item)))?;
    Ok((pkg, item))
}

/// The lesson counts as opened, and is where the session stands.
async fn opened(tx: &mut sqlx::PgConnection, s: &mut store::SessionRow, lesson: LessonId) -> Result<(), AppError> {
    if s.position != Some(lesson) || !s.opened_lessons.contains(&lesson.into_uuid()) {
        s.position = Some(lesson);
        if !s.opened_lessons.contains(&lesson.into_uuid()) {
            s.opened_lessons.push(lesson.into_uuid());
        }
        s.revision = store::session_save(tx, s).await?;
    }
    Ok(())
}

/// Launches the package a lesson of the caller's session holds: resumes the open or
/// suspended attempt, or begins the next. The lesson counts as opened.
#[tracing::instrument(skip_all, fields(session = %id, lesson = %lesson))]
pub async fn open(
    state: &AppState,
    p: &Principal,
    id: PlaySessionId,
    lesson: LessonId,
) -> Result<(Launched, bool), AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let (mut s, v) = own_session(&mut tx, user, id, true).await?;
    let (pkg, item) = package_of(&mut tx, &v, lesson).await?;
    let at = now(&mut tx).await?;
    let package_id = pkg.id;
    let Some(version) = Version::of(&pkg.standard) else {
        if pkg.standard != "cmi5" {
            return Err(conflict(
                "runtime-unsupported",
                "Runtime not available",
                format!("package {} is {}: no runtime plays it", pkg.id, pkg.standard),
            ));
        }
        let launched = super::cmi5::launch(state, &mut tx, &mut s, &v, lesson, &pkg, &item, at).await?;
        opened(&mut tx, &mut s, lesson).await?;
        tx.commit().await?;
        return Ok((launched, true));
    };
    let (token, hash) = new_token(tenant);
    let expires_at = at + Duration::hours(TOKEN_TTL_HOURS);
    let mut latest = store::runtime::attempt_latest(&mut tx, id, lesson).await?;
    // An attempt left open after commits (the page closed without `Terminate`, or this
    // launch replaces a page still open): the LMS ends its runtime session as a
    // `Terminate` would, so its time counts and a suspend is honoured.
    if let Some(a) = latest.as_mut().filter(|a| a.state == "open" && a.seq > 0) {
        let end = Commit { seq: a.seq + 1, event: CommitEvent::Terminate, values: vec![] };
        apply(state, &mut tx, &mut s, &v, a, &end).await?;
    }
    // A new attempt after one that ended, except a SCORM 1.2 one left undecided (exited
    // without suspend before completing): 1.2 keeps its data and re-enters it.
    let reusable = |a: &AttemptRow| {
        a.state != "ended"
            || (version == Version::Scorm12 && {
                let o = Cmi { version, values: a.cmi.0.clone() }.outcome();
                !o.completed && o.success.is_none()
            })
    };
    let (mut a, new) = match latest {
        Some(a) if reusable(&a) => (a, false),
        prev => (
            AttemptRow {
                id: Uuid::now_v7(),
                tenant_id: tenant,
                session_id: id,
                lesson_id: lesson,
                package_id,
                item: item.item.clone(),
                standard: version.as_str().into(),
                user_id: user,
                number: prev.map_or(1, |p| p.number + 1),
                state: "open".into(),
                cmi: Json(BTreeMap::new()),
                total_centis: 0,
                seq: 0,
                last_digest: None,
                initialized: false,
                token_expires_at: expires_at,
                created_at: at,
                updated_at: at,
            },
            true,
        ),
    };
    // RTE 1.2 3.4.4 / 2004 4.2.7: `resume` after a suspend, `` re-entering an attempt
    // otherwise, `ab-initio` for an attempt never committed to.
    let entry = match a.state.as_str() {
        "suspended" => "resume",
        _ if a.seq > 0 => "",
        _ => "ab-initio",
    };
    // The learner as the SCO sees them: their id, never their email (the package is
    // another tenant's content).
    let user_id = user.to_string();
    let mut cmi = Cmi { version, values: std::mem::take(&mut a.cmi.0) };
    cmi.start(
        &Start { learner_id: &user_id, learner_name: &user_id, entry, mastery_score: item.mastery_score },
        a.total_centis,
    );
    a.cmi = Json(cmi.values);
    a.state = "open".into();
    a.initialized = false;
    a.last_digest = None;
    a.token_expires_at = expires_at;
    a.updated_at = at;
    if new {
        store::runtime::attempt_insert(&mut tx, &a, &hash).await?;
    } else {
        store::runtime::attempt_save(&mut tx, &a, Some(&hash)).await?;
    }
    opened(&mut tx, &mut s, lesson).await?;
    tx.commit().await?;
    let player_url = format!("{}/api/v1/delivery/runtime/{token}/player", state.runtime_url.trim_end_matches('/'));
    Ok((Launched { attempt: view(&a), player_url, expires_at, au: None }, new))
}

/// The caller's attempts of a lesson of their session, newest first.
#[tracing::instrument(skip_all, fields(session = %id, lesson = %lesson))]
pub async fn attempts(
    state: &AppState,
    p: &Principal,
    id: PlaySessionId,
    lesson: LessonId,
) -> Result<Vec<Attempt>, AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    own_session(&mut tx, user, id, false).await?;
    let mut all: Vec<Attempt> =
        store::runtime::attempts_of_lesson(&mut tx, id, lesson).await?.iter().map(view).collect();
    all.extend(super::cmi5::attempts(&mut tx, id, lesson).await?);
    Ok(all)
}

/// The attempt a runtime's address opens, while the capability lasts.
async fn attempt_of(tx: &mut sqlx::PgConnection, hash: &[u8], lock: bool) -> Result<AttemptRow, AppError> {
    let a = if lock {
        store::runtime::attempt_by_token(tx, hash).await?
    } else {
        store::runtime::attempt_files(tx, hash).await?
    }
    .ok_or_else(runtime_not_found)?;
    if a.token_expires_at < now(tx).await? {
        return Err(expired());
    }
    Ok(a)
}

fn expired() -> AppError {
    AppError::client(
        StatusCode::FORBIDDEN,
        "runtime-expired",
        "Runtime expired",
        "this player page's time is up: launch the lesson again".to_owned(),
    )
}

/// What the player page shows.
pub async fn page(state: &AppState, token: &str) -> Result<Page, AppError> {
    let (tenant, hash) = parse_token(token).ok_or_else(runtime_not_found)?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let a = attempt_of(&mut tx, &hash, false).await?;
    let session = store::session_get(&mut tx, a.session_id, false).await?.ok_or_else(runtime_not_found)?;
    if !store::enrollment_is_active(&mut tx, session.enrollment_id, false).await? {
        return Err(super::not_enrolled(session.course_id));
    }
    let pkg = store::runtime::package_get(&mut tx, a.package_id).await?.ok_or_else(runtime_not_found)?;
    let item = pkg.items.0.iter().find(|i| i.item == a.item).ok_or_else(runtime_not_found)?;
    Ok(Page {
        version: Version::of(&a.standard).ok_or_else(runtime_not_found)?,
        title: item.title.clone(),
        launch: item.launch.clone(),
        seq: a.seq,
        values: a.cmi.0,
    })
}

/// The object-store key of a file of the package a runtime plays (`path` relative to the
/// package root; `..` and empty segments refused).
pub async fn file_key(state: &AppState, token: &str, path: &str) -> Result<String, AppError> {
    let (tenant, hash) = parse_token(token).ok_or_else(runtime_not_found)?;
    if path.is_empty() || path.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return Err(AppError::not_found("file", path));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    // A SCORM attempt's page, or a cmi5 AU session's.
    let package = match store::cmi5::by_token(&mut tx, store::cmi5::Capability::Content, &hash, false).await? {
        Some(au) if au.expires_at < now(&mut tx).await? => return Err(expired()),
        Some(au) => au.package_id,
        None => attempt_of(&mut tx, &hash, false).await?.package_id,
    };
    let pkg = store::runtime::package_get(&mut tx, package).await?.ok_or_else(runtime_not_found)?;
    Ok(format!("tenants/{}/packages/{}/{path}", pkg.tenant_id, pkg.id))
}

/// A commit from the adapter: the values checked and kept, what they amount to recorded.
#[tracing::instrument(skip_all, fields(seq = c.seq, values = c.values.len()))]
pub async fn commit(state: &AppState, token: &str, c: Commit) -> Result<Committed, AppError> {
    let (tenant, hash) = parse_token(token).ok_or_else(runtime_not_found)?;
    if c.seq < 1 {
        return Err(AppError::invalid("seq", "must be at least 1"));
    }
    if c.values.len() > MAX_VALUES {
        return Err(AppError::invalid("values", format!("at most {MAX_VALUES} values per commit")));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let found = attempt_of(&mut tx, &hash, false).await?;
    // The session first, as a launch takes it (its enrollment still active, held), then
    // the attempt under its lock.
    let (mut s, v) = own_session(&mut tx, found.user_id, found.session_id, true).await.map_err(|e| match e {
        AppError::NotFound { .. } => runtime_not_found(),
        e => e,
    })?;
    let mut a = attempt_of(&mut tx, &hash, true).await?;
    let digest = digest(&c);
    if c.seq < a.seq || (c.seq == a.seq && a.last_digest.as_deref() == Some(digest.as_slice())) {
        // Applied already (a retry whose answer was lost): the same answer again.
        return Ok(Committed { seq: a.seq, values: a.cmi.0 });
    }
    if c.seq == a.seq {
        return Err(conflict(
            "commit-conflict",
            "Commit conflict",
            format!("commit {} was applied with other values: send newer values under {}", c.seq, a.seq + 1),
        ));
    }
    if a.state != "open" {
        return Err(conflict(
            "runtime-terminated",
            "Runtime terminated",
            "the SCO terminated this runtime session: launch the lesson again".to_owned(),
        ));
    }
    apply(state, &mut tx, &mut s, &v, &mut a, &c).await?;
    a.last_digest = Some(digest);
    store::runtime::attempt_save(&mut tx, &a, None).await?;
    tx.commit().await?;
    Ok(Committed { seq: a.seq, values: a.cmi.0 })
}

/// What identifies a commit's content: its event and values.
fn digest(c: &Commit) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(format!("{:?}", c.event));
    for (k, v) in &c.values {
        h.update((k.len() as u64).to_be_bytes());
        h.update(k);
        h.update((v.len() as u64).to_be_bytes());
        h.update(v);
    }
    h.finalize().to_vec()
}

/// Applies a commit to a locked attempt: the values through the data model, the LMS's
/// part at `Terminate`, the statements of what changed, the lesson completed when the
/// attempt is. The caller saves the attempt.
async fn apply(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    s: &mut store::SessionRow,
    v: &store::VersionRow,
    a: &mut AttemptRow,
    c: &Commit,
) -> Result<(), AppError> {
    let version = Version::of(&a.standard).ok_or_else(runtime_not_found)?;
    let mut cmi = Cmi { version, values: std::mem::take(&mut a.cmi.0) };
    let (before, score_before) = (cmi.outcome(), score_json(&cmi));
    // The interactions whose response or result this commit sets (what `responded` is).
    let mut answered = BTreeSet::new();
    for (element, value) in &c.values {
        cmi.set(element, value).map_err(|f| refused(version, f, element))?;
        if let Some(rest) = element.strip_prefix("cmi.interactions.")
            && let Some((i, field)) = rest.split_once('.')
            && matches!(field, "student_response" | "learner_response" | "result")
            && let Ok(i) = i.parse::<usize>()
        {
            answered.insert(i);
        }
    }
    if cmi.weight() > MAX_ATTEMPT_BYTES {
        return Err(AppError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "attempt-too-large",
            "Attempt too large",
            format!("an attempt's data model holds at most {MAX_ATTEMPT_BYTES} bytes; this commit would exceed it"),
        ));
    }
    let at = now(tx).await?;
    let (_, l) = lessons(v).find(|(_, l)| l.lesson_id == a.lesson_id).ok_or_else(runtime_not_found)?;
    let title = l.title.clone();
    let rec = xapi::Recorder { public_url: &state.ctx.public_url, session: s, version: v, at };
    let lesson = rec.lesson(a.lesson_id, &title);
    let attempt =
        format!("{}?attemptId={}", iri::lesson_activity(&state.ctx.public_url, s.course_id, a.lesson_id), a.id);
    let mut statements = vec![];
    if c.event == CommitEvent::Initialize && !a.initialized {
        a.initialized = true;
        let entry = cmi.values.get(entry_element(version)).map(String::as_str);
        let verb = if entry == Some("resume") { xapi::RESUMED } else { xapi::INITIALIZED };
        statements.push(rec.scorm(verb, lesson.clone(), &attempt, None, None));
    }
    let ended = (c.event == CommitEvent::Terminate).then(|| {
        let (ended, total) = cmi.finish(a.total_centis);
        a.total_centis = total;
        a.state = if ended.suspended { "suspended" } else { "ended" }.into();
        ended
    });
    let (after, score) = (cmi.outcome(), score_json(&cmi));
    if score.is_some() && score != score_before {
        statements.push(rec.scorm(xapi::SCORED, lesson.clone(), &attempt, None, Some(json!({ "score": score }))));
    }
    if after.completed && !before.completed {
        let mut result = json!({ "completion": true });
        if let Some(sc) = &score {
            result["score"] = sc.clone();
        }
        statements.push(rec.scorm(xapi::COMPLETED, lesson.clone(), &attempt, None, Some(result)));
    }
    if after.success.is_some() && after.success != before.success {
        let passed = after.success == Some(true);
        let mut result = json!({ "success": passed, "completion": after.completed });
        if let Some(sc) = &score {
            result["score"] = sc.clone();
        }
        let verb = if passed { xapi::PASSED } else { xapi::FAILED };
        statements.push(rec.scorm(verb, lesson.clone(), &attempt, None, Some(result)));
    }
    for i in answered {
        if let Some(st) = responded(&rec, &cmi, i, &attempt, &lesson) {
            statements.push(st);
        }
    }
    if let Some(ended) = &ended {
        // The profile: `terminated` carries the SCO's overall result; `suspended` too.
        let verb = if ended.suspended { xapi::SUSPENDED } else { xapi::TERMINATED };
        let mut result = json!({ "duration": crate::scorm::interval(ended.session_centis) });
        if after.completed {
            result["completion"] = json!(true);
        }
        if let Some(passed) = after.success {
            result["success"] = json!(passed);
        }
        if let Some(sc) = &score {
            result["score"] = sc.clone();
        }
        statements.push(rec.scorm(verb, lesson.clone(), &attempt, None, Some(result)));
    }
    // A completed attempt that did not fail completes its lesson. A SCORM 1.2 item with a
    // mastery score has its verdict at `LMSFinish` (the LMS judges the raw score then).
    let verdict_pending = version == Version::Scorm12
        && cmi.values.contains_key("cmi.student_data.mastery_score")
        && c.event != CommitEvent::Terminate;
    if after.completed
        && after.success != Some(false)
        && !verdict_pending
        && !s.completed_lessons.contains(&a.lesson_id.into_uuid())
    {
        statements.extend(advance(state, s, v, a.lesson_id, at));
        s.revision = store::session_save(tx, s).await?;
    }
    a.cmi = Json(cmi.values);
    a.seq = c.seq;
    a.updated_at = at;
    let meta = RequestContext::event_meta(format!("user:{}", a.user_id));
    record_all(state, tx, &meta, s, statements).await
}

fn entry_element(v: Version) -> &'static str {
    match v {
        Version::Scorm12 => "cmi.core.entry",
        Version::Scorm2004 => "cmi.entry",
    }
}

/// An interaction as the SCORM profile's `responded`: a `cmi.interaction` activity (its
/// id under the SCO's) with its type and correct responses, the learner's response, and
/// the result and latency as success and duration.
fn responded(rec: &xapi::Recorder, cmi: &Cmi, i: usize, attempt: &str, sco: &Value) -> Option<Value> {
    let r = cmi.interaction(i);
    let id = r.get("id")?;
    let v12 = cmi.version == Version::Scorm12;
    let kind = r.get("type").map(String::as_str);
    let response = r.get(if v12 { "student_response" } else { "learner_response" });
    let mut definition = json!({ "type": xapi::INTERACTION_TYPE });
    if let Some(k) = kind {
        definition["interactionType"] = json!(k);
    }
    let patterns: Vec<String> = (0..cmi.count(&format!("cmi.interactions.{i}.correct_responses")))
        .filter_map(|n| r.get(&format!("correct_responses.{n}.pattern")))
        .map(|p| if v12 { pattern12(kind, p) } else { p.clone() })
        .collect();
    // xAPI: a pattern needs the interaction's type (1.2 lets a SCO leave it out).
    if !patterns.is_empty() && kind.is_some() {
        definition["correctResponsesPattern"] = json!(patterns);
    }
    if let Some(d) = r.get("description") {
        definition["description"] =
            json!({ "und": d.split_once('}').filter(|_| d.starts_with("{lang=")).map_or(d.as_str(), |(_, t)| t) });
    }
    let object = json!({ "objectType": "Activity",
        "id": format!("{}/interactions/{}", sco["id"].as_str().unwrap_or_default(), encode(id)),
        "definition": definition });
    let mut result = json!({});
    if let Some(resp) = response {
        result["response"] = json!(if v12 { pattern12(kind, resp) } else { resp.clone() });
    }
    match r.get("result").map(String::as_str) {
        Some("correct") => result["success"] = json!(true),
        Some("wrong" | "incorrect") => result["success"] = json!(false),
        _ => {}
    }
    let latency = r
        .get("latency")
        .and_then(|l| if v12 { crate::scorm::parse_timespan12(l) } else { crate::scorm::parse_interval(l) });
    if let Some(c) = latency {
        result["duration"] = json!(crate::scorm::interval(c));
    }
    let result = result.as_object().is_some_and(|o| !o.is_empty()).then_some(result);
    Some(rec.scorm(xapi::RESPONDED, object, attempt, Some(sco), result))
}

/// SCORM 1.2's response format as xAPI's (the 2004 one): choices and sequences separated
/// by `[,]`, matched pairs by `[.]`, true-false as `true`/`false`.
fn pattern12(kind: Option<&str>, p: &str) -> String {
    match kind {
        Some("true-false") => match p {
            "t" | "1" | "true" => "true".into(),
            "f" | "0" | "false" => "false".into(),
            _ => p.to_owned(),
        },
        Some("choice" | "sequencing") => p.split(',').collect::<Vec<_>>().join("[,]"),
        Some("matching") => {
            p.split(',').map(|pair| pair.split('.').collect::<Vec<_>>().join("[.]")).collect::<Vec<_>>().join("[,]")
        }
        _ => p.to_owned(),
    }
}

/// An id as a path segment of an IRI.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
