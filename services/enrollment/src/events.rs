//! What enrollment consumes: marketplace's licenses (pools), tenant's memberships (who
//! may be enrolled) and assignment's assignees (each gets a seat).

use mirai_contracts::events::tenant::{MembershipGranted, MembershipRevoked};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::{app, store};

pub const CONSUMERS: &[(&str, &str)] = &[
    ("marketplace", "enrollment-licenses"),
    ("tenant", "enrollment-members"),
    ("assignment", "enrollment-assignments"),
];

async fn on_member(cx: Cx<'_>, e: MembershipGranted) -> Result<(), HandleError> {
    store::member_put(cx.tx, e.tenant_id, e.user_id).await?;
    Ok(())
}

/// A former member is no longer enrolled anew (their enrollments stay until withdrawn).
async fn on_member_gone(cx: Cx<'_>, e: MembershipRevoked) -> Result<(), HandleError> {
    store::member_delete(cx.tx, e.user_id).await?;
    // Who left waits for no seat.
    store::waiting_delete_user(cx.tx, e.user_id).await?;
    Ok(())
}

pub fn consumers() -> Vec<ConsumerSpec> {
    vec![
        ConsumerSpec::new("enrollment-licenses").on(app::on_granted).on(app::on_license_changed).on(app::on_renewed),
        ConsumerSpec::new("enrollment-members").on(on_member).on(on_member_gone),
        ConsumerSpec::new("enrollment-assignments").on(app::on_assigned).on(app::on_assignment_canceled),
    ]
}
