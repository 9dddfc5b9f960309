//! What identity consumes: tenant's membership events, projected into the `memberships`
//! read model that login puts into tokens. (What it publishes is in `app::*`.)

use mirai_contracts::events::tenant::{MembershipGranted, MembershipRevoked};
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store::{memberships, users};

async fn on_granted(cx: Cx<'_>, g: MembershipGranted) -> Result<(), HandleError> {
    memberships::membership_upsert_in_txn(cx.tx, g.tenant_id, g.user_id, &g.roles, true, g.revision).await?;
    users::user_set_default_tenant_if_unset(cx.tx, g.user_id, g.tenant_id).await?;
    Ok(())
}

async fn on_revoked(cx: Cx<'_>, r: MembershipRevoked) -> Result<(), HandleError> {
    memberships::membership_upsert_in_txn(cx.tx, r.tenant_id, r.user_id, &[], false, r.revision).await?;
    Ok(())
}

pub fn memberships_consumer() -> ConsumerSpec {
    ConsumerSpec::new("identity-memberships").on(on_granted).on(on_revoked)
}
