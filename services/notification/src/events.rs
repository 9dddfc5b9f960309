//! What notification consumes: every event a tenant may hear about over its webhooks,
//! from each producing context's stream. A handler records the message and queues its
//! deliveries in the consumer's transaction (`app::deliver::fan_out`). Credentials
//! (API keys, signing keys, tenant secrets), invitations (their links) and internal
//! commands are never deliverable. A data-subject erasure request deletes the person's
//! messages (`app::erasure`).

use mirai_contracts::{
    Event,
    events::{
        assignment::{
            AssigneeAdded, AssigneeCompleted, AssigneeEscalated, AssigneeExpired, AssigneeOverdue, AssigneeReminded,
            AssignmentCanceled, AssignmentCreated,
        },
        authoring::{CoursePublished, CourseRetired},
        billing::{DocumentIssued, PaymentFailed, PaymentRefunded, PaymentSucceeded, SubscriptionChanged},
        content::PackageImported,
        enrollment::{EnrollmentCreated, EnrollmentEnded, EnrollmentRefused},
        lrs::{StatementStored, StatementVoided},
        marketplace::{
            LicenseChanged, LicenseGranted, LicenseRenewed, ListingChanged, OrderCanceled, OrderCompleted, OrderFailed,
            OrderPlaced,
        },
        media::{AssetDeleted, AssetReady},
        tenant::{
            GroupCreated, GroupMemberAdded, GroupMemberRemoved, MembershipGranted, MembershipRevoked, OrgUnitCreated,
            TenantCreated,
        },
    },
    ids::{TenantId, UserId},
};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::AppState;

/// The event types an endpoint may ask for.
pub const DELIVERABLE: &[&str] = &[
    MembershipGranted::SUBJECT,
    MembershipRevoked::SUBJECT,
    OrgUnitCreated::SUBJECT,
    GroupCreated::SUBJECT,
    GroupMemberAdded::SUBJECT,
    GroupMemberRemoved::SUBJECT,
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
    LicenseRenewed::SUBJECT,
    PaymentSucceeded::SUBJECT,
    PaymentFailed::SUBJECT,
    PaymentRefunded::SUBJECT,
    SubscriptionChanged::SUBJECT,
    DocumentIssued::SUBJECT,
    EnrollmentCreated::SUBJECT,
    EnrollmentEnded::SUBJECT,
    EnrollmentRefused::SUBJECT,
    AssignmentCreated::SUBJECT,
    AssignmentCanceled::SUBJECT,
    AssigneeAdded::SUBJECT,
    AssigneeReminded::SUBJECT,
    AssigneeOverdue::SUBJECT,
    AssigneeEscalated::SUBJECT,
    AssigneeCompleted::SUBJECT,
    AssigneeExpired::SUBJECT,
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
    ("assignment", "notification-assignment"),
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

/// A date as messages show it (`2027-02-03`).
fn day(at: chrono::DateTime<chrono::Utc>) -> String {
    at.date_naive().to_string()
}

/// An assignment's news for people: a webhook message, and a notice to each of `users`
/// (inbox and email, as each wants) from `template` with `vars` and the tenant's name.
async fn tell(
    cx: Cx<'_, AppState>,
    tenant_id: TenantId,
    users: &[UserId],
    template: &'static str,
    vars: serde_json::Value,
) -> Result<(), HandleError> {
    crate::app::deliver::fan_out(cx.tx, cx.envelope).await?;
    if users.is_empty() {
        return Ok(());
    }
    let tenant = crate::store::tenant_name_get(cx.tx).await?.unwrap_or_else(|| "your organization".into());
    for user in users {
        let mut vars = vars.clone();
        vars["tenant"] = serde_json::json!(tenant);
        let notice = crate::app::notify::Notice {
            tenant: tenant_id,
            user: *user,
            category: "assignments",
            template,
            vars,
            // No page of the app shows an assignment yet: the message links the app.
            link: None,
        };
        crate::app::notify::notify(cx.tx, cx.state, notice).await.map_err(HandleError::Transient)?;
    }
    Ok(())
}

/// A course assigned to the learner.
async fn on_assignee_added(cx: Cx<'_, AppState>, e: AssigneeAdded) -> Result<(), HandleError> {
    let vars = serde_json::json!({ "title": e.title, "due_at": day(e.due_at) });
    tell(cx, e.tenant_id, &[e.user_id], "assignment-added", vars).await
}

/// The course is due soon: the learner is reminded.
async fn on_assignee_reminded(cx: Cx<'_, AppState>, e: AssigneeReminded) -> Result<(), HandleError> {
    let vars = serde_json::json!({ "title": e.title, "due_at": day(e.due_at), "days_left": e.days_left });
    tell(cx, e.tenant_id, &[e.user_id], "assignment-reminder", vars).await
}

/// The due date passed: the learner is told.
async fn on_assignee_overdue(cx: Cx<'_, AppState>, e: AssigneeOverdue) -> Result<(), HandleError> {
    let vars = serde_json::json!({ "title": e.title, "due_at": day(e.due_at) });
    tell(cx, e.tenant_id, &[e.user_id], "assignment-overdue", vars).await
}

/// Still overdue: each of the learner's managers is told who (their name when notification
/// knows it, else their user id).
async fn on_assignee_escalated(cx: Cx<'_, AppState>, e: AssigneeEscalated) -> Result<(), HandleError> {
    let person = crate::store::person_get(cx.tx, e.user_id).await?;
    let learner = person.and_then(|p| p.display_name).unwrap_or_else(|| e.user_id.to_string());
    let vars = serde_json::json!({
        "title": e.title,
        "due_at": day(e.due_at),
        "days_overdue": e.days_overdue,
        "learner": learner,
    });
    tell(cx, e.tenant_id, &e.managers, "assignment-escalated", vars).await
}

/// A recertification lapsed: the course is due again.
async fn on_assignee_expired(cx: Cx<'_, AppState>, e: AssigneeExpired) -> Result<(), HandleError> {
    let vars = serde_json::json!({ "title": e.title, "expired_at": day(e.expired_at) });
    tell(cx, e.tenant_id, &[e.user_id], "assignment-expired", vars).await
}

pub fn consumers(state: &AppState) -> Vec<ConsumerSpec> {
    let state = std::sync::Arc::new(state.clone());
    vec![
        ConsumerSpec::new("notification-tenant")
            .on(on_tenant_created)
            .on_with(&state, on_membership_granted)
            .on(record::<MembershipRevoked>)
            .on(record::<OrgUnitCreated>)
            .on(record::<GroupCreated>)
            .on(record::<GroupMemberAdded>)
            .on(record::<GroupMemberRemoved>)
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
            .on(record::<LicenseChanged>)
            .on(record::<LicenseRenewed>),
        ConsumerSpec::new("notification-billing")
            .on(record::<PaymentSucceeded>)
            .on(record::<PaymentFailed>)
            .on(record::<PaymentRefunded>)
            .on(record::<SubscriptionChanged>)
            .on(record::<DocumentIssued>),
        ConsumerSpec::new("notification-enrollment")
            .on(record::<EnrollmentCreated>)
            .on(record::<EnrollmentEnded>)
            .on(record::<EnrollmentRefused>),
        ConsumerSpec::new("notification-assignment")
            .on(record::<AssignmentCreated>)
            .on(record::<AssignmentCanceled>)
            .on_with(&state, on_assignee_added)
            .on_with(&state, on_assignee_reminded)
            .on_with(&state, on_assignee_overdue)
            .on_with(&state, on_assignee_escalated)
            .on(record::<AssigneeCompleted>)
            .on_with(&state, on_assignee_expired),
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
