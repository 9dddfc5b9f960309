//! AI-assisted authoring. An author asks for a generation on a course: an outline from a
//! brief (and optional source excerpts it must cite), a lesson's blocks, quiz questions
//! from a lesson, or a rewrite of a block. Authoring records it and sends the ai-gateway
//! `cmd.ai-gateway.generate.v1` in the same transaction (its outbox); the gateway answers
//! with events (`ai-gateway.generation.progressed.v1`, `…completed.v1`) that move the
//! generation on and, on success, add the result to the draft as `draft_ai` blocks with
//! full `ai_provenance` (a new revision, in the course's history). Nothing generated is
//! published before an author reviews it (publishing refuses unreviewed AI blocks). The
//! browser follows a generation over SSE (`…/events`); an author can cancel it.

use std::{convert::Infallible, time::Duration};

use axum::{http::StatusCode, response::sse::Event as SseEvent};
use chrono::{DateTime, Utc};
use futures::Stream;
use mirai_contracts::{
    events::ai_gateway::{CancelGeneration, Generate, GenerationCompleted, GenerationProgressed},
    ids::{AssetId, BlockId, CourseId, GenerationId, LessonId, ModuleId, TenantId},
};
use mirai_kit::{AppError, Principal};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{
    EDITORS,
    content::{Content, MAX_TEXT},
    outline::{AiProvenance, Block, Lesson, MAX_BLOCKS, MAX_LESSONS, MAX_MODULES, Module, Origin, Outline, Review},
};
use crate::{
    AppState,
    store::{self, GenerationRow, Meta},
};

/// How long one `…/events` stream follows a generation before asking the client to
/// reconnect.
const FOLLOW_FOR: Duration = Duration::from_secs(600);

/// The flag a tenant turns on for AI drafting.
pub const FLAG: &str = "ai.authoring";

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Modules and lessons (each with its objectives as a block) from a brief.
    Outline,
    /// The blocks of one lesson.
    Lesson,
    /// Multiple-choice questions on one lesson, as a block.
    Quiz,
    /// A rewrite of one text block, added after it.
    Rewrite,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Outline => "outline",
            Kind::Lesson => "lesson",
            Kind::Quiz => "quiz",
            Kind::Rewrite => "rewrite",
        }
    }

    /// The gateway feature (its route) and the registered prompt.
    fn feature_and_prompt(self) -> (&'static str, &'static str) {
        match self {
            Kind::Outline => ("authoring.outline", "course-outline"),
            Kind::Lesson => ("authoring.lesson", "lesson-blocks"),
            Kind::Quiz => ("authoring.quiz", "quiz-questions"),
            Kind::Rewrite => ("authoring.rewrite", "rewrite-block"),
        }
    }
}

/// An excerpt the generation is grounded in and must cite by its id.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    /// 1 to 100 characters, e.g. `policy-3`.
    pub id: String,
    /// 1 to 4000 characters.
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerationInput {
    pub kind: Kind,
    /// Outline: the topic (default: the course's title).
    #[serde(default)]
    pub topic: Option<String>,
    /// Outline: who the course is for.
    #[serde(default)]
    pub audience: Option<String>,
    /// Outline: what learners should be able to do (1 to 12); lesson: its objectives
    /// (default: the lesson's title).
    #[serde(default)]
    pub goals: Option<Vec<String>>,
    /// Outline: about how long the course is, in minutes (default 30).
    #[serde(default)]
    pub minutes: Option<i64>,
    /// Lesson, quiz: which lesson.
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub lesson_id: Option<LessonId>,
    /// Rewrite: which text block.
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub block_id: Option<BlockId>,
    /// Rewrite: how (e.g. "simpler, for new starters").
    #[serde(default)]
    pub instruction: Option<String>,
    /// Quiz: how many questions (1 to 20, default 3).
    #[serde(default)]
    pub count: Option<i64>,
    /// Outline, lesson: excerpts to ground the text in (cited in the provenance).
    #[serde(default)]
    pub sources: Vec<SourceInput>,
    /// Outline, lesson: up to 10 of the tenant's ready media assets (PDF, plain text,
    /// Markdown) to ground the text in. The gateway reads them, adds the excerpts nearest
    /// the request to the sources (after the ones given in `sources`, 40 in all), and the
    /// provenance cites those used as `media:<asset_id>#<chunk>`. A document that cannot
    /// be used fails the generation with a `document-unreadable` (not text, encrypted, a
    /// scan with no text layer), `document-too-large` or `document-not-found` problem.
    #[serde(default)]
    #[schema(value_type = Vec<uuid::Uuid>, max_items = 10)]
    pub documents: Vec<AssetId>,
}

/// A generation as its author follows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Generation {
    #[schema(value_type = uuid::Uuid)]
    pub id: GenerationId,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub kind: String,
    pub lesson_id: Option<uuid::Uuid>,
    pub block_id: Option<uuid::Uuid>,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Where it is: `requested`, `queued`, `calling`, `applied`, …
    pub stage: String,
    /// The `draft_ai` blocks it added to the draft.
    pub blocks_added: i32,
    /// Why it failed: the gateway's problem (`ai-disabled`, `rate-limited`, …).
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<GenerationRow> for Generation {
    fn from(r: GenerationRow) -> Self {
        Self {
            id: r.id.into(),
            course_id: r.course_id,
            kind: r.kind,
            lesson_id: r.lesson_id,
            block_id: r.block_id,
            status: r.status,
            stage: r.stage,
            blocks_added: r.blocks_added,
            error: r.error.map(|e| e.0),
            requested_by: r.requested_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>, AppError> {
    match v.map(str::trim) {
        None => Ok(None),
        Some(t) if t.is_empty() || t.chars().count() > max => {
            Err(AppError::invalid(field, format!("1 to {max} characters")))
        }
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// The two-letter language of a locale (`en-US` → `en`), as the prompts take it.
fn language(locale: &str) -> String {
    let lang: String = locale.split(['-', '_']).next().unwrap_or("en").to_ascii_lowercase();
    if lang.len() == 2 && lang.bytes().all(|b| b.is_ascii_lowercase()) { lang } else { "en".into() }
}

fn lesson_of(draft: &Outline, id: LessonId) -> Option<&Lesson> {
    draft.modules.iter().flat_map(|m| &m.lessons).find(|l| l.id == id)
}

fn lesson_text(l: &Lesson) -> String {
    l.blocks.iter().map(|b| b.content.text()).filter(|t| !t.trim().is_empty()).collect::<Vec<_>>().join("\n\n")
}

/// The prompt's input for `req` on `course`.
fn prompt_input(course: &store::CourseRow, req: &GenerationInput) -> Result<Value, AppError> {
    if req.sources.len() > 40 {
        return Err(AppError::invalid("sources", "at most 40"));
    }
    for (i, s) in req.sources.iter().enumerate() {
        text(&format!("sources/{i}/id"), Some(&s.id), 100)?;
        text(&format!("sources/{i}/text"), Some(&s.text), 4000)?;
    }
    let sources: Vec<Value> = req.sources.iter().map(|s| json!({ "id": s.id.trim(), "text": s.text.trim() })).collect();
    let goals = match &req.goals {
        None => None,
        Some(g) if g.is_empty() || g.len() > 12 => return Err(AppError::invalid("goals", "1 to 12 goals")),
        Some(g) => Some(
            g.iter()
                .enumerate()
                .map(|(i, t)| text(&format!("goals/{i}"), Some(t), 300).map(Option::unwrap_or_default))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let locale = language(&course.locale);
    let draft = &course.draft.0;
    let mut input = match req.kind {
        Kind::Outline => {
            let minutes = req.minutes.unwrap_or(30);
            if !(5..=2400).contains(&minutes) {
                return Err(AppError::invalid("minutes", "5 to 2400"));
            }
            json!({
                "topic": text("topic", req.topic.as_deref(), 300)?.unwrap_or_else(|| course.title.clone()),
                "audience": text("audience", req.audience.as_deref(), 300)?.ok_or_else(|| AppError::invalid("audience", "required for an outline"))?,
                "goals": goals.ok_or_else(|| AppError::invalid("goals", "required for an outline"))?,
                "minutes": minutes,
                "locale": locale,
            })
        }
        Kind::Lesson => {
            let id = req.lesson_id.ok_or_else(|| AppError::invalid("lesson_id", "required"))?;
            let l = lesson_of(draft, id).ok_or_else(|| AppError::not_found("lesson", id))?;
            json!({
                "course_title": course.title,
                "lesson_title": l.title,
                "objectives": goals.unwrap_or_else(|| vec![l.title.clone()]),
                "locale": locale,
            })
        }
        Kind::Quiz => {
            let id = req.lesson_id.ok_or_else(|| AppError::invalid("lesson_id", "required"))?;
            let l = lesson_of(draft, id).ok_or_else(|| AppError::not_found("lesson", id))?;
            let body = lesson_text(l);
            if body.trim().is_empty() {
                return Err(AppError::invalid("lesson_id", "the lesson has no text to ask about yet"));
            }
            let count = req.count.unwrap_or(3);
            if !(1..=20).contains(&count) {
                return Err(AppError::invalid("count", "1 to 20"));
            }
            json!({
                "lesson_title": l.title,
                "objectives": goals.unwrap_or_else(|| vec![l.title.clone()]),
                "lesson_text": body.chars().take(20_000).collect::<String>(),
                "locale": locale,
                "count": count,
            })
        }
        Kind::Rewrite => {
            let id = req.block_id.ok_or_else(|| AppError::invalid("block_id", "required"))?;
            let block = draft
                .modules
                .iter()
                .flat_map(|m| &m.lessons)
                .flat_map(|l| &l.blocks)
                .find(|b| b.id == id)
                .ok_or_else(|| AppError::not_found("block", id))?;
            let Content::Text { markdown } = &block.content else {
                return Err(AppError::invalid("block_id", "only text blocks are rewritten"));
            };
            json!({
                "instruction": text("instruction", req.instruction.as_deref(), 500)?.ok_or_else(|| AppError::invalid("instruction", "required"))?,
                "markdown": markdown.chars().take(20_000).collect::<String>(),
            })
        }
    };
    if matches!(req.kind, Kind::Outline | Kind::Lesson) && !sources.is_empty() {
        input["sources"] = Value::Array(sources);
    }
    Ok(input)
}

/// The documents a generation names: at most 10, each once, each a ready asset of the
/// tenant (media's events), for the kinds that take sources.
async fn check_documents(tx: &mut sqlx::PgConnection, req: &GenerationInput) -> Result<(), AppError> {
    if req.documents.is_empty() {
        return Ok(());
    }
    if !matches!(req.kind, Kind::Outline | Kind::Lesson) {
        return Err(AppError::invalid("documents", "only an outline or a lesson is grounded in documents"));
    }
    let ids: Vec<uuid::Uuid> = req.documents.iter().map(|d| (*d).into()).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    if ids.len() > 10 || unique.len() != ids.len() {
        return Err(AppError::invalid("documents", "at most 10, each once"));
    }
    let known = store::refs_known(tx, "asset", &ids).await?;
    if let Some((i, id)) = ids.iter().enumerate().find(|(_, id)| !known.contains(id)) {
        return Err(AppError::invalid(
            &format!("documents/{i}"),
            format!("{id} is not a ready media asset of this tenant"),
        ));
    }
    Ok(())
}

/// Asks for a generation (editors; the tenant must have `ai.authoring` on): 202 with the
/// generation to follow.
#[tracing::instrument(skip_all, fields(course = %course_id))]
pub async fn request(
    state: &AppState,
    p: &Principal,
    course_id: CourseId,
    req: GenerationInput,
) -> Result<Generation, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    if !mirai_kit::features::enabled(&mut tx, FLAG).await? {
        return Err(mirai_kit::features::off(FLAG));
    }
    let course =
        store::course_get(&mut tx, course_id, false).await?.ok_or_else(|| AppError::not_found("course", course_id))?;
    if course.status == "retired" {
        return Err(AppError::Conflict("the course is retired; duplicate it to work on it again".into()));
    }
    let input = prompt_input(&course, &req)?;
    check_documents(&mut tx, &req).await?;
    let (feature, prompt) = req.kind.feature_and_prompt();
    let id = GenerationId::new();
    let sources: Vec<String> = req
        .sources
        .iter()
        .map(|s| s.id.trim().to_owned())
        .chain(req.documents.iter().map(|d| format!("media:{d}")))
        .collect();
    let row = store::generation_insert(
        &mut tx,
        id.into(),
        tenant,
        course_id,
        req.kind.as_str(),
        req.lesson_id.map(Into::into),
        req.block_id.map(Into::into),
        &sources,
        &p.subject,
    )
    .await?;
    let command = Generate {
        tenant_id: tenant,
        request_id: id,
        feature: feature.to_owned(),
        prompt: Some(prompt.to_owned()),
        input,
        actor: p.subject.clone(),
        documents: req.documents.clone(),
        requested_at: Utc::now(),
    };
    state.ctx.publish(&mut tx, p, command.into()).await?;
    tx.commit().await?;
    Ok(row.into())
}

async fn row_of(
    state: &AppState,
    tenant: TenantId,
    course: CourseId,
    id: GenerationId,
) -> Result<GenerationRow, AppError> {
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::generation_get(&mut tx, id.into(), false)
        .await?
        .filter(|g| g.course_id == course)
        .ok_or_else(|| AppError::not_found("generation", id))
}

pub async fn get(state: &AppState, p: &Principal, course: CourseId, id: GenerationId) -> Result<Generation, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    Ok(row_of(state, tenant, course, id).await?.into())
}

/// Cancels a generation that has not ended (its result, if it still comes, is dropped).
pub async fn cancel(
    state: &AppState,
    p: &Principal,
    course: CourseId,
    id: GenerationId,
) -> Result<Generation, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let g = store::generation_get(&mut tx, id.into(), true)
        .await?
        .filter(|g| g.course_id == course)
        .ok_or_else(|| AppError::not_found("generation", id))?;
    if store::generation_update(&mut tx, id.into(), "cancelled", "cancelled", g.blocks_added, None).await? {
        let command =
            CancelGeneration { tenant_id: tenant, request_id: id, actor: p.subject.clone(), cancelled_at: Utc::now() };
        state.ctx.publish(&mut tx, p, command.into()).await?;
    }
    let g =
        store::generation_get(&mut tx, id.into(), false).await?.ok_or_else(|| AppError::not_found("generation", id))?;
    tx.commit().await?;
    Ok(g.into())
}

fn terminal(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "cancelled")
}

/// The generation's progress as server-sent events: `generation` (the whole generation)
/// whenever it changes, until it ends. Read from the database, so any replica serves it.
pub async fn follow(
    state: &AppState,
    p: &Principal,
    course: CourseId,
    id: GenerationId,
) -> Result<impl Stream<Item = Result<SseEvent, Infallible>> + use<>, AppError> {
    let tenant = p.own_tenant(EDITORS)?;
    let first = row_of(state, tenant, course, id).await?;
    let state = state.clone();
    let until = tokio::time::Instant::now() + FOLLOW_FOR;
    let stream =
        futures::stream::unfold((Some(first), None::<(String, String, i32)>, false), move |(next, last, done)| {
            let state = state.clone();
            async move {
                if done {
                    return None;
                }
                let mut row = next;
                loop {
                    if tokio::time::Instant::now() >= until {
                        let p = AppError::client(
                            StatusCode::REQUEST_TIMEOUT,
                            "follow-again",
                            "Still running",
                            "the generation has not ended yet; follow it again",
                        );
                        let data = serde_json::to_string(&p.to_problem()).unwrap_or_default();
                        return Some((Ok(SseEvent::default().event("error").data(data)), (None, last, true)));
                    }
                    if let Some(r) = row.take() {
                        let key = (r.status.clone(), r.stage.clone(), r.blocks_added);
                        if last.as_ref() != Some(&key) {
                            let end = terminal(&r.status);
                            let data = serde_json::to_string(&Generation::from(r)).unwrap_or_default();
                            let event = SseEvent::default().event("generation").data(data);
                            return Some((Ok(event), (None, Some(key), end)));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    match row_of(&state, tenant, course, id).await {
                        Ok(r) => row = Some(r),
                        Err(e) => {
                            let data = serde_json::to_string(&e.to_problem()).unwrap_or_default();
                            return Some((Ok(SseEvent::default().event("error").data(data)), (None, last, true)));
                        }
                    }
                }
            }
        });
    Ok(stream)
}

// ---- the gateway's answers -----------------------------------------------------------

pub async fn on_progressed(tx: &mut sqlx::PgConnection, e: &GenerationProgressed) -> Result<(), sqlx::Error> {
    if let Some(g) = store::generation_get(tx, e.request_id.into(), true).await?
        && !terminal(&g.status)
    {
        let status = if e.stage == "queued" { "queued" } else { "running" };
        store::generation_update(tx, g.id, status, &e.stage, g.blocks_added, None).await?;
    }
    Ok(())
}

fn provenance(e: &GenerationCompleted, g: &GenerationRow, cited: Vec<String>) -> Option<AiProvenance> {
    let p = e.provenance.as_ref()?;
    let mut sources = cited;
    if sources.is_empty() {
        sources = g.sources.clone();
    }
    Some(AiProvenance {
        model: p.model.clone(),
        prompt_id: p.prompt_id.clone(),
        prompt_version: p.prompt_version.clone(),
        prompt_hash: p.prompt_hash.clone(),
        sources,
        generated_at: e.completed_at,
        request_id: g.id.to_string(),
    })
}

fn ai_block(content: Content, provenance: &AiProvenance) -> Block {
    Block {
        id: BlockId::new(),
        content,
        origin: Origin::Ai,
        ai_provenance: Some(provenance.clone()),
        review: Review::DraftAi,
    }
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn markdown_block(markdown: String, prov: &AiProvenance) -> Block {
    ai_block(Content::Text { markdown: clip(&markdown, MAX_TEXT) }, prov)
}

fn cited(output: &Value) -> Vec<String> {
    let mut ids: Vec<String> = output["citations"]
        .as_array()
        .map(|c| c.iter().filter_map(|x| x["source"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    ids.sort();
    ids.dedup();
    ids
}

/// What the answer adds to the draft; an error names why it cannot apply.
fn apply(draft: &mut Outline, g: &GenerationRow, output: &Value, prov: &AiProvenance) -> Result<usize, String> {
    let lesson_id = g.lesson_id.map(LessonId::from);
    match g.kind.as_str() {
        "outline" => {
            let mut added = 0;
            for m in output["modules"].as_array().into_iter().flatten() {
                let lessons = m["lessons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|l| {
                        let objectives: Vec<String> = l["objectives"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|o| o.as_str().map(|o| format!("- {o}")))
                            .collect();
                        let mut md = format!("**Objectives**\n\n{}", objectives.join("\n"));
                        if let Some(srcs) = l["sources"].as_array().filter(|s| !s.is_empty()) {
                            let names: Vec<&str> = srcs.iter().filter_map(Value::as_str).collect();
                            md.push_str(&format!("\n\nSources: {}", names.join(", ")));
                        }
                        added += 1;
                        Lesson {
                            id: LessonId::new(),
                            title: clip(l["title"].as_str().unwrap_or("Lesson"), 200),
                            blocks: vec![markdown_block(md, prov)],
                        }
                    })
                    .collect();
                draft.modules.push(Module {
                    id: ModuleId::new(),
                    title: clip(m["title"].as_str().unwrap_or("Module"), 200),
                    lessons,
                });
            }
            Ok(added)
        }
        "lesson" => {
            let blocks: Vec<Block> = output["blocks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| serde_json::from_value::<Content>(b.clone()).ok())
                .map(|c| ai_block(c, prov))
                .collect();
            let n = blocks.len();
            let l = draft
                .modules
                .iter_mut()
                .flat_map(|m| &mut m.lessons)
                .find(|l| Some(l.id) == lesson_id)
                .ok_or("the lesson is no longer in the draft")?;
            l.blocks.extend(blocks);
            Ok(n)
        }
        "quiz" => {
            let mut md = String::from("**Check your understanding**\n");
            for (i, q) in output["questions"].as_array().into_iter().flatten().enumerate() {
                md.push_str(&format!("\n{}. {}\n", i + 1, q["stem"].as_str().unwrap_or_default()));
                let correct = q["correct"].as_u64().unwrap_or(u64::MAX) as usize;
                for (j, o) in q["options"].as_array().into_iter().flatten().enumerate() {
                    let mark = if j == correct { " ✓" } else { "" };
                    md.push_str(&format!("   - {}{mark}\n", o.as_str().unwrap_or_default()));
                }
                md.push_str(&format!("\n   *{}*\n", q["explanation"].as_str().unwrap_or_default()));
            }
            let l = draft
                .modules
                .iter_mut()
                .flat_map(|m| &mut m.lessons)
                .find(|l| Some(l.id) == lesson_id)
                .ok_or("the lesson is no longer in the draft")?;
            l.blocks.push(markdown_block(md, prov));
            Ok(1)
        }
        "rewrite" => {
            let target = g.block_id.map(BlockId::from);
            let markdown = output["markdown"].as_str().unwrap_or_default().to_owned();
            for l in draft.modules.iter_mut().flat_map(|m| &mut m.lessons) {
                if let Some(i) = l.blocks.iter().position(|b| Some(b.id) == target) {
                    // Next to the original, never over it: the author picks one.
                    l.blocks.insert(i + 1, markdown_block(markdown, prov));
                    return Ok(1);
                }
            }
            Err("the block is no longer in the draft".into())
        }
        other => Err(format!("unknown kind {other}")),
    }
}

/// The gateway's answer: the result lands in the draft (a new revision) or the generation
/// records why it did not.
pub async fn on_completed(tx: &mut sqlx::PgConnection, e: &GenerationCompleted) -> Result<(), sqlx::Error> {
    let Some(g) = store::generation_get(tx, e.request_id.into(), true).await? else { return Ok(()) };
    if terminal(&g.status) {
        return Ok(());
    }
    let output = match (e.status.as_str(), &e.output) {
        ("succeeded", Some(output)) => output,
        ("cancelled", _) => {
            store::generation_update(tx, g.id, "cancelled", "cancelled", 0, None).await?;
            return Ok(());
        }
        _ => {
            let error = e
                .error
                .as_ref()
                .map(|p| json!({ "type": p.kind, "title": p.title, "status": p.status, "detail": p.detail }));
            store::generation_update(tx, g.id, "failed", "failed", 0, error.as_ref()).await?;
            return Ok(());
        }
    };
    let fail = |why: String| json!({ "type": format!("{}not-applied", mirai_kit::error::PROBLEM_BASE), "title": "The result could not be added", "status": 409, "detail": why });
    let Some(prov) = provenance(e, &g, cited(output)) else {
        store::generation_update(tx, g.id, "failed", "failed", 0, Some(&fail("no provenance".into()))).await?;
        return Ok(());
    };
    let Some(course) = store::course_get(tx, g.course_id, true).await? else {
        store::generation_update(tx, g.id, "failed", "failed", 0, Some(&fail("the course is gone".into()))).await?;
        return Ok(());
    };
    if course.status == "retired" {
        store::generation_update(tx, g.id, "failed", "failed", 0, Some(&fail("the course is retired".into()))).await?;
        return Ok(());
    }
    let mut draft = course.draft.0.clone();
    let added = match apply(&mut draft, &g, output, &prov) {
        Ok(n) => n,
        Err(why) => {
            store::generation_update(tx, g.id, "failed", "failed", 0, Some(&fail(why))).await?;
            return Ok(());
        }
    };
    let lessons: usize = draft.modules.iter().map(|m| m.lessons.len()).sum();
    let blocks: usize = draft.modules.iter().flat_map(|m| &m.lessons).map(|l| l.blocks.len()).sum();
    if draft.modules.len() > MAX_MODULES || lessons > MAX_LESSONS || blocks > MAX_BLOCKS {
        let why = format!("the draft would exceed {MAX_MODULES} modules, {MAX_LESSONS} lessons or {MAX_BLOCKS} blocks");
        store::generation_update(tx, g.id, "failed", "failed", 0, Some(&fail(why))).await?;
        return Ok(());
    }
    let meta = Meta {
        title: &course.title,
        summary: &course.summary,
        locale: &course.locale,
        tags: &course.tags,
        visibility: &course.visibility,
    };
    let row =
        store::course_update(tx, course.id, &meta, &draft, &course.status, course.latest_version, &g.requested_by)
            .await?;
    let detail = json!({ "generation_id": g.id, "kind": g.kind, "blocks_added": added, "model": prov.model,
        "prompt": format!("{}@{}", prov.prompt_id, prov.prompt_version) });
    store::history_add(tx, row.tenant_id, row.id, row.revision, &g.requested_by, "ai_generated", detail).await?;
    store::generation_update(tx, g.id, "succeeded", "applied", added as i32, None).await?;
    Ok(())
}
