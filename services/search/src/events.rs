//! What search consumes: authoring's published and retired courses, in whatever order
//! they arrive (`courses_seen`, in Postgres whatever the engine): only a newer
//! publication of a course not retired replaces its documents; a private course is not
//! indexed; a retirement removes them. With OpenSearch the documents are written there
//! before the watermark commits: a failure rolls the watermark back and the event is
//! retried, and writing the same documents again changes nothing.

use mirai_contracts::events::authoring::{CoursePublished, CourseRetired};
use mirai_events::{ConsumerSpec, Cx, HandleError};
use mirai_kit::projection;

use crate::{
    AppState,
    engine::{Engine, docs_of},
    store,
};

fn transient(e: impl Into<anyhow::Error>) -> HandleError {
    HandleError::Transient(e.into())
}

/// OpenSearch, emptied first when this is the first write of an epoch (a replay).
async fn opensearch<'a>(cx: &mut Cx<'a, AppState>) -> Result<Option<&'a super::engine::opensearch::Os>, HandleError> {
    let Engine::OpenSearch(os) = &cx.state.engine else { return Ok(None) };
    if store::epoch_claim(cx.tx).await? {
        tracing::info!("search: a new index epoch (first run or rebuild): emptying OpenSearch before the replay");
        os.clear().await.map_err(transient)?;
    }
    Ok(Some(os))
}

async fn on_published(mut cx: Cx<'_, AppState>, e: CoursePublished) -> Result<(), HandleError> {
    if !projection::seen(cx.tx, "courses_seen", e.tenant_id.into(), e.course_id.into(), e.version).await? {
        return Ok(());
    }
    let docs = if e.visibility == "private" { vec![] } else { docs_of(&e) };
    // Vectors for semantic search (in Postgres whatever the lexical engine): the local
    // model, so a failure is this process's (not installed yet) and worth a retry.
    let texts = docs.iter().map(|d| format!("{}\n{}", d.title, d.body)).collect();
    let vectors = mirai_embed::embed(texts).await.map_err(|e| transient(anyhow::anyhow!(e)))?;
    store::vectors_delete(cx.tx, e.course_id).await?;
    store::vectors_insert(cx.tx, &docs, &vectors).await?;
    match opensearch(&mut cx).await? {
        None => {
            store::documents_delete(cx.tx, e.course_id).await?;
            store::documents_insert(cx.tx, &docs).await?;
            store::words_insert(cx.tx, &docs).await?;
        }
        Some(os) => os.replace_course(e.tenant_id, e.course_id, &docs).await.map_err(transient)?,
    }
    Ok(())
}

async fn on_retired(mut cx: Cx<'_, AppState>, e: CourseRetired) -> Result<(), HandleError> {
    projection::ended(cx.tx, "courses_seen", e.tenant_id.into(), e.course_id.into(), e.last_version).await?;
    store::vectors_delete(cx.tx, e.course_id).await?;
    match opensearch(&mut cx).await? {
        None => store::documents_delete(cx.tx, e.course_id).await?,
        Some(os) => os.delete_course(e.tenant_id, e.course_id).await.map_err(transient)?,
    }
    Ok(())
}

pub fn consumer(state: &AppState) -> ConsumerSpec {
    let state = std::sync::Arc::new(state.clone());
    ConsumerSpec::new("search-courses").on_with(&state, on_published).on_with(&state, on_retired)
}

/// The tenant's `ai.semantic_search` flag: semantic and hybrid results need it on.
pub fn flags_consumer() -> ConsumerSpec {
    mirai_kit::features::consumer("search-flags", |key| key == "ai.semantic_search")
}
