//! What catalog consumes: authoring's published and retired courses, in whatever order
//! they arrive (`courses_seen`): a version replaces an older one only, and nothing brings
//! a retired course back; a retirement removes the course from the catalog.

use mirai_contracts::events::authoring::{CoursePublished, CourseRetired};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    if store::seen_published(cx.tx, e.tenant_id, e.course_id, e.version).await? {
        store::entry_upsert(cx.tx, &e).await?;
    }
    Ok(())
}

async fn on_retired(cx: Cx<'_>, e: CourseRetired) -> Result<(), HandleError> {
    store::seen_retired(cx.tx, e.tenant_id, e.course_id, e.last_version).await?;
    store::entry_retire(cx.tx, e.course_id, e.retired_at).await?;
    Ok(())
}

pub fn consumer() -> ConsumerSpec {
    ConsumerSpec::new("catalog-courses").on(on_published).on(on_retired)
}
