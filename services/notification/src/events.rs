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
        billing::{PaymentFailed, PaymentRefunded, PaymentSucceeded},
        content::PackageImported,
        enrollment::{EnrollmentCreated, EnrollmentEnded},
        lrs::{StatementStored, StatementVoided},
        marketplace::{
            LicenseChanged, LicenseGranted, ListingChanged, OrderCanceled, OrderCompleted, OrderFailed, OrderPlaced,
        },
        media::{AssetDeleted, AssetReady},
        tenant::{MembershipGranted, MembershipRevoked, OrgUnitCreated, TenantCreated},
    },
};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::AppState;

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
    ListingChanged::SUBJECT,
    OrderPlaced::SUBJECT,
    OrderCompleted::SUBJECT,
    OrderFailed::SUBJECT,
    OrderCanceled::SUBJECT,
    LicenseGranted::SUBJECT,
    LicenseChanged::SUBJECT,
    PaymentSucceeded::SUBJECT,
    PaymentFailed::SUBJECT,
    PaymentRefunded::SUBJECT,
    EnrollmentCreated::SUBJECT,
    EnrollmentEnded::SUBJECT,
];

pub const CONSUMERS: &[(&str, &str)] = &[
    ("tenant", "notification-tenant"),
    ("authoring", "notification-authoring"),
    ("content", "notification-content"),
    ("media", "notification-media"),
    ("lrs", "notification-lrs"),
    ("marketplace", "notification-marketplace"),
    ("billing", "notification-billing"),
    ("enrollment", "notification-enrollment"),
];

async fn record<E: Event>(cx: Cx<'_>, _e: E) -> Result<(), HandleError> {
    crate::app::deliver::fan_out(cx.tx, cx.envelope).await?;
    Ok(())
}

/// What a message calls the tenant.
async fn on_tenant_created(cx: Cx<'_>, e: TenantCreated) -> Result<(), HandleError> {
    crate::store::tenant_name_put(cx.tx, e.tenant_id, &e.name).await?;
    Ok(())
}

/// A membership is a webhook message, and news for the member (inbox and email).
async fn on_membership_granted(cx: Cx<'_, AppState>, e: MembershipGranted) -> Result<(), HandleError> {
    crate::app::deliver::fan_out(cx.tx, cx.envelope).await?;
    // New roles are news too: every grant says what the member now holds.
    let tenant = crate::store::tenant_name_get(cx.tx).await?.unwrap_or_else(|| "your organization".into());
    let notice = crate::app::notify::Notice {
        tenant: e.tenant_id,
        user: e.user_id,
        category: "account",
        template: "membership-granted",
        vars: serde_json::json!({ "tenant": tenant, "roles": e.roles }),
        link: None,
    };
    crate::app::notify::notify(cx.tx, cx.state, notice).await.map_err(HandleError::Transient)?;
    Ok(())
}

pub fn consumers(state: &AppState) -> Vec<ConsumerSpec> {
    let state = std::sync::Arc::new(state.clone());
    vec![
        ConsumerSpec::new("notification-tenant")
            .on(on_tenant_created)
            .on_with(&state, on_membership_granted)
            .on(record::<MembershipRevoked>)
            .on(record::<OrgUnitCreated>)
            // Erasure: the person's messages go (ADR 0004).
            .on(crate::app::erasure::on_requested),
        ConsumerSpec::new("notification-authoring").on(record::<CoursePublished>).on(record::<CourseRetired>),
        ConsumerSpec::new("notification-content").on(record::<PackageImported>),
        ConsumerSpec::new("notification-media").on(record::<AssetReady>).on(record::<AssetDeleted>),
        ConsumerSpec::new("notification-lrs").on(record::<StatementStored>).on(record::<StatementVoided>),
        ConsumerSpec::new("notification-marketplace")
            .on(record::<ListingChanged>)
            .on(record::<OrderPlaced>)
            .on(record::<OrderCompleted>)
            .on(record::<OrderFailed>)
            .on(record::<OrderCanceled>)
            .on(record::<LicenseGranted>)
            .on(record::<LicenseChanged>),
        ConsumerSpec::new("notification-billing")
            .on(record::<PaymentSucceeded>)
            .on(record::<PaymentFailed>)
            .on(record::<PaymentRefunded>),
        ConsumerSpec::new("notification-enrollment").on(record::<EnrollmentCreated>).on(record::<EnrollmentEnded>),
    ]
}

#[cfg(test)]
mod tests {
    use mirai_contracts::Event;

    use super::*;

    #[test]
    fn every_deliverable_type_has_a_schema_and_the_rest_are_not_deliverable() {
        let schemas: Vec<&str> = mirai_contracts::subjects().map(|c| c.subject).collect();
        for t in DELIVERABLE {
            assert!(schemas.contains(t), "{t} has no schema");
        }
        for t in [TenantCreated::SUBJECT, mirai_contracts::events::tenant::DataSubjectErasureRequested::SUBJECT] {
            assert!(!DELIVERABLE.contains(&t), "{t} is not for webhooks");
        }
    }
}
