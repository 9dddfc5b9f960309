//! What catalog consumes: authoring's published and retired courses, in whatever order
//! they arrive (`courses_seen`): a version replaces an older one only, and nothing brings
//! a retired course back; a retirement removes the course from the catalog.

use mirai_contracts::events::authoring::{CoursePublished, CourseRetired};
use mirai_events::{ConsumerSpec, Cx, HandleError};
use mirai_kit::projection;

use crate::store;

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    if projection::seen(cx.tx, "courses_seen", e.tenant_id.into(), e.course_id.into(), e.version).await? {
        store::entry_upsert(cx.tx, &e).await?;
    }
    Ok(())
}

async fn on_retired(cx: Cx<'_>, e: CourseRetired) -> Result<(), HandleError> {
    projection::ended(cx.tx, "courses_seen", e.tenant_id.into(), e.course_id.into(), e.last_version).await?;
    store::entry_retire(cx.tx, e.course_id, e.retired_at).await?;
    Ok(())
}

pub fn consumer() -> ConsumerSpec {
    ConsumerSpec::new("catalog-courses").on(on_published).on(on_retired)
}
