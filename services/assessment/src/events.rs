//! What assessment consumes: enrollment's enrollments (a learner takes the quizzes of a
//! course while enrolled in it).

use mirai_contracts::events::enrollment::{EnrollmentCreated, EnrollmentEnded};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

pub const CONSUMERS: &[(&str, &str)] = &[("enrollment", "assessment-enrollments")];

async fn on_enrolled(cx: Cx<'_>, e: EnrollmentCreated) -> Result<(), HandleError> {
    store::enrollment_put(cx.tx, &e).await?;
    Ok(())
}

async fn on_ended(cx: Cx<'_>, e: EnrollmentEnded) -> Result<(), HandleError> {
    store::enrollment_end(cx.tx, &e).await?;
    Ok(())
}

pub fn consumers() -> Vec<ConsumerSpec> {
    vec![ConsumerSpec::new("assessment-enrollments").on(on_enrolled).on(on_ended)]
}
