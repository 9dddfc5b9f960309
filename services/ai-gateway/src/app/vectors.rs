//! The vector store: the lessons of a tenant's published courses, cut into chunks of about
//! 120 words (sentence boundaries, 20 words of overlap) and embedded with the local model;
//! a similarity query embeds its text the same way and asks pgvector for the nearest
//! chunks in the caller's tenant. Vectors made by another model than the current one are
//! re-embedded by a job per tenant, enqueued when a query or a publication finds them.

use mirai_contracts::{events::authoring::CoursePublished, ids::TenantId};
use mirai_events::jobs::{self, NewJob};
use mirai_kit::{AppError, Principal, Role};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{AppState, store};

pub const REEMBED_JOB: &str = "ai-gateway.reembed";
const CHUNK_WORDS: usize = 120;
const OVERLAP_WORDS: usize = 20;

/// Cuts `text` into chunks of about `CHUNK_WORDS` words, ending at sentence boundaries
/// where it can, each starting with the last `OVERLAP_WORDS` words of the one before.
pub fn chunk(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return vec![];
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < words.len() {
        let hard_end = (start + CHUNK_WORDS).min(words.len());
        let mut end = hard_end;
        if hard_end < words.len() {
            // Back up to the last sentence end in the second half of the window.
            if let Some(i) = (start + CHUNK_WORDS / 2..hard_end).rev().find(|&i| {
                let w = words[i];
                w.ends_with('.') || w.ends_with('!') || w.ends_with('?') || w.ends_with(':')
            }) {
                end = i + 1;
            }
        }
        out.push(words[start..end].join(" "));
        if end >= words.len() {
            break;
        }
        start = end.saturating_sub(OVERLAP_WORDS).max(start + 1);
    }
    out
}

/// One chunk to store.
pub struct NewChunk {
    pub source_id: Uuid,
    pub chunk: i32,
    pub title: String,
    pub text: String,
}

/// The chunks of a publication's lessons.
pub fn lesson_chunks(e: &CoursePublished) -> Vec<NewChunk> {
    let mut out = Vec::new();
    for lesson in e.outline.iter().flat_map(|m| &m.lessons) {
        let text: Vec<&str> = lesson.blocks.iter().map(|b| b.text.as_str()).filter(|t| !t.trim().is_empty()).collect();
        for (i, c) in chunk(&text.join("\n")).into_iter().enumerate() {
            out.push(NewChunk {
                source_id: lesson.lesson_id.into(),
                chunk: i as i32,
                title: lesson.title.clone(),
                text: c,
            });
        }
    }
    out
}

/// What is embedded for a chunk: its title gives short chunks their topic.
fn embedded_text(title: &str, text: &str) -> String {
    format!("{title}\n{text}")
}

/// Replaces a course's chunks with those of its new publication (none for a private one).
pub async fn index_course(tx: &mut PgConnection, e: &CoursePublished) -> anyhow::Result<()> {
    // A private course is for its authors only: every member may query the store.
    let chunks = if e.visibility == "private" { vec![] } else { lesson_chunks(e) };
    let texts: Vec<String> = chunks.iter().map(|c| embedded_text(&c.title, &c.text)).collect();
    let vectors = mirai_embed::embed(texts).await.map_err(anyhow::Error::msg)?;
    store::chunks_delete_course(tx, e.course_id.into()).await?;
    for (c, v) in chunks.iter().zip(&vectors) {
        store::chunk_insert(
            tx,
            e.tenant_id,
            "lesson",
            c,
            Some(e.course_id.into()),
            mirai_embed::MODEL,
            &mirai_embed::to_pg(v),
        )
        .await?;
    }
    enqueue_reembed_if_stale(tx, e.tenant_id).await?;
    Ok(())
}

async fn enqueue_reembed_if_stale(tx: &mut PgConnection, tenant: TenantId) -> Result<(), sqlx::Error> {
    if store::chunks_stale_exist(tx, mirai_embed::MODEL).await? {
        let mut job = NewJob::new(REEMBED_JOB, serde_json::json!({ "model": mirai_embed::MODEL }));
        job.tenant_id = Some(tenant.into());
        job.dedupe_key = Some(format!("{REEMBED_JOB}:{tenant}:{}", mirai_embed::MODEL));
        jobs::enqueue(tx, job).await?;
    }
    Ok(())
}

/// The re-embed job: the tenant's chunks made by another model, 200 at a time (the job
/// enqueues itself again until none is left).
pub struct Reembed;

impl jobs::JobHandler for Reembed {
    fn run<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        job: &'a jobs::Job,
    ) -> futures::future::BoxFuture<'a, Result<(), mirai_events::HandleError>> {
        Box::pin(async move {
            let transient = |e: String| mirai_events::HandleError::Transient(anyhow::anyhow!(e));
            let stale = store::chunks_stale(tx, mirai_embed::MODEL, 200).await?;
            if stale.is_empty() {
                return Ok(());
            }
            let texts = stale.iter().map(|c| embedded_text(&c.title, &c.text)).collect();
            let vectors = mirai_embed::embed(texts).await.map_err(transient)?;
            for (c, v) in stale.iter().zip(&vectors) {
                store::chunk_reembed(tx, c, mirai_embed::MODEL, &mirai_embed::to_pg(v)).await?;
            }
            if let Some(tenant) = job.tenant_id {
                // More may be left: a new job (the dedupe key is free once this one is done).
                let mut next = NewJob::new(REEMBED_JOB, job.payload.clone());
                next.tenant_id = Some(tenant);
                jobs::enqueue(tx, next).await?;
            }
            Ok(())
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarInput {
    /// What to look for, 1 to 2000 characters.
    pub query: String,
    /// 1 to 50, default 10.
    #[serde(default)]
    pub limit: Option<i64>,
    /// The kind of source: `lesson` (the default and, for now, the only one).
    #[serde(default)]
    pub source_type: Option<String>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct SimilarChunk {
    pub source_type: String,
    pub source_id: Uuid,
    pub chunk: i32,
    pub course_id: Option<Uuid>,
    pub title: String,
    pub text: String,
    /// Cosine similarity, -1 to 1.
    pub score: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Similar {
    pub model: String,
    pub data: Vec<SimilarChunk>,
}

/// The tenant's chunks nearest to a text (semantic search; grounding for generation).
pub async fn similar(state: &AppState, principal: &Principal, input: SimilarInput) -> Result<Similar, AppError> {
    let tenant = principal.own_tenant(&Role::ALL)?;
    let query = input.query.trim();
    if query.is_empty() || query.chars().count() > 2000 {
        return Err(AppError::invalid("query", "1 to 2000 characters"));
    }
    let limit = input.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(AppError::invalid("limit", "1 to 50"));
    }
    // Documents are read for their authors' generations, not for every member's queries.
    if input.source_type.as_deref().is_some_and(|t| t != "lesson") {
        return Err(AppError::invalid("source_type", "`lesson` (the only kind queried)"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    if !mirai_kit::features::enabled(&mut tx, "ai.semantic_search").await? {
        return Err(mirai_kit::features::off("ai.semantic_search"));
    }
    let vector = mirai_embed::embed(vec![query.to_owned()]).await.map_err(|e| AppError::Upstream {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        slug: "ai-unavailable",
        title: "The local embedding model is unavailable",
        detail: e,
        retry_after_secs: Some(30),
    })?;
    let data = store::chunks_nearest(&mut tx, &mirai_embed::to_pg(&vector[0]), mirai_embed::MODEL, limit).await?;
    // Fewer neighbours than asked for may mean chunks of another model wait for a
    // re-embedding: only then look (the look costs a scan of the tenant's chunks).
    if (data.len() as i64) < limit {
        enqueue_reembed_if_stale(&mut tx, tenant).await?;
    }
    tx.commit().await?;
    Ok(Similar { model: mirai_embed::MODEL.to_owned(), data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_at_sentences_and_overlap() {
        let sentence = "Leave the building by the nearest marked exit and walk to the assembly point.";
        let text = std::iter::repeat_n(sentence, 40).collect::<Vec<_>>().join(" ");
        let chunks = chunk(&text);
        assert!(chunks.len() > 3);
        for c in &chunks[..chunks.len() - 1] {
            assert!(c.ends_with('.'), "ends at a sentence: {c}");
            assert!(c.split_whitespace().count() <= CHUNK_WORDS);
        }
        let first: Vec<&str> = chunks[0].split_whitespace().collect();
        let tail = first[first.len() - OVERLAP_WORDS..].join(" ");
        assert!(chunks[1].starts_with(&tail), "the next chunk starts with the last words");
        assert_eq!(chunk("   "), Vec::<String>::new());
        assert_eq!(chunk("one two"), vec!["one two".to_owned()]);
    }
}
