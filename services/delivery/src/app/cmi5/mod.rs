//! cmi5 (ADR 0016): a lesson holding a cmi5 AU launches like a SCORM one (the same call),
//! and the AU then talks xAPI to an endpoint delivery serves for its session alone.
//!
//! A launch abandons the AU's session left open, writes `LMS.LaunchData` to the State
//! resource, records `launched`, and answers the AU's URL with cmi5's five parameters:
//! `endpoint`, `fetch` (a one-time URL answering the session's auth token), `actor`,
//! `registration` (the play session) and `activityId` (the lesson's IRI, never the
//! publisher's id). The AU's statements are checked against xAPI and cmi5's rules (a
//! breach is a 403 naming the requirement), recorded through the outbox in the
//! transaction that checks them, and what they achieve is judged by the AU's moveOn: an
//! AU satisfied completes its lesson, and `satisfied` is recorded for each block and the
//! course it completes, before the AU's next statement is answered.

pub mod rules;

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use mirai_contracts::{
    events::content::PackageAu,
    ids::{LessonId, PlaySessionId, StatementId},
    xapi as iri,
};
use mirai_kit::{AppError, telemetry::RequestContext};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, types::Json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{advance, lessons, now, own_session, record_all, record_in};
use crate::{
    AppState,
    store::{
        self, SessionRow, VersionRow,
        cmi5::{AuOutcome, AuSessionRow, Capability},
        runtime::{PackageItem, PackageRow},
    },
};
use rules::{Defined, Launch, Progress};

const LAUNCHED: &str = "http://adlnet.gov/expapi/verbs/launched";
pub const SATISFIED: &str = "https://w3id.org/xapi/adl/verbs/satisfied";
pub const ABANDONED: &str = "https://w3id.org/xapi/adl/verbs/abandoned";
const EXT: &str = "https://w3id.org/xapi/cmi5/context/extensions/";
const BLOCK_TYPE: &str = "https://w3id.org/xapi/cmi5/activitytype/block";
const COURSE_TYPE: &str = "https://w3id.org/xapi/cmi5/activitytype/course";
/// The State document the LMS writes for the AU (cmi5 10).
pub const LAUNCH_DATA: &str = "LMS.LaunchData";
/// The Agent Profile document of the learner's preferences (cmi5 11).
pub const PREFERENCES: &str = "cmi5LearnerPreferences";
/// Statements one request may carry.
pub const MAX_STATEMENTS: usize = 100;
/// What one statement may weigh (a recorded event holds at most the outbox's limit).
pub const MAX_STATEMENT_BYTES: usize = 256 << 10;
/// What one State document may weigh.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// How long an AU session's capabilities last.
const SESSION_TTL_HOURS: i64 = 8;

/// A cmi5 launch's particulars.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuLaunch {
    /// cmi5's session id: the `sessionid` context extension of the AU's statements.
    pub session_id: Uuid,
    /// The cmi5 registration: this session's play of the package (the `registration`
    /// launch parameter), apart from the player's own statements.
    pub registration: Uuid,
    /// The AU's activity id on this platform (the `activityId` launch parameter).
    pub activity_id: String,
    /// The AU's id in its course structure.
    pub publisher_id: String,
    /// `Normal`.
    pub launch_mode: String,
    /// `AnyWindow` (a frame will do) or `OwnWindow` (open `player_url` in a window of its own).
    pub launch_method: String,
    /// `Passed`, `Completed`, `CompletedAndPassed`, `CompletedOrPassed` or `NotApplicable`.
    pub move_on: String,
}

fn au_of(item: &PackageItem) -> PackageAu {
    item.au.clone().unwrap_or_else(|| PackageAu {
        move_on: "NotApplicable".into(),
        launch_method: "AnyWindow".into(),
        launch_parameters: None,
        entitlement_key: None,
        blocks: vec![],
    })
}

/// The learner as the AU knows them: their account on this platform.
pub fn actor(public_url: &str, s: &SessionRow) -> Value {
    json!({ "objectType": "Agent", "account": {
        "homePage": public_url.trim_end_matches('/'), "name": s.user_id.to_string() } })
}

/// The cmi5 course (one package's structure) as an activity of this platform.
fn course_iri(public_url: &str, s: &SessionRow, pkg: &PackageRow) -> String {
    format!("{}/cmi5/{}", iri::course_activity(public_url, s.course_id), pkg.id)
}

/// The package's blocks, in the order they first enclose an AU.
fn blocks(pkg: &PackageRow) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for i in &pkg.items.0 {
        for b in i.au.iter().flat_map(|a| &a.blocks) {
            if !out.contains(b) {
                out.push(b.clone());
            }
        }
    }
    out
}

/// The lesson of a version that plays a package's AU.
fn lesson_of(v: &VersionRow, pkg: &PackageRow, au: &str) -> Option<LessonId> {
    let first = pkg.items.0.first().map(|i| i.item.as_str());
    lessons(v)
        .find(|(_, l)| {
            l.blocks
                .iter()
                .any(|b| b.kind == "package" && b.package_id == Some(pkg.id) && b.item.as_deref().or(first) == Some(au))
        })
        .map(|(_, l)| l.lesson_id)
}

/// The statements the LMS makes itself (cmi5 9.6.2.3: the cmi5 category, the publisher
/// id in the grouping, the registration and the session id).
struct Lms {
    actor: Value,
    registration: Uuid,
    at: DateTime<Utc>,
}

impl Lms {
    fn statement(
        &self,
        verb: &str,
        object: Value,
        session: Uuid,
        grouping: &str,
        extensions: Map<String, Value>,
        result: Option<Value>,
    ) -> Value {
        let mut ext = Map::new();
        ext.insert(rules::SESSION_ID.into(), json!(session));
        ext.extend(extensions);
        let display = verb.rsplit('/').next().unwrap_or(verb);
        let mut st = json!({
            "id": StatementId::new().to_string(),
            "actor": self.actor,
            "verb": { "id": verb, "display": { "en-US": display } },
            "object": object,
            "context": {
                "registration": self.registration.to_string(),
                "contextActivities": {
                    "category": [{ "objectType": "Activity", "id": rules::CMI5_CATEGORY }],
                    "grouping": [{ "objectType": "Activity", "id": grouping }],
                },
                "extensions": ext,
            },
            "timestamp": self.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if let Some(r) = result {
            st["result"] = r;
        }
        st
    }
}

/// An ISO 8601 duration of whole hundredths of a second.
fn duration(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let centis = (to - from).num_milliseconds().max(0) / 10;
    format!("PT{}.{:02}S", centis / 100, centis % 100)
}

/// What settling a registration records: cmi5's `satisfied` statements (of the cmi5
/// registration) and the player's progress (of the session's).
#[derive(Default)]
struct Settled {
    satisfied: Vec<Value>,
    progress: Vec<Value>,
}

/// Settles what the registration's record of a package's AUs now satisfies: each AU its
/// moveOn satisfies is marked, its lesson completes, and `satisfied` is recorded for every
/// block and the course it completes (innermost first). `session` is the AU session that
/// caused it (a new id when the registration begins: NotApplicable AUs).
#[allow(clippy::too_many_arguments)]
async fn settle(
    state: &AppState,
    tx: &mut PgConnection,
    s: &mut SessionRow,
    v: &VersionRow,
    pkg: &PackageRow,
    registration: Uuid,
    outcomes: &mut HashMap<String, AuOutcome>,
    session: Uuid,
    at: DateTime<Utc>,
) -> Result<Settled, AppError> {
    let mut newly = vec![];
    for i in &pkg.items.0 {
        let o =
            outcomes.entry(i.item.clone()).or_insert_with(|| AuOutcome { au: i.item.clone(), ..Default::default() });
        if !o.satisfied && rules::satisfies(&au_of(i).move_on, o.completed, o.passed) {
            o.satisfied = true;
            store::cmi5::outcome_put(tx, s.tenant_id, s.id, pkg.id, o).await?;
            newly.push(i);
        }
    }
    let mut out = Settled::default();
    if newly.is_empty() {
        return Ok(out);
    }
    let satisfied = |au: &str| outcomes.get(au).is_some_and(|o| o.satisfied);
    let lms = Lms { actor: actor(&state.ctx.public_url, s), registration, at };
    let course = course_iri(&state.ctx.public_url, s, pkg);
    let order = blocks(pkg);
    let mut seen = HashSet::new();
    for i in &newly {
        for b in au_of(i).blocks.iter().rev() {
            let whole = pkg.items.0.iter().filter(|j| au_of(j).blocks.contains(b)).all(|j| satisfied(&j.item));
            if seen.insert(b.clone()) && whole {
                let n = order.iter().position(|x| x == b).unwrap_or(0);
                let object = json!({ "objectType": "Activity", "id": format!("{course}/blocks/{n}"),
                    "definition": { "type": BLOCK_TYPE } });
                out.satisfied.push(lms.statement(SATISFIED, object, session, b, Map::new(), None));
            }
        }
    }
    if pkg.items.0.iter().all(|i| satisfied(&i.item)) {
        let object = json!({ "objectType": "Activity", "id": course, "definition": { "type": COURSE_TYPE } });
        let grouping = pkg.course_iri.clone().unwrap_or_else(|| course.clone());
        out.satisfied.push(lms.statement(SATISFIED, object, session, &grouping, Map::new(), None));
    }
    // A satisfied AU completes the lesson that plays it.
    for i in newly {
        if let Some(lesson) = lesson_of(v, pkg, &i.item)
            && !s.completed_lessons.contains(&lesson.into_uuid())
        {
            out.progress.extend(advance(state, s, v, lesson, at));
            s.revision = store::session_save(tx, s).await?;
        }
    }
    Ok(out)
}

async fn outcomes_of(
    tx: &mut PgConnection,
    s: &SessionRow,
    pkg: &PackageRow,
) -> Result<HashMap<String, AuOutcome>, AppError> {
    Ok(store::cmi5::outcomes(tx, s.id, pkg.id).await?.into_iter().map(|o| (o.au.clone(), o)).collect())
}

/// The attempt a cmi5 AU session is, as the runtime's answers show attempts.
pub fn attempt(a: &AuSessionRow, o: Option<&AuOutcome>) -> super::runtime::Attempt {
    let o = o.cloned().unwrap_or_default();
    super::runtime::Attempt {
        id: a.id,
        lesson_id: a.lesson_id,
        package_id: a.package_id,
        item: a.au.clone(),
        standard: "cmi5".into(),
        number: a.number,
        state: if matches!(a.state.as_str(), "launched" | "initialized") { "open" } else { "ended" }.into(),
        completed: o.completed,
        success: if o.passed {
            Some(true)
        } else if o.failed {
            Some(false)
        } else {
            None
        },
        score: a.score.as_ref().map(|s| s.0.clone()),
        total_time: duration(a.launched_at, a.last_at),
        cmi: Default::default(),
        created_at: a.launched_at,
        updated_at: a.last_at,
    }
}

/// The caller's AU sessions of a lesson, newest first.
pub async fn attempts(
    tx: &mut PgConnection,
    session: PlaySessionId,
    lesson: LessonId,
) -> Result<Vec<super::runtime::Attempt>, AppError> {
    let rows = store::cmi5::sessions_of_lesson(tx, session, lesson).await?;
    let Some(first) = rows.first() else { return Ok(vec![]) };
    let outcomes: HashMap<String, AuOutcome> =
        store::cmi5::outcomes(tx, session, first.package_id).await?.into_iter().map(|o| (o.au.clone(), o)).collect();
    Ok(rows.iter().map(|a| attempt(a, outcomes.get(&a.au))).collect())
}

/// Launches the AU a lesson plays, in the caller's transaction (which holds the session):
/// begins the package's cmi5 registration at its first launch (NotApplicable AUs are
/// satisfied then), abandons the registration's AU sessions left open, writes
/// LMS.LaunchData, records `launched`, answers the AU's URL.
#[allow(clippy::too_many_arguments)]
pub(super) async fn launch(
    state: &AppState,
    tx: &mut PgConnection,
    s: &mut SessionRow,
    v: &VersionRow,
    lesson: LessonId,
    pkg: &PackageRow,
    item: &PackageItem,
    at: DateTime<Utc>,
) -> Result<super::runtime::Launched, AppError> {
    // A package imported before its AUs' moveOn was kept would satisfy everything at once.
    if pkg.items.0.iter().any(|i| i.au.is_none()) {
        return Err(AppError::client(
            StatusCode::CONFLICT,
            "package-outdated",
            "Package outdated",
            format!("package {} was imported before cmi5 launches were kept: import it again", pkg.id),
        ));
    }
    let au = au_of(item);
    let public = state.ctx.public_url.trim_end_matches('/');
    let activity_id = iri::lesson_activity(public, s.course_id, lesson);
    let (registration, _) = store::cmi5::registration_of(tx, s.tenant_id, s.id, pkg.id, at).await?;
    let lms = Lms { actor: actor(public, s), registration, at };
    let mut statements = vec![];
    // cmi5 9.3.6 (abandoned): a new launch in the registration ends the AU sessions left
    // without terminating, any AU's, their duration (9.5.4.2) running from the launch to
    // the AU's last statement.
    for mut prev in store::cmi5::open_sessions(tx, registration).await? {
        prev.state = "abandoned".into();
        let object =
            json!({ "objectType": "Activity", "id": iri::lesson_activity(public, s.course_id, prev.lesson_id) });
        let result = json!({ "duration": duration(prev.launched_at, prev.last_at) });
        statements.push(lms.statement(ABANDONED, object, prev.id, &prev.au, Map::new(), Some(result)));
        store::cmi5::save(tx, &prev).await?;
    }
    let latest = store::cmi5::latest(tx, s.id, lesson).await?;
    let mut outcomes = outcomes_of(tx, s, pkg).await?;
    let settled = settle(state, tx, s, v, pkg, registration, &mut outcomes, Uuid::now_v7(), at).await?;
    statements.extend(settled.satisfied);

    let (content_token, content_hash) = super::runtime::new_token(s.tenant_id);
    let (fetch_token, fetch_hash) = super::runtime::new_token(s.tenant_id);
    let row = AuSessionRow {
        id: Uuid::now_v7(),
        tenant_id: s.tenant_id,
        session_id: s.id,
        lesson_id: lesson,
        package_id: pkg.id,
        registration: Some(registration),
        au: item.item.clone(),
        user_id: s.user_id,
        number: latest.map_or(1, |p| p.number + 1),
        launch_mode: "Normal".into(),
        state: "launched".into(),
        prefs_read: false,
        verbs: vec![],
        score: None,
        fetched_at: None,
        expires_at: at + Duration::hours(SESSION_TTL_HOURS),
        launched_at: at,
        last_at: at,
    };
    store::cmi5::insert(tx, &row, &content_hash, &fetch_hash).await?;

    // cmi5 10: LMS.LaunchData, for the registration's AU.
    let mut data = json!({
        "contextTemplate": {
            "contextActivities": { "grouping": [{ "objectType": "Activity", "id": item.item }] },
            "extensions": { rules::SESSION_ID: row.id },
        },
        "launchMode": row.launch_mode,
        "moveOn": au.move_on,
    });
    if let Some(m) = item.mastery_score {
        data["masteryScore"] = json!(m);
    }
    if let Some(p) = &au.launch_parameters {
        data["launchParameters"] = json!(p);
    }
    if let Some(k) = &au.entitlement_key {
        data["entitlementKey"] = json!({ "courseStructure": k });
    }
    let bytes = serde_json::to_vec(&data).map_err(|e| AppError::Internal(e.into()))?;
    store::cmi5::state_put(tx, s.tenant_id, s.id, &activity_id, LAUNCH_DATA, "application/json", &bytes, at).await?;

    // The AU's URL: its own (in the package, through the session's content capability,
    // or outside it), then cmi5's five parameters.
    let base = state.runtime_url.trim_end_matches('/');
    let au_url = if item.launch.starts_with("http://") || item.launch.starts_with("https://") {
        item.launch.clone()
    } else {
        format!("{base}/api/v1/delivery/runtime/{content_token}/content/{}", item.launch)
    };
    let mut ext = Map::new();
    ext.insert(format!("{EXT}launchmode"), json!(row.launch_mode));
    ext.insert(format!("{EXT}moveon"), json!(au.move_on));
    ext.insert(format!("{EXT}launchurl"), json!(au_url));
    if let Some(p) = &au.launch_parameters {
        ext.insert(format!("{EXT}launchparameters"), json!(p));
    }
    if let Some(m) = item.mastery_score {
        ext.insert(rules::MASTERY_SCORE.into(), json!(m));
    }
    let object = json!({ "objectType": "Activity", "id": activity_id });
    statements.push(lms.statement(LAUNCHED, object, row.id, &item.item, ext, None));
    let meta = RequestContext::event_meta(format!("user:{}", s.user_id));
    record_in(state, tx, &meta, s, Some(registration), statements).await?;
    record_all(state, tx, &meta, s, settled.progress).await?;

    let params = serde_urlencoded::to_string([
        ("endpoint", format!("{base}/api/v1/delivery/cmi5/xapi")),
        ("fetch", format!("{base}/api/v1/delivery/cmi5/fetch/{fetch_token}")),
        ("actor", actor(public, s).to_string()),
        ("registration", registration.to_string()),
        ("activityId", activity_id.clone()),
    ])
    .map_err(|e| AppError::Internal(e.into()))?;
    let sep = if au_url.contains('?') { '&' } else { '?' };
    let (url, fragment) = match au_url.split_once('#') {
        Some((u, f)) => (u.to_owned(), format!("#{f}")),
        None => (au_url.clone(), String::new()),
    };
    let outcome = outcomes.get(&item.item);
    Ok(super::runtime::Launched {
        attempt: attempt(&row, outcome),
        player_url: format!("{url}{sep}{params}{fragment}"),
        expires_at: row.expires_at,
        au: Some(AuLaunch {
            session_id: row.id,
            registration,
            activity_id,
            publisher_id: item.item.clone(),
            launch_mode: row.launch_mode,
            launch_method: au.launch_method,
            move_on: au.move_on,
        }),
    })
}

/// The fetch URL (cmi5 8.2): the session's auth token, once. Every answer is a 200
/// carrying JSON; a second call, an expired or unknown URL answer cmi5's error codes.
pub async fn fetch(state: &AppState, token: &str) -> Result<Value, AppError> {
    let refusal = |code: &str, text: &str| json!({ "error-code": code, "error-text": text });
    let Some((tenant, hash)) = super::runtime::parse_token(token) else {
        return Ok(refusal("2", "No such fetch URL."));
    };
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let Some(a) = store::cmi5::by_token(&mut tx, Capability::Fetch, &hash, true).await? else {
        return Ok(refusal("2", "No such fetch URL."));
    };
    let at = now(&mut tx).await?;
    if a.fetched_at.is_some() {
        return Ok(refusal("1", "The authorization token has already been returned."));
    }
    if a.expires_at < at || a.state != "launched" {
        return Ok(refusal("1", "The launch expired or was replaced: launch the lesson again."));
    }
    let (auth, auth_hash) = super::runtime::new_token(a.tenant_id);
    if !store::cmi5::fetched(&mut tx, a.id, &auth_hash, at).await? {
        return Ok(refusal("1", "The authorization token has already been returned."));
    }
    tx.commit().await?;
    Ok(json!({ "auth-token": B64.encode(format!(":{auth}")) }))
}

fn unauthorized(detail: &str) -> AppError {
    AppError::client(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail.to_owned())
}

fn refused(detail: String) -> AppError {
    AppError::client(StatusCode::FORBIDDEN, "cmi5-rule", "Refused by a cmi5 rule", detail)
}

fn bad(detail: impl Into<String>) -> AppError {
    AppError::client(StatusCode::BAD_REQUEST, "xapi-bad-request", "Invalid xAPI request", detail.into())
}

/// The token behind `Authorization: Basic base64(":" + token)`.
fn token_of(authorization: Option<&str>) -> Result<(Uuid, Vec<u8>), AppError> {
    let missing = || unauthorized("send the auth token the fetch URL answered, as `Authorization: Basic <auth-token>`");
    let encoded = authorization.and_then(|h| h.strip_prefix("Basic ")).ok_or_else(missing)?;
    let decoded = B64.decode(encoded.trim()).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(missing)?;
    let (user, pass) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
    let token = if pass.is_empty() { user } else { pass };
    super::runtime::parse_token(token).ok_or_else(missing)
}

/// Everything an AU's request is about, its locks taken: the play session (its enrollment
/// still active), the AU session, the package.
struct Au {
    s: SessionRow,
    v: VersionRow,
    a: AuSessionRow,
    pkg: PackageRow,
    item: PackageItem,
    at: DateTime<Utc>,
}

/// The AU session an auth token opens, its locks taken. `ended`: a session terminated or
/// abandoned is let through (its statements answer retries, then refuse by cmi5's rules);
/// the documents refuse it (8.1.2.0-2).
async fn authorize(tx: &mut PgConnection, hash: &[u8], ended: bool) -> Result<Au, AppError> {
    let gone = || unauthorized("this auth token opens no AU session (expired, or never answered)");
    let found = store::cmi5::by_token(tx, Capability::Auth, hash, false).await?.ok_or_else(gone)?;
    let (s, v) = own_session(tx, found.user_id, found.session_id, true).await.map_err(|e| match e {
        AppError::NotFound { .. } => gone(),
        e => e,
    })?;
    // Read again under its lock: a launch that abandoned it meanwhile is seen.
    let a = store::cmi5::by_token(tx, Capability::Auth, hash, true).await?.ok_or_else(gone)?;
    let at = now(tx).await?;
    if a.expires_at < at {
        return Err(gone());
    }
    if !ended && matches!(a.state.as_str(), "terminated" | "abandoned") {
        return Err(refused(format!("8.1.2.0-2: the AU session is {}: launch the lesson again", a.state)));
    }
    let pkg = store::runtime::package_get(tx, a.package_id).await?.ok_or_else(gone)?;
    let item = pkg.items.0.iter().find(|i| i.item == a.au).cloned().ok_or_else(gone)?;
    Ok(Au { s, v, a, pkg, item, at })
}

/// The statements an AU sends (POST: one or an array; PUT: one, under `statement_id`):
/// their ids, once each is checked, kept, and recorded with what it settles. Each AU
/// statement goes out in an event of its own, so the LRS refusing one (an id it holds
/// already) costs only that one, never the `satisfied` statements it caused.
pub async fn statements(
    state: &AppState,
    authorization: Option<&str>,
    statement_id: Option<&str>,
    body: &[u8],
) -> Result<Vec<String>, AppError> {
    let (tenant, hash) = token_of(authorization)?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let Au { mut s, v, mut a, pkg, item, at } = authorize(&mut tx, &hash, true).await?;
    let parsed = mirai_xapi::strict_json::parse(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let mut list = match (parsed, statement_id) {
        (Value::Array(l), None) => l,
        (Value::Array(_), Some(_)) => return Err(bad("PUT carries one statement")),
        (one, _) => vec![one],
    };
    if list.is_empty() || list.len() > MAX_STATEMENTS {
        return Err(bad(format!("send 1 to {MAX_STATEMENTS} statements")));
    }
    if let Some(n) = list.iter().position(|st| !st.is_object()) {
        return Err(bad(format!("statement {n} is not a JSON object")));
    }
    if let Some(id) = statement_id {
        let id = mirai_xapi::parse_uuid(id).ok_or_else(|| bad("statementId must be a UUID"))?;
        match list[0].get("id").map(|v| v.as_str().and_then(mirai_xapi::parse_uuid)) {
            Some(Some(own)) if own != id => return Err(bad("the statement's id differs from statementId")),
            Some(_) => {}
            None => list[0]["id"] = json!(id.to_string()),
        }
    }
    let public = state.ctx.public_url.trim_end_matches('/').to_owned();
    let launch_actor = actor(&public, &s);
    let activity_id = iri::lesson_activity(&public, s.course_id, a.lesson_id);
    let registration_id = a.registration.unwrap_or(s.id.into_uuid());
    let (registration, session_id) = (registration_id.to_string(), a.id.to_string());
    let launch = Launch {
        actor: &launch_actor,
        registration: &registration,
        session_id: &session_id,
        activity_id: &activity_id,
        publisher_id: &item.item,
        launch_mode: &a.launch_mode,
        mastery_score: item.mastery_score,
        platform: &public,
    };
    let mut outcomes = outcomes_of(&mut tx, &s, &pkg).await?;
    let o = outcomes.get(&item.item).cloned().unwrap_or_default();
    let mut p = Progress {
        state: a.state.clone(),
        prefs_read: a.prefs_read,
        verbs: a.verbs.clone(),
        completed: o.completed,
        passed: o.passed,
        failed: o.failed,
    };
    // Events in order: each AU statement, the `satisfied` it caused, the player's progress.
    let mut events: Vec<(Option<Uuid>, Vec<Value>)> = vec![];
    let (mut ids, mut seen) = (vec![], HashSet::new());
    for (n, st) in list.into_iter().enumerate() {
        let raw = serde_json::to_vec(&st).map_err(|e| AppError::Internal(e.into()))?;
        if raw.len() > MAX_STATEMENT_BYTES {
            return Err(AppError::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "statement-too-large",
                "Statement too large",
                format!("statement {n} weighs {} bytes; at most {MAX_STATEMENT_BYTES}", raw.len()),
            ));
        }
        let id = st.get("id").and_then(Value::as_str).and_then(mirai_xapi::parse_uuid);
        let digest = Sha256::digest(&raw).to_vec();
        if let Some(id) = id {
            if !seen.insert(id) {
                return Err(bad(format!("statement {n}: the id {id} is sent twice")));
            }
            match store::cmi5::statement_digest(&mut tx, id).await? {
                // A retry whose answer was lost: answered again, applied once.
                Some(d) if d == digest => {
                    ids.push(id.to_string());
                    continue;
                }
                Some(_) => {
                    return Err(AppError::Conflict(format!("statement {id} was sent before with other content")));
                }
                None => {}
            }
        }
        let defined = rules::check(&st, &launch, &p).map_err(|e| refused(format!("statement {n}: {e}")))?;
        let (norm, _) = mirai_xapi::validate(&st, mirai_xapi::XapiVersion::V103, at)
            .map_err(|e| bad(format!("statement {n}: {e}")))?;
        // Attachments travel as parts of a multipart request, which this endpoint does
        // not take: one referenced by fileUrl is fine, a signature or a part is not.
        for list in [&st["attachments"], &st["object"]["attachments"]] {
            if let Some(l) = list.as_array()
                && l.iter().any(|x| {
                    x.get("fileUrl").is_none() || x["usageType"] == "http://adlnet.gov/expapi/attachments/signature"
                })
            {
                return Err(bad(format!("statement {n}: attachments here are referenced by fileUrl, and unsigned")));
            }
        }
        let id = norm.id.into_uuid();
        store::cmi5::statement_put(&mut tx, s.tenant_id, a.id, id, &digest).await?;
        ids.push(id.to_string());
        let score = st["result"].get("score").cloned();
        events.push((Some(registration_id), vec![st]));
        let Some(d) = defined else { continue };
        rules::apply(&mut p, d);
        if matches!(d, Defined::Passed | Defined::Failed) {
            a.score = score.map(Json);
        }
        if matches!(d, Defined::Completed | Defined::Passed | Defined::Failed) {
            let o = outcomes
                .entry(item.item.clone())
                .or_insert_with(|| AuOutcome { au: item.item.clone(), ..Default::default() });
            (o.completed, o.passed, o.failed) = (p.completed, p.passed, p.failed);
            store::cmi5::outcome_put(&mut tx, s.tenant_id, s.id, pkg.id, o).await?;
            let settled = settle(state, &mut tx, &mut s, &v, &pkg, registration_id, &mut outcomes, a.id, at).await?;
            if !settled.satisfied.is_empty() {
                events.push((Some(registration_id), settled.satisfied));
            }
            if !settled.progress.is_empty() {
                events.push((None, settled.progress));
            }
        }
    }
    a.state = p.state;
    a.verbs = p.verbs;
    a.last_at = at;
    store::cmi5::save(&mut tx, &a).await?;
    let meta = RequestContext::event_meta(format!("user:{}", s.user_id));
    for (registration, statements) in events {
        record_in(state, &mut tx, &meta, &s, registration, statements).await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// What a State or Agent Profile request names.
#[derive(Debug, Default)]
pub struct DocQuery {
    pub activity_id: Option<String>,
    pub agent: Option<String>,
    pub registration: Option<String>,
    pub state_id: Option<String>,
    pub profile_id: Option<String>,
    pub since: Option<String>,
}

impl DocQuery {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut q = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "activityId" => q.activity_id = Some(v),
                "agent" => q.agent = Some(v),
                "registration" => q.registration = Some(v),
                "stateId" => q.state_id = Some(v),
                "profileId" => q.profile_id = Some(v),
                "since" => q.since = Some(v),
                _ => {}
            }
        }
        q
    }
}

/// A document read: its bytes and type, or the ids asked for.
#[derive(Debug)]
pub enum Doc {
    One { content_type: String, content: Vec<u8>, updated_at: DateTime<Utc> },
    Ids(Vec<String>),
}

/// The learner the request names is the launch's (cmi5 8.1.3.0-3), and its registration
/// (when named) the launch's.
fn same_learner(au: &Au, q: &DocQuery, public: &str) -> Result<(), AppError> {
    let agent = q.agent.as_deref().ok_or_else(|| refused("8.1.3.0-3: name the launch's actor as `agent`".into()))?;
    let agent: Value = serde_json::from_str(agent).map_err(|_| refused("8.1.3.0-3: `agent` is not JSON".into()))?;
    if !rules::same_actor(&agent, &actor(public, &au.s)) {
        return Err(refused("8.1.3.0-3: `agent` is not the actor the AU was launched with".into()));
    }
    if let Some(r) = &q.registration
        && mirai_xapi::parse_uuid(r) != Some(au.a.registration.unwrap_or(au.s.id.into_uuid()))
    {
        return Err(refused("8.1.4.0-3: `registration` is not the launch's".into()));
    }
    Ok(())
}

/// Where a State document lives: a registration's documents apart from those kept
/// without one.
fn state_activity(q: &DocQuery) -> Result<String, AppError> {
    let a = q
        .activity_id
        .as_deref()
        .filter(|a| mirai_xapi::is_iri(a))
        .ok_or_else(|| bad("activityId (an IRI) is required"))?;
    Ok(if q.registration.is_some() { a.to_owned() } else { format!("no-registration:{a}") })
}

/// GET on the State resource: one document, or the ids of the activity's.
pub async fn state_get(state: &AppState, authorization: Option<&str>, q: DocQuery) -> Result<Doc, AppError> {
    let (tenant, hash) = token_of(authorization)?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let au = authorize(&mut tx, &hash, false).await?;
    same_learner(&au, &q, &state.ctx.public_url)?;
    let activity = state_activity(&q)?;
    let doc = match &q.state_id {
        Some(id) => {
            let d = store::cmi5::state_get(&mut tx, au.s.id, &activity, id)
                .await?
                .ok_or_else(|| AppError::not_found("state document", id))?;
            Doc::One { content_type: d.content_type, content: d.content, updated_at: d.updated_at }
        }
        None => {
            let since = q
                .since
                .as_deref()
                .map(|t| mirai_xapi::timestamp(t).map_err(|e| bad(format!("since: {e}"))))
                .transpose()?;
            Doc::Ids(store::cmi5::state_ids(&mut tx, au.s.id, &activity, since).await?)
        }
    };
    tx.commit().await?;
    Ok(doc)
}

/// PUT (replace) or POST (merge JSON objects) of a State document. LMS.LaunchData is
/// the LMS's: the AU reads it only (cmi5 10.2.1.0-5).
pub async fn state_write(
    state: &AppState,
    authorization: Option<&str>,
    q: DocQuery,
    merge: bool,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), AppError> {
    let (tenant, hash) = token_of(authorization)?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let au = authorize(&mut tx, &hash, false).await?;
    same_learner(&au, &q, &state.ctx.public_url)?;
    let activity = state_activity(&q)?;
    let id = q.state_id.as_deref().ok_or_else(|| bad("stateId is required"))?;
    if id == LAUNCH_DATA {
        return Err(refused("10.2.1.0-5: LMS.LaunchData is the LMS's; the AU reads it only".into()));
    }
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(AppError::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "document-too-large",
            "Document too large",
            format!("a State document weighs at most {MAX_DOCUMENT_BYTES} bytes"),
        ));
    }
    let content_type = content_type.unwrap_or("application/octet-stream");
    let json_type = content_type.starts_with("application/json");
    let (content_type, content) = match (merge, store::cmi5::state_get(&mut tx, au.s.id, &activity, id).await?) {
        (true, Some(old)) => {
            let (Ok(Value::Object(mut old_v)), true, Ok(Value::Object(new_v))) = (
                serde_json::from_slice::<Value>(&old.content),
                json_type && old.content_type.starts_with("application/json"),
                mirai_xapi::strict_json::parse(body),
            ) else {
                return Err(bad("POST merges JSON objects: both documents must be JSON objects"));
            };
            old_v.extend(new_v);
            ("application/json".to_owned(), serde_json::to_vec(&old_v).map_err(|e| AppError::Internal(e.into()))?)
        }
        (true, None) if json_type && !matches!(mirai_xapi::strict_json::parse(body), Ok(Value::Object(_))) => {
            return Err(bad("POST merges JSON objects: the document must be a JSON object"));
        }
        _ => (content_type.to_owned(), body.to_vec()),
    };
    store::cmi5::state_put(&mut tx, au.s.tenant_id, au.s.id, &activity, id, &content_type, &content, au.at).await?;
    tx.commit().await?;
    Ok(())
}

/// DELETE on the State resource: one document, or all the activity's but LMS.LaunchData.
pub async fn state_delete(state: &AppState, authorization: Option<&str>, q: DocQuery) -> Result<(), AppError> {
    let (tenant, hash) = token_of(authorization)?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let au = authorize(&mut tx, &hash, false).await?;
    same_learner(&au, &q, &state.ctx.public_url)?;
    let activity = state_activity(&q)?;
    if q.state_id.as_deref() == Some(LAUNCH_DATA) {
        return Err(refused("10.2.1.0-5: LMS.LaunchData is the LMS's; the AU does not delete it".into()));
    }
    store::cmi5::state_delete(&mut tx, au.s.id, &activity, q.state_id.as_deref(), LAUNCH_DATA).await?;
    tx.commit().await?;
    Ok(())
}

/// GET on the Agent Profile resource: the platform keeps no learner preferences, so
/// `cmi5LearnerPreferences` is a 404 (cmi5 11 lets the AU go on with its defaults); the
/// read counts as the AU having asked.
pub async fn profile_get(state: &AppState, authorization: Option<&str>, q: DocQuery) -> Result<Doc, AppError> {
    let (tenant, hash) = token_of(authorization)?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let mut au = authorize(&mut tx, &hash, false).await?;
    same_learner(&au, &q, &state.ctx.public_url)?;
    if !au.a.prefs_read {
        au.a.prefs_read = true;
        store::cmi5::save(&mut tx, &au.a).await?;
        tx.commit().await?;
    }
    match q.profile_id {
        Some(id) => Err(AppError::not_found("agent profile", id)),
        None => Ok(Doc::Ids(vec![])),
    }
}

/// PUT, POST or DELETE on the Agent Profile resource: refused (cmi5 11: the LMS may).
pub async fn profile_write(state: &AppState, authorization: Option<&str>) -> Result<(), AppError> {
    let (tenant, hash) = token_of(authorization)?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    authorize(&mut tx, &hash, false).await?;
    Err(refused("11.0.0.0-1: the learner's preferences are the LMS's; this one takes no writes".into()))
}

#[cfg(test)]
mod tests;
