//! What ai-gateway consumes: tenant's `tenant.feature_flag.changed.v1` for the `ai.*`
//! flags, projected into `features` (AI is off for a tenant until its admin turns a
//! feature on); authoring's published and retired courses, whose lessons the vector store
//! keeps in embedded chunks (`app::vectors`), in whatever order the events arrive
//! (`courses_seen`); media's ready and deleted assets, the documents a generation may be
//! grounded in (`app::documents`); and the commands authoring sends it
//! (`app::generations`).

use mirai_contracts::events::{
    authoring::{CoursePublished, CourseRetired},
    media::{AssetDeleted, AssetReady},
};
use mirai_events::{ConsumerSpec, Cx, HandleError};
use mirai_kit::projection;

use crate::{app::vectors, store};

pub fn flags_consumer() -> ConsumerSpec {
    mirai_kit::features::consumer("ai-gateway-flags", |key| key.starts_with("ai."))
}

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    if !projection::seen(cx.tx, "courses_seen", e.tenant_id.into(), e.course_id.into(), e.version).await? {
        return Ok(());
    }
    // The model is local: a failure is this process's (not installed yet), worth a retry.
    vectors::index_course(cx.tx, &e).await.map_err(HandleError::Transient)
}

async fn on_retired(cx: Cx<'_>, e: CourseRetired) -> Result<(), HandleError> {
    projection::ended(cx.tx, "courses_seen", e.tenant_id.into(), e.course_id.into(), e.last_version).await?;
    store::chunks_delete_course(cx.tx, e.course_id.into()).await?;
    Ok(())
}

pub fn courses_consumer() -> ConsumerSpec {
    ConsumerSpec::new("ai-gateway-courses").on(on_published).on(on_retired)
}

/// Every ready asset is recorded (a few rows); only a readable one is ever read, and
/// only when a generation names it.
async fn on_asset_ready(cx: Cx<'_>, e: AssetReady) -> Result<(), HandleError> {
    store::document_ready(cx.tx, &e).await?;
    Ok(())
}

async fn on_asset_deleted(cx: Cx<'_>, e: AssetDeleted) -> Result<(), HandleError> {
    store::document_deleted(cx.tx, e.tenant_id, e.asset_id.into()).await?;
    Ok(())
}

pub fn media_consumer() -> ConsumerSpec {
    ConsumerSpec::new("ai-gateway-media").on(on_asset_ready).on(on_asset_deleted)
}

/// Commands to the gateway (`cmd.ai-gateway.*`, from authoring): generate, cancel.
pub fn commands_consumer(state: &crate::AppState) -> ConsumerSpec {
    let state = std::sync::Arc::new(state.clone());
    ConsumerSpec::new("ai-gateway-commands")
        .on_with(&state, crate::app::generations::on_generate)
        .on_with(&state, crate::app::generations::on_cancel)
}
