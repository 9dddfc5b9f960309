//! What delivery consumes: authoring's published versions (what the player shows) and
//! enrollment's enrollments (who may launch what). A retired course stays playable for
//! whoever is enrolled in one of its versions: the license bought that version.

use mirai_contracts::events::{
    authoring::CoursePublished,
    enrollment::{EnrollmentCreated, EnrollmentEnded},
};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

pub const CONSUMERS: &[(&str, &str)] = &[("authoring", "delivery-courses"), ("enrollment", "delivery-enrollments")];

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    store::course_version_put(cx.tx, &e).await?;
    Ok(())
}

async fn on_enrolled(cx: Cx<'_>, e: EnrollmentCreated) -> Result<(), HandleError> {
    store::enrollment_put(cx.tx, &e).await?;
    Ok(())
}

async fn on_ended(cx: Cx<'_>, e: EnrollmentEnded) -> Result<(), HandleError> {
    store::enrollment_end(cx.tx, &e).await?;
    Ok(())
}

pub fn consumers() -> Vec<ConsumerSpec> {
    vec![
        ConsumerSpec::new("delivery-courses").on(on_published),
        ConsumerSpec::new("delivery-enrollments").on(on_enrolled).on(on_ended),
    ]
}
