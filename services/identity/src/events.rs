//! What identity consumes: tenant's membership events, projected into the `memberships`
//! read model that login puts into tokens, and announced as `identity.access.changed.v1`
//! so that every key store refuses tokens issued under the old access at once.
//! (What it publishes otherwise is in `app::*`.)

use mirai_contracts::{
    events::{
        identity::AccessChanged,
        tenant::{MembershipGranted, MembershipRevoked},
    },
    ids::{TenantId, UserId},
};
use mirai_events::{ConsumerSpec, Cx, HandleError};
use mirai_kit::Role;

use crate::{
    AppState,
    store::{memberships, users},
};

async fn on_granted(cx: Cx<'_, AppState>, g: MembershipGranted) -> Result<(), HandleError> {
    // Platform roles come from identity alone; the schema refuses them too.
    if g.roles.iter().any(|r| r == Role::PlatformAdmin.as_str()) {
        return Err(HandleError::Permanent("a membership cannot grant platform_admin".into()));
    }
    let changed =
        memberships::membership_upsert_in_txn(cx.tx, g.tenant_id, g.user_id, &g.roles, true, g.revision).await?;
    users::user_set_default_tenant_if_unset(cx.tx, g.user_id, g.tenant_id).await?;
    if changed {
        announce(cx, g.user_id, g.tenant_id, g.revision, true, g.roles).await?;
    }
    Ok(())
}

async fn on_revoked(cx: Cx<'_, AppState>, r: MembershipRevoked) -> Result<(), HandleError> {
    let changed = memberships::membership_upsert_in_txn(cx.tx, r.tenant_id, r.user_id, &[], false, r.revision).await?;
    if changed {
        announce(cx, r.user_id, r.tenant_id, r.revision, false, vec![]).await?;
    }
    Ok(())
}

/// Emits the signed access change in the projection's transaction.
async fn announce(
    cx: Cx<'_, AppState>,
    user_id: UserId,
    tenant_id: TenantId,
    revision: i64,
    active: bool,
    roles: Vec<String>,
) -> Result<(), HandleError> {
    let event = AccessChanged { user_id, tenant_id, revision, active, roles };
    let meta = cx.following();
    cx.state
        .ctx
        .emit(cx.tx, &meta, [event.into()])
        .await
        .map_err(|e| HandleError::Transient(anyhow::anyhow!("emitting the access change: {e}")))
}

pub fn memberships_consumer(state: &AppState) -> ConsumerSpec {
    let state = std::sync::Arc::new(state.clone());
    ConsumerSpec::new("identity-memberships").on_with(&state, on_granted).on_with(&state, on_revoked)
}
