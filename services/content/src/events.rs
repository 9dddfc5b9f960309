//! What content consumes: authoring's published versions (what an export is made of) and
//! media's ready and deleted assets (the files an export includes). Both are facts that
//! never change once stated, so replays are upserts.

use mirai_contracts::events::{
    authoring::CoursePublished,
    media::{AssetDeleted, AssetReady},
};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    store::version_put(cx.tx, &e).await?;
    Ok(())
}

async fn on_ready(cx: Cx<'_>, e: AssetReady) -> Result<(), HandleError> {
    store::media_put(cx.tx, &e).await?;
    Ok(())
}

async fn on_deleted(cx: Cx<'_>, e: AssetDeleted) -> Result<(), HandleError> {
    store::media_delete(cx.tx, e.asset_id.into()).await?;
    Ok(())
}

pub fn versions() -> ConsumerSpec {
    ConsumerSpec::new("content-versions").on(on_published)
}

pub fn media() -> ConsumerSpec {
    ConsumerSpec::new("content-media").on(on_ready).on(on_deleted)
}
