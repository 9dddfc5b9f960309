//! What notification consumes: every event a tenant may hear about over its webhooks,
//! from each producing context's stream. A handler records the message and queues its
//! deliveries in the consumer's transaction (`app::deliver::fan_out`). Credentials
//! (API keys, signing keys, tenant secrets), invitations (their links) and internal
//! commands are never deliverable. A data-subject erasure request deletes the person's
//! messages (`app::erasure`).

use mirai_contracts::{
    Event,
    events::{
        authoring::{CoursePublished, CourseRetired},
        content::PackageImported,
        lrs::{StatementStored, StatementVoided},
        media::{AssetDeleted, AssetReady},
        tenant::{MembershipGranted, MembershipRevoked, OrgUnitCreated},
    },
};
use mirai_events::{ConsumerSpec, Cx, HandleError};

/// The event types an endpoint may ask for.
pub const DELIVERABLE: &[&str] = &[
    MembershipGranted::SUBJECT,
    MembershipRevoked::SUBJECT,
    OrgUnitCreated::SUBJECT,
    CoursePublished::SUBJECT,
    CourseRetired::SUBJECT,
    PackageImported::SUBJECT,
    AssetReady::SUBJECT,
    AssetDeleted::SUBJECT,
    StatementStored::SUBJECT,
    StatementVoided::SUBJECT,
];

pub const CONSUMERS: &[(&str, &str)] = &[
    ("tenant", "notification-tenant"),
    ("authoring", "notification-authoring"),
    ("content", "notification-content"),
    ("media", "notification-media"),
    ("lrs", "notification-lrs"),
];

async fn record<E: Event>(cx: Cx<'_>, _e: E) -> Result<(), HandleError> {
    crate::app::deliver::fan_out(cx.tx, cx.envelope).await?;
    Ok(())
}

pub fn consumers() -> Vec<ConsumerSpec> {
    vec![
        ConsumerSpec::new("notification-tenant")
            .on(record::<MembershipGranted>)
            .on(record::<MembershipRevoked>)
            .on(record::<OrgUnitCreated>)
            // Erasure: the person's messages go (ADR 0004).
            .on(crate::app::erasure::on_requested),
        ConsumerSpec::new("notification-authoring").on(record::<CoursePublished>).on(record::<CourseRetired>),
        ConsumerSpec::new("notification-content").on(record::<PackageImported>),
        ConsumerSpec::new("notification-media").on(record::<AssetReady>).on(record::<AssetDeleted>),
        ConsumerSpec::new("notification-lrs").on(record::<StatementStored>).on(record::<StatementVoided>),
    ]
}

#[cfg(test)]
mod tests {
    use mirai_contracts::{Event, events::tenant::DataSubjectErasureRequested};

    #[test]
    fn every_deliverable_type_is_consumed_and_has_a_schema() {
        let consumed: Vec<&str> = super::consumers().iter().flat_map(|c| c.subjects()).collect();
        let schemas: Vec<&str> = mirai_contracts::subjects().map(|c| c.subject).collect();
        for t in super::DELIVERABLE {
            assert!(consumed.contains(t), "{t} is not consumed");
            assert!(schemas.contains(t), "{t} has no schema");
        }
        let erasure = <DataSubjectErasureRequested as Event>::SUBJECT;
        let others: Vec<&&str> = consumed.iter().filter(|s| !super::DELIVERABLE.contains(s)).collect();
        assert_eq!(others, vec![&erasure], "only deliverable types and erasure requests are consumed");
    }
}
