//! What catalog consumes: authoring's published and retired courses. A version replaces
//! an older one only (a redelivered or late event never rolls an entry back); a
//! retirement removes the course from the catalog.

use mirai_contracts::events::authoring::{CoursePublished, CourseRetired};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    store::entry_upsert(cx.tx, &e).await?;
    Ok(())
}

async fn on_retired(cx: Cx<'_>, e: CourseRetired) -> Result<(), HandleError> {
    store::entry_retire(cx.tx, e.course_id, e.retired_at).await?;
    Ok(())
}

pub fn consumer() -> ConsumerSpec {
    ConsumerSpec::new("catalog-courses").on(on_published).on(on_retired)
}
