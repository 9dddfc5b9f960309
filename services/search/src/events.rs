//! What search consumes: authoring's published and retired courses, in whatever order
//! they arrive (`courses_seen`): only a newer publication of a course not retired
//! replaces its documents; a private course is not indexed; a retirement removes them.

use mirai_contracts::events::authoring::{CoursePublished, CourseRetired};
use mirai_events::{ConsumerSpec, Cx, HandleError};
use mirai_kit::projection;

use crate::store;

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    if !projection::seen(cx.tx, "courses_seen", e.tenant_id.into(), e.course_id.into(), e.version).await? {
        return Ok(());
    }
    store::documents_delete(cx.tx, e.course_id).await?;
    if e.visibility != "private" {
        store::documents_insert(cx.tx, &e).await?;
    }
    Ok(())
}

async fn on_retired(cx: Cx<'_>, e: CourseRetired) -> Result<(), HandleError> {
    projection::ended(cx.tx, "courses_seen", e.tenant_id.into(), e.course_id.into(), e.last_version).await?;
    store::documents_delete(cx.tx, e.course_id).await?;
    Ok(())
}

pub fn consumer() -> ConsumerSpec {
    ConsumerSpec::new("search-courses").on(on_published).on(on_retired)
}
