//! What tenant consumes: each erasure participant's `<service>.data_subject.erased.v1`
//! (the LRS's, notification's, delivery's),
//! which completes that service's step of a data-subject request.

use mirai_contracts::events::{delivery, lrs, notification};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::app::data_subjects;

async fn on_lrs_erased(cx: Cx<'_>, e: lrs::DataSubjectErased) -> Result<(), HandleError> {
    let outcome = serde_json::to_value(&e.outcome).map_err(|e| HandleError::Permanent(e.to_string()))?;
    let meta = cx.following();
    data_subjects::step_reported(cx.tx, &meta, e.tenant_id, e.request_id, "lrs", &outcome).await?;
    Ok(())
}

async fn on_notification_erased(cx: Cx<'_>, e: notification::DataSubjectErased) -> Result<(), HandleError> {
    let outcome = serde_json::to_value(&e.outcome).map_err(|e| HandleError::Permanent(e.to_string()))?;
    let meta = cx.following();
    data_subjects::step_reported(cx.tx, &meta, e.tenant_id, e.request_id, "notification", &outcome).await?;
    Ok(())
}

async fn on_delivery_erased(cx: Cx<'_>, e: delivery::DataSubjectErased) -> Result<(), HandleError> {
    let outcome = serde_json::to_value(&e.outcome).map_err(|e| HandleError::Permanent(e.to_string()))?;
    let meta = cx.following();
    data_subjects::step_reported(cx.tx, &meta, e.tenant_id, e.request_id, "delivery", &outcome).await?;
    Ok(())
}

/// One consumer per participant, each on that service's stream; one erasure at a time.
pub fn erasure_consumers() -> Vec<ConsumerSpec> {
    vec![
        ConsumerSpec::new("tenant-erasures-lrs").on(on_lrs_erased).batch(1),
        ConsumerSpec::new("tenant-erasures-notification").on(on_notification_erased).batch(1),
        ConsumerSpec::new("tenant-erasures-delivery").on(on_delivery_erased).batch(1),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_erasure_step_has_a_consumer() {
        let consumers = super::erasure_consumers();
        for step in crate::app::data_subjects::ERASURE_STEPS {
            assert!(consumers.iter().any(|c| c.context == *step), "no consumer for the {step} erasure step");
        }
    }
}
