//! What search consumes: authoring's published and retired courses. A publication
//! replaces the course's documents (unless a newer version is indexed already); a private
//! course is not indexed; a retirement removes its documents.

use mirai_contracts::events::authoring::{CoursePublished, CourseRetired};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    if store::indexed_version(cx.tx, e.course_id).await?.is_some_and(|v| v > e.version) {
        return Ok(());
    }
    store::documents_delete(cx.tx, e.course_id).await?;
    if e.visibility != "private" {
        store::documents_insert(cx.tx, &e).await?;
    }
    Ok(())
}

async fn on_retired(cx: Cx<'_>, e: CourseRetired) -> Result<(), HandleError> {
    store::documents_delete(cx.tx, e.course_id).await?;
    Ok(())
}

pub fn consumer() -> ConsumerSpec {
    ConsumerSpec::new("search-courses").on(on_published).on(on_retired)
}
