//! What assessment consumes: enrollment's enrollments (a learner takes the quizzes of a
//! course while enrolled in it) and authoring's publications (which tenant a course is:
//! only its quizzes reach the course's learners).

use mirai_contracts::events::{
    authoring::CoursePublished,
    enrollment::{EnrollmentCreated, EnrollmentEnded},
};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

pub const CONSUMERS: &[(&str, &str)] = &[("enrollment", "assessment-enrollments"), ("authoring", "assessment-courses")];

async fn on_published(cx: Cx<'_>, e: CoursePublished) -> Result<(), HandleError> {
    store::course_put(cx.tx, e.tenant_id, e.course_id).await?;
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
        ConsumerSpec::new("assessment-enrollments").on(on_enrolled).on(on_ended),
        ConsumerSpec::new("assessment-courses").on(on_published),
    ]
}
