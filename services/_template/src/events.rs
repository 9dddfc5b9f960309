//! What template consumes: tenant's `tenant.tenant.created.v1`, projected into
//! `known_tenants` so notes can only be written for a tenant that exists. The runtime has
//! already set the event's tenant for RLS and recorded it in the inbox, in `cx.tx`.

use mirai_contracts::events::tenant::TenantCreated;
use mirai_events::{ConsumerSpec, Cx, HandleError};

use crate::store;

async fn on_tenant_created(cx: Cx<'_>, t: TenantCreated) -> Result<(), HandleError> {
    store::known_tenant_upsert(cx.tx, t.tenant_id, &t.name).await?;
    Ok(())
}

pub fn tenants_consumer() -> ConsumerSpec {
    ConsumerSpec::new("template-tenants").on(on_tenant_created)
}
