//! What media consumes: authoring's published versions, for the assets each one shows
//! (an asset in use is not deleted). A version's uses never change: published versions
//! are immutable.

use mirai_contracts::events::authoring::CoursePublished;
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    let assets: Vec<uuid::Uuid> = e
        .outline
        .iter()
        .flat_map(|m| &m.lessons)
        .flat_map(|l| &l.blocks)
        .filter_map(|b| b.media_id.map(Into::into))
        .collect();
    store::uses_add(cx.tx, e.tenant_id.into(), e.course_id.into(), e.version, &assets).await?;
    Ok(())
}

pub fn consumer() -> ConsumerSpec {
    ConsumerSpec::new("media-uses").on(on_published)
}
