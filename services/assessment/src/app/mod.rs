//! assessment's use-cases. A provider's authors write items (the key stays on the
//! server) and quizzes of their courses (pools drawn from, shuffling, a time limit, an
//! attempt limit, a pass mark). An enrolled learner of a licensee starts an attempt: its
//! items are drawn and copied into it (an edit of the bank changes no attempt under way),
//! answers are saved as they come and checked against each item's shape, and the attempt
//! is graded on the server when submitted, or closed by the server with what was
//! answered when its time is up (at the first request after the deadline, or by a job
//! at the deadline). An essay waits for a person of the learner's organization to score
//! it. The verdict goes out through the outbox in the grading transaction: the xAPI
//! statements (each answer as a `cmi.interaction`, then `passed` or `failed`) and
//! `assessment.attempt.graded.v1`.

pub mod kinds;

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use futures::future::BoxFuture;
use mirai_contracts::{
    events::assessment::{AttemptGraded, StatementsRecorded},
    ids::{CourseId, ItemId, QuizAttemptId, QuizId, StatementId, TenantId, UserId},
    xapi as iri,
};
use mirai_events::{
    HandleError, NewEvent,
    jobs::{self, Job, JobHandler},
    outbox,
};
use mirai_kit::{
    AppError, FieldError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sqlx::{PgConnection, types::Json};
use utoipa::ToSchema;

use crate::{
    AppState,
    store::{self, AttemptRow, Drawn, ItemRow, Pool, QuizRow},
};
use kinds::Body;

const EDITORS: &[Role] = &[Role::Author, Role::ProviderAdmin, Role::OrgAdmin];
/// Who scores essays: the learner's organization's admins and managers.
const GRADERS: &[Role] = &[Role::OrgAdmin, Role::OrgManager];
/// The job that closes an attempt at its deadline.
pub const CLOSE_JOB: &str = "assessment.close-attempt";
const MAX_STEM: usize = 10_000;
const MAX_POOLS: usize = 20;
const MAX_ITEMS: usize = 500;
/// Attempts of one quiz a learner may make when the quiz sets no limit.
const MAX_ATTEMPTS: i32 = 100;
/// What the statements of one event weigh at most (the outbox refuses events over 768 KiB).
const STATEMENT_BATCH_BYTES: usize = 256 << 10;

// ---- items ------------------------------------------------------------------------------

/// An item to write.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// The question, as Markdown (1 to 10,000 characters).
    pub stem: String,
    /// What it is worth (default 1).
    #[serde(default = "one")]
    pub points: f64,
    pub body: Body,
}

fn one() -> f64 {
    1.0
}

/// An item as its authors see it: the key included.
#[derive(Debug, Serialize, ToSchema)]
pub struct Item {
    #[schema(value_type = uuid::Uuid)]
    pub id: ItemId,
    pub kind: String,
    pub stem: String,
    pub points: f64,
    pub body: Body,
    pub created_at: DateTime<Utc>,
}

impl From<ItemRow> for Item {
    fn from(r: ItemRow) -> Self {
        Self {
            id: r.id,
            kind: r.body.0.kind().into(),
            stem: r.stem,
            points: r.points,
            body: r.body.0,
            created_at: r.created_at,
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn create_item(state: &AppState, p: &Principal, input: NewItem) -> Result<Item, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut errors = vec![];
    if input.stem.trim().is_empty() || input.stem.chars().count() > MAX_STEM {
        errors.push(FieldError::new("stem", format!("1 to {MAX_STEM} characters")));
    }
    if !input.points.is_finite() || input.points <= 0.0 || input.points > 1000.0 {
        errors.push(FieldError::new("points", "more than 0, at most 1000"));
    }
    input.body.check(&mut errors);
    if !errors.is_empty() {
        return Err(AppError::Invalid { detail: "the item has errors".into(), errors });
    }
    let now = Utc::now();
    let row = ItemRow {
        id: ItemId::new(),
        tenant_id: tenant,
        stem: input.stem,
        body: Json(input.body),
        points: input.points,
        created_by: p.subject.clone(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::item_insert(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn get_item(state: &AppState, p: &Principal, id: ItemId) -> Result<Item, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let found = store::items_own(&mut tx, tenant, &[id]).await?.pop();
    Ok(found.ok_or_else(|| AppError::not_found("item", id))?.into())
}

pub async fn list_items(state: &AppState, p: &Principal, page: &PageParams) -> Result<Page<Item>, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let limit = page.limit()?;
    let after = page.cursor()?.map(|c| (c.created_at, ItemId::from(c.id)));
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::item_list(&mut tx, tenant, after, limit + 1).await?;
    let data = rows.into_iter().map(Item::from).collect();
    Ok(Page::from_rows(data, limit, |i: &Item| Cursor { created_at: i.created_at, id: i.id.into() }))
}

// ---- quizzes ----------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuiz {
    /// The course whose learners take it (one of the tenant's).
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub title: String,
    /// 1 to 20 pools; an attempt draws from each.
    pub pools: Vec<Pool>,
    /// Questions in a random order, and each question's choices.
    #[serde(default)]
    pub shuffle: bool,
    /// Seconds from the start: the server closes the attempt then.
    pub time_limit_seconds: Option<i32>,
    /// Attempts a learner may make (unlimited when absent).
    pub max_attempts: Option<i32>,
    /// The share of the points that passes, from 0 to 1.
    pub pass_mark: f64,
    /// What a graded attempt tells the learner: `score` (the default: the score and
    /// verdict only, so a quiz taken again does not hand over its keys) or
    /// `per_question` (right or wrong, and the points, of each question).
    #[serde(default)]
    pub feedback: Feedback,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Feedback {
    #[default]
    Score,
    PerQuestion,
}

impl Feedback {
    fn as_str(self) -> &'static str {
        match self {
            Self::Score => "score",
            Self::PerQuestion => "per_question",
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Quiz {
    #[schema(value_type = uuid::Uuid)]
    pub id: QuizId,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub title: String,
    pub pools: Vec<Pool>,
    pub shuffle: bool,
    pub time_limit_seconds: Option<i32>,
    pub max_attempts: Option<i32>,
    pub pass_mark: f64,
    /// `score` or `per_question`.
    pub feedback: String,
    /// Whether the course is known to be the quiz's tenant's (a course it published):
    /// until then its learners do not see the quiz.
    pub course_verified: bool,
    /// Questions an attempt holds.
    pub questions: i32,
    pub created_at: DateTime<Utc>,
}

fn drawn_count(pools: &[Pool]) -> i32 {
    pools.iter().map(|p| p.draw.unwrap_or(p.items.len() as i32)).sum()
}

impl From<QuizRow> for Quiz {
    fn from(q: QuizRow) -> Self {
        Self {
            id: q.id,
            course_id: q.course_id,
            title: q.title,
            questions: drawn_count(&q.pools.0),
            pools: q.pools.0,
            shuffle: q.shuffle,
            time_limit_seconds: q.time_limit_seconds,
            max_attempts: q.max_attempts,
            pass_mark: q.pass_mark,
            feedback: q.feedback,
            course_verified: q.course_verified,
            created_at: q.created_at,
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn create_quiz(state: &AppState, p: &Principal, input: NewQuiz) -> Result<Quiz, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut errors = vec![];
    let title = input.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        errors.push(FieldError::new("title", "1 to 200 characters"));
    }
    if input.pools.is_empty() || input.pools.len() > MAX_POOLS {
        errors.push(FieldError::new("pools", format!("1 to {MAX_POOLS} pools")));
    }
    let mut ids = vec![];
    for (i, pool) in input.pools.iter().enumerate() {
        let n = pool.items.len() as i32;
        if n == 0 || pool.draw.is_some_and(|d| d < 1 || d > n) {
            errors.push(FieldError::new(format!("pools.{i}"), "at least one item, and draw from 1 to their number"));
        }
        ids.extend(pool.items.iter().copied());
    }
    let unique: HashSet<ItemId> = ids.iter().copied().collect();
    if unique.len() != ids.len() || ids.len() > MAX_ITEMS {
        errors.push(FieldError::new("pools", format!("each item in one pool, once; at most {MAX_ITEMS} items")));
    }
    if !(0.0..=1.0).contains(&input.pass_mark) {
        errors.push(FieldError::new("pass_mark", "from 0 to 1"));
    }
    if input.time_limit_seconds.is_some_and(|t| !(5..=86_400).contains(&t)) {
        errors.push(FieldError::new("time_limit_seconds", "from 5 to 86400"));
    }
    if input.max_attempts.is_some_and(|m| !(1..=100).contains(&m)) {
        errors.push(FieldError::new("max_attempts", "from 1 to 100"));
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid { detail: "the quiz has errors".into(), errors });
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let own: HashSet<ItemId> = store::items_own(&mut tx, tenant, &ids).await?.into_iter().map(|i| i.id).collect();
    let course_verified = store::course_owned(&mut tx, input.course_id).await?;
    if let Some(missing) = ids.iter().find(|i| !own.contains(i)) {
        return Err(AppError::invalid("pools", format!("{missing} is not an item of the tenant")));
    }
    let row = QuizRow {
        id: QuizId::new(),
        tenant_id: tenant,
        course_id: input.course_id,
        title,
        pools: Json(input.pools),
        shuffle: input.shuffle,
        time_limit_seconds: input.time_limit_seconds,
        max_attempts: input.max_attempts,
        pass_mark: input.pass_mark,
        feedback: input.feedback.as_str().into(),
        course_verified,
        created_by: p.subject.clone(),
        created_at: Utc::now(),
    };
    store::quiz_insert(&mut tx, &row, &ids).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// A quiz: to its authors, and to learners enrolled in its course.
pub async fn get_quiz(state: &AppState, p: &Principal, id: QuizId) -> Result<Quiz, AppError> {
    let tenant = p.tenant()?;
    p.require_in_tenant(tenant, &Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    Ok(store::quiz_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("quiz", id))?.into())
}

// ---- attempts ---------------------------------------------------------------------------

/// A question as the learner sees it: never its key; after grading, what it earned.
#[derive(Debug, Serialize, ToSchema)]
pub struct Question {
    #[schema(value_type = uuid::Uuid)]
    pub item_id: ItemId,
    pub kind: String,
    pub stem: String,
    pub points: f64,
    /// The choices (in the order drawn), or a matching's `sources` and `targets`.
    #[schema(value_type = Object)]
    pub shown: Value,
    /// The learner's saved response.
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
    /// Once graded: right or not (absent before, and for an essay not scored yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correct: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earned: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    #[schema(value_type = uuid::Uuid)]
    pub id: QuizAttemptId,
    #[schema(value_type = uuid::Uuid)]
    pub quiz_id: QuizId,
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    pub number: i32,
    /// `open`, `pending_review` (an essay waits for a person) or `graded`.
    pub state: String,
    pub started_at: DateTime<Utc>,
    /// When the server closes it (its time limit).
    pub deadline: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// `submitted` or `time_limit`.
    pub closed_by: Option<String>,
    pub questions: Vec<Question>,
    pub score: Option<f64>,
    pub max_score: f64,
    pub scaled: Option<f64>,
    pub passed: Option<bool>,
    /// Send as `If-Match` with answers, so two tabs do not overwrite each other.
    pub revision: i64,
}

fn view(a: &AttemptRow) -> Attempt {
    let graded = a.state != "open";
    let per_question = graded && a.feedback == "per_question";
    let questions = a
        .items
        .0
        .iter()
        .map(|d| Question {
            item_id: d.item_id,
            kind: d.body.kind().into(),
            stem: d.stem.clone(),
            points: d.points,
            shown: d.body.shown(&d.order),
            response: a.answers.0.get(&d.item_id.to_string()).cloned(),
            correct: if per_question { d.correct } else { None },
            earned: if per_question { d.earned } else { None },
            // A grader's words on an essay are for the learner.
            feedback: if graded { d.feedback.clone() } else { None },
        })
        .collect();
    Attempt {
        id: a.id,
        quiz_id: a.quiz_id,
        user_id: a.user_id,
        number: a.number,
        state: a.state.clone(),
        started_at: a.started_at,
        deadline: a.deadline,
        closed_at: a.closed_at,
        closed_by: a.closed_by.clone(),
        questions,
        score: a.score,
        max_score: a.max_score,
        scaled: a.scaled,
        passed: a.passed,
        revision: a.revision,
    }
}

fn learner(p: &Principal) -> Result<(TenantId, UserId), AppError> {
    let tenant = p.tenant()?;
    p.require_in_tenant(tenant, &Role::ALL)?;
    let user = p.user_id.ok_or_else(|| AppError::Forbidden("only a person takes a quiz".into()))?;
    Ok((tenant.into(), user.into()))
}

fn not_enrolled(course: CourseId) -> AppError {
    AppError::client(
        StatusCode::FORBIDDEN,
        "not-enrolled",
        "Not enrolled",
        format!("you hold no active enrollment in course {course}: ask your organization for one"),
    )
}

async fn now(tx: &mut PgConnection) -> Result<DateTime<Utc>, AppError> {
    Ok(sqlx::query_scalar("SELECT date_trunc('milliseconds', now())").fetch_one(tx).await?)
}

/// Draws an attempt's items: from each pool its number, at random; in a random order,
/// choices too, when the quiz shuffles.
fn draw(quiz: &QuizRow, items: &[ItemRow]) -> Vec<Drawn> {
    let mut rng = rand::rng();
    let mut out = vec![];
    for pool in &quiz.pools.0 {
        let mut ids = pool.items.clone();
        ids.shuffle(&mut rng);
        let n = pool.draw.map_or(ids.len(), |d| d as usize).min(ids.len());
        let mut chosen: Vec<ItemId> = ids.into_iter().take(n).collect();
        if !quiz.shuffle {
            chosen.sort_by_key(|id| pool.items.iter().position(|x| x == id));
        }
        for id in chosen {
            let Some(i) = items.iter().find(|i| i.id == id) else { continue };
            let mut order = i.body.0.shuffled_ids();
            if let Some(key) = i.body.0.order_key() {
                // An ordering's choices, a matching's targets: never shown as the author
                // wrote them (usually the answer), whatever the quiz says of shuffling.
                for _ in 0..8 {
                    order.shuffle(&mut rng);
                    if order != key {
                        break;
                    }
                }
            } else if quiz.shuffle {
                order.shuffle(&mut rng);
            } else {
                order.clear();
            }
            out.push(Drawn {
                item_id: i.id,
                stem: i.stem.clone(),
                points: i.points,
                body: i.body.0.clone(),
                order,
                correct: None,
                earned: None,
                feedback: None,
            });
        }
    }
    if quiz.shuffle {
        out.shuffle(&mut rng);
    }
    out
}

/// Starts an attempt of a quiz (201), or answers the one open (200).
#[tracing::instrument(skip_all, fields(quiz = %id))]
pub async fn start(state: &AppState, p: &Principal, id: QuizId) -> Result<(Attempt, bool), AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let quiz = store::quiz_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("quiz", id))?;
    if !store::enrolled(&mut tx, user, quiz.course_id).await? {
        return Err(not_enrolled(quiz.course_id));
    }
    // One learner's starts of one quiz take turns: two clicks make one attempt.
    mirai_kit::db::xact_lock(&mut tx, &format!("assessment.attempt:{user}:{id}")).await?;
    let at = now(&mut tx).await?;
    let (mut latest, made) = store::attempt_latest(&mut tx, id, user).await?;
    if let Some(open) = latest.as_mut().filter(|a| a.state == "open") {
        if open.deadline.is_none_or(|d| at < d) {
            let a = view(open);
            tx.commit().await?;
            return Ok((a, false));
        }
        let events = close(&state.ctx.public_url, open, "time_limit", at);
        store::attempt_save(&mut tx, open).await?;
        state.ctx.emit(&mut tx, &p.event_meta(), events).await?;
    }
    let max = quiz.max_attempts.unwrap_or(MAX_ATTEMPTS);
    if made >= i64::from(max) {
        tx.commit().await?;
        return Err(AppError::client(
            StatusCode::CONFLICT,
            "attempts-exhausted",
            "No attempts left",
            format!("this quiz allows {max} attempts, and all were made"),
        ));
    }
    let ids: Vec<ItemId> = quiz.pools.0.iter().flat_map(|p| p.items.iter().copied()).collect();
    let items = store::items_of(&mut tx, quiz.tenant_id, &ids).await?;
    let drawn = draw(&quiz, &items);
    if drawn.is_empty() {
        return Err(AppError::Conflict(format!("quiz {id} has no items to draw")));
    }
    let a = AttemptRow {
        id: QuizAttemptId::new(),
        tenant_id: tenant,
        quiz_id: id,
        course_id: quiz.course_id,
        user_id: user,
        number: latest.as_ref().map_or(1, |a| a.number + 1),
        state: "open".into(),
        title: quiz.title.clone(),
        pass_mark: quiz.pass_mark,
        feedback: quiz.feedback.clone(),
        max_score: drawn.iter().map(|d| d.points).sum(),
        items: Json(drawn),
        answers: Json(Map::new()),
        started_at: at,
        deadline: quiz.time_limit_seconds.map(|s| at + Duration::seconds(i64::from(s))),
        closed_at: None,
        closed_by: None,
        score: None,
        scaled: None,
        passed: None,
        revision: 1,
    };
    store::attempt_insert(&mut tx, &a).await?;
    if let Some(deadline) = a.deadline {
        let job = jobs::NewJob {
            tenant_id: Some(tenant.into()),
            run_at: deadline,
            dedupe_key: Some(format!("{CLOSE_JOB}:{}", a.id)),
            ..jobs::NewJob::new(CLOSE_JOB, json!({ "attempt_id": a.id }))
        };
        jobs::enqueue(&mut tx, job).await?;
    }
    tx.commit().await?;
    Ok((view(&a), true))
}

/// The caller's own attempt, locked; one whose time is up is closed first.
async fn own_attempt(
    state: &AppState,
    tx: &mut PgConnection,
    p: &Principal,
    user: UserId,
    id: QuizAttemptId,
) -> Result<(AttemptRow, DateTime<Utc>, bool), AppError> {
    let mut a = store::attempt_get(tx, id)
        .await?
        .filter(|a| a.user_id == user)
        .ok_or_else(|| AppError::not_found("attempt", id))?;
    let at = now(tx).await?;
    let expired = a.state == "open" && a.deadline.is_some_and(|d| at >= d);
    if expired {
        let events = close(&state.ctx.public_url, &mut a, "time_limit", at);
        store::attempt_save(tx, &a).await?;
        a.revision += 1;
        state.ctx.emit(tx, &p.event_meta(), events).await?;
    }
    Ok((a, at, expired))
}

pub async fn get_attempt(state: &AppState, p: &Principal, id: QuizAttemptId) -> Result<Attempt, AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let (a, _, _) = own_attempt(state, &mut tx, p, user, id).await?;
    tx.commit().await?;
    Ok(view(&a))
}

fn time_up(a: &AttemptRow) -> AppError {
    AppError::client(
        StatusCode::CONFLICT,
        "time-up",
        "Time is up",
        format!(
            "the attempt's time limit passed at {}: it was closed with the answers saved before then",
            a.deadline.map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
        ),
    )
}

fn closed(a: &AttemptRow) -> AppError {
    AppError::client(
        StatusCode::CONFLICT,
        "attempt-closed",
        "Attempt closed",
        format!("attempt {} is {}", a.id, a.state),
    )
}

/// Saves responses (item id → response); each is checked against its item's shape.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
}

pub async fn answer(
    state: &AppState,
    p: &Principal,
    id: QuizAttemptId,
    input: Answers,
    if_match: Option<i64>,
) -> Result<Attempt, AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let (mut a, _, expired) = own_attempt(state, &mut tx, p, user, id).await?;
    if expired {
        // Closed with what was saved in time; this late answer is not kept.
        tx.commit().await?;
        return Err(time_up(&a));
    }
    if a.state != "open" {
        return Err(closed(&a));
    }
    if let Some(rev) = if_match
        && rev != a.revision
    {
        return Err(AppError::PreconditionFailed {
            detail: format!("the attempt is at revision {}, not {rev}", a.revision),
            current_version: a.revision,
        });
    }
    let mut errors = vec![];
    for (k, v) in &input.answers {
        match a.items.0.iter().find(|d| d.item_id.to_string() == *k) {
            None => errors.push(FieldError::new(format!("answers.{k}"), "not a question of this attempt")),
            Some(_) if v.is_null() => {}
            Some(d) => {
                if let Err(e) = d.body.check_response(v) {
                    errors.push(FieldError::new(format!("answers.{k}"), e));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid { detail: "some answers do not fit their questions".into(), errors });
    }
    for (k, v) in input.answers {
        if v.is_null() {
            a.answers.0.remove(&k);
        } else {
            a.answers.0.insert(k, v);
        }
    }
    store::attempt_save_answers(&mut tx, &a).await?;
    a.revision += 1;
    tx.commit().await?;
    Ok(view(&a))
}

/// Submits the attempt: graded now (or, with an essay, once a person scores it).
pub async fn submit(state: &AppState, p: &Principal, id: QuizAttemptId) -> Result<Attempt, AppError> {
    let (tenant, user) = learner(p)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let (mut a, at, expired) = own_attempt(state, &mut tx, p, user, id).await?;
    if expired {
        tx.commit().await?;
        return Err(time_up(&a));
    }
    if a.state != "open" {
        return Err(closed(&a));
    }
    let events = close(&state.ctx.public_url, &mut a, "submitted", at);
    store::attempt_save(&mut tx, &a).await?;
    a.revision += 1;
    state.ctx.emit(&mut tx, &p.event_meta(), events).await?;
    tx.commit().await?;
    Ok(view(&a))
}

/// A person's scores of an attempt's essays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Item id → points (0 to the item's) and optional feedback.
    pub scores: std::collections::BTreeMap<String, Scored>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scored {
    pub points: f64,
    pub feedback: Option<String>,
}

/// Scores the essays of an attempt waiting for review; the attempt is then graded.
pub async fn review(state: &AppState, p: &Principal, id: QuizAttemptId, input: Review) -> Result<Attempt, AppError> {
    let tenant = p.own_tenant(GRADERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let mut a = store::attempt_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("attempt", id))?;
    if p.user_id == Some(a.user_id.into_uuid()) {
        return Err(AppError::Forbidden("nobody scores their own attempt".into()));
    }
    if a.state != "pending_review" {
        return Err(closed(&a));
    }
    let mut errors = vec![];
    for d in a.items.0.iter_mut().filter(|d| d.body.manual()) {
        match input.scores.get(&d.item_id.to_string()) {
            Some(s) if s.points.is_finite() && (0.0..=d.points).contains(&s.points) => {
                d.earned = Some(s.points);
                d.correct = Some(s.points >= d.points);
                d.feedback =
                    s.feedback.clone().filter(|f| !f.trim().is_empty()).map(|f| f.chars().take(MAX_STEM).collect());
            }
            _ => errors.push(FieldError::new(
                format!("scores.{}", d.item_id),
                format!("points from 0 to {} for this essay", d.points),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Invalid { detail: "every essay needs its score".into(), errors });
    }
    let at = now(&mut tx).await?;
    let events = verdict(&state.ctx.public_url, &mut a, at);
    store::attempt_save(&mut tx, &a).await?;
    a.revision += 1;
    state.ctx.emit(&mut tx, &p.event_meta(), events).await?;
    tx.commit().await?;
    Ok(view(&a))
}

/// Closes an open attempt with what it holds: each item graded (essays wait for a
/// person), and the verdict when nothing waits. Returns what to publish; the caller saves
/// the attempt.
fn close(public_url: &str, a: &mut AttemptRow, by: &str, at: DateTime<Utc>) -> Vec<NewEvent> {
    a.closed_at = Some(at);
    a.closed_by = Some(by.into());
    let answers = a.answers.0.clone();
    for d in a.items.0.iter_mut() {
        let r = answers.get(&d.item_id.to_string());
        d.correct = d.body.grade(r);
        d.earned = d.correct.map(|c| if c { d.points } else { 0.0 });
    }
    if a.items.0.iter().any(|d| d.correct.is_none()) {
        a.state = "pending_review".into();
        return vec![];
    }
    verdict(public_url, a, at)
}

/// The verdict of an attempt whose every item is scored: its score, pass or fail, and
/// the events (statements, graded).
fn verdict(public_url: &str, a: &mut AttemptRow, at: DateTime<Utc>) -> Vec<NewEvent> {
    let score: f64 = a.items.0.iter().filter_map(|d| d.earned).sum();
    let scaled = if a.max_score > 0.0 { (score / a.max_score).clamp(0.0, 1.0) } else { 0.0 };
    let scaled = (scaled * 10_000.0).round() / 10_000.0;
    let passed = scaled + 1e-9 >= a.pass_mark;
    a.state = "graded".into();
    a.score = Some(score);
    a.scaled = Some(scaled);
    a.passed = Some(passed);
    let mut events: Vec<NewEvent> = vec![];
    let mut batch: Vec<Value> = vec![];
    let mut size = 0;
    for st in statements(public_url, a, at) {
        let len = st.to_string().len();
        if !batch.is_empty() && size + len > STATEMENT_BATCH_BYTES {
            let statements = std::mem::take(&mut batch);
            events.push(
                StatementsRecorded { tenant_id: a.tenant_id, user_id: a.user_id, attempt_id: a.id, statements }.into(),
            );
            size = 0;
        }
        size += len;
        batch.push(st);
    }
    events.push(
        StatementsRecorded { tenant_id: a.tenant_id, user_id: a.user_id, attempt_id: a.id, statements: batch }.into(),
    );
    events.push(
        AttemptGraded {
            tenant_id: a.tenant_id,
            attempt_id: a.id,
            quiz_id: a.quiz_id,
            course_id: a.course_id,
            user_id: a.user_id,
            scaled,
            score,
            max_score: a.max_score,
            passed,
            closed_by: a.closed_by.clone().unwrap_or_else(|| "submitted".into()),
            at,
        }
        .into(),
    );
    events
}

/// The attempt in xAPI 1.0.3: each question answered (a `cmi.interaction`, the response
/// in its syntax), then the quiz passed or failed with the score and the time taken; the
/// attempt is the registration, the course the grouping.
fn statements(public_url: &str, a: &AttemptRow, at: DateTime<Utc>) -> Vec<Value> {
    let base = public_url.trim_end_matches('/');
    let quiz = format!("{base}/quizzes/{}", a.quiz_id);
    let course = iri::course_activity(base, a.course_id);
    let actor = json!({ "objectType": "Agent", "account": { "homePage": base, "name": a.user_id.to_string() } });
    let ts = at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let context = |parent: bool| {
        let mut c = json!({ "registration": a.id.to_string(), "platform": "Mirai",
            "contextActivities": { "grouping": [{ "objectType": "Activity", "id": course }] } });
        if parent {
            c["contextActivities"]["parent"] = json!([{ "objectType": "Activity", "id": quiz }]);
        }
        c
    };
    let mut out = vec![];
    for d in &a.items.0 {
        let Some(r) = a.answers.0.get(&d.item_id.to_string()) else { continue };
        let mut result = json!({ "response": d.body.response_text(r) });
        if let Some(c) = d.correct {
            result["success"] = json!(c);
        }
        if let Some(e) = d.earned {
            result["score"] = json!({ "raw": e, "min": 0, "max": d.points });
        }
        out.push(json!({
            "id": StatementId::new().to_string(),
            "actor": actor,
            "verb": { "id": "http://adlnet.gov/expapi/verbs/answered", "display": { "en-US": "answered" } },
            "object": { "objectType": "Activity", "id": format!("{quiz}/items/{}", d.item_id),
                "definition": d.body.interaction("en", &d.stem) },
            "result": result,
            "context": context(true),
            "timestamp": ts,
        }));
    }
    let passed = a.passed == Some(true);
    let verb = if passed { "passed" } else { "failed" };
    let ms = (a.closed_at.unwrap_or(at) - a.started_at).num_milliseconds().max(0);
    out.push(json!({
        "id": StatementId::new().to_string(),
        "actor": actor,
        "verb": { "id": format!("http://adlnet.gov/expapi/verbs/{verb}"), "display": { "en-US": verb } },
        "object": { "objectType": "Activity", "id": quiz,
            "definition": { "type": "http://adlnet.gov/expapi/activities/assessment", "name": { "en": a.title } } },
        "result": { "success": passed, "completion": true,
            "score": { "raw": a.score.unwrap_or(0.0), "min": 0, "max": a.max_score, "scaled": a.scaled.unwrap_or(0.0) },
            "duration": format!("PT{}.{:02}S", ms / 1000, (ms % 1000) / 10) },
        "context": context(false),
        "timestamp": ts,
    }));
    out
}

/// Closes an attempt at its deadline, with what was answered.
pub struct CloseAtDeadline {
    pub public_url: String,
}

impl CloseAtDeadline {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let id: QuizAttemptId = serde_json::from_value(job.payload["attempt_id"].clone())
            .map_err(|e| HandleError::Permanent(format!("a close job without its attempt: {e}")))?;
        let Some(mut a) = store::attempt_get(tx, id).await? else { return Ok(()) };
        // The database's clock, which set the deadline and runs the job queue.
        let at = now(tx).await.map_err(|e| HandleError::Transient(anyhow::anyhow!("{e}")))?;
        if a.state != "open" {
            return Ok(());
        }
        if a.deadline.is_some_and(|d| at < d) {
            return Err(HandleError::Transient(anyhow::anyhow!("attempt {id} closes at its deadline, not before")));
        }
        let events = close(&self.public_url, &mut a, "time_limit", at);
        store::attempt_save(tx, &a).await?;
        let meta = mirai_events::EventMeta { actor: Some("system:assessment".into()), ..Default::default() };
        outbox::enqueue_all(tx, crate::NAME, &meta, events)
            .await
            .map_err(|e| HandleError::Transient(anyhow::anyhow!("{e}")))?;
        Ok(())
    }
}

impl JobHandler for CloseAtDeadline {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(CloseAtDeadline::run(self, tx, job))
    }
}
