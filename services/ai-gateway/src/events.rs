//! What ai-gateway consumes: tenant's `tenant.feature_flag.changed.v1` for the `ai.*`
//! flags, projected into `features`. AI is off for a tenant until its admin turns a
//! feature on.

use mirai_contracts::events::tenant::FeatureFlagChanged;
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

async fn on_flag_changed(cx: Cx<'_>, f: FeatureFlagChanged) -> Result<(), HandleError> {
    if f.key.starts_with("ai.") {
        store::feature_set(cx.tx, f.tenant_id, &f.key, f.enabled).await?;
    }
    Ok(())
}

pub fn flags_consumer() -> ConsumerSpec {
    ConsumerSpec::new("ai-gateway-flags").on(on_flag_changed)
}
