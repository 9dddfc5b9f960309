//! What identity consumes: tenant's membership events, projected into the `memberships`
//! read model that login puts into tokens. (What it publishes is in `app::*`.)

use futures::{FutureExt, future::BoxFuture};
use mirai_events::{ConsumerSpec, Envelope, HandleError, Handler};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::{memberships, users};

pub const MEMBERSHIP_GRANTED: &str = "tenant.membership.granted.v1";
pub const MEMBERSHIP_REVOKED: &str = "tenant.membership.revoked.v1";

#[derive(Deserialize)]
struct Granted {
    tenant_id: Uuid,
    user_id: Uuid,
    roles: Vec<String>,
    revision: i64,
}

#[derive(Deserialize)]
struct Revoked {
    tenant_id: Uuid,
    user_id: Uuid,
    revision: i64,
}

struct Memberships;

impl Handler for Memberships {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, event: &'a Envelope) -> BoxFuture<'a, Result<(), HandleError>> {
        async move {
            let bad = |e: serde_json::Error| HandleError::Permanent(format!("{}: {e}", event.kind));
            match event.kind.as_str() {
                MEMBERSHIP_GRANTED => {
                    let g: Granted = event.data_as().map_err(bad)?;
                    check_tenant(event, g.tenant_id)?;
                    memberships::membership_upsert_in_txn(tx, g.tenant_id, g.user_id, &g.roles, true, g.revision)
                        .await?;
                    users::user_set_default_tenant_if_unset(tx, g.user_id, g.tenant_id).await?;
                }
                MEMBERSHIP_REVOKED => {
                    let r: Revoked = event.data_as().map_err(bad)?;
                    check_tenant(event, r.tenant_id)?;
                    memberships::membership_upsert_in_txn(tx, r.tenant_id, r.user_id, &[], false, r.revision).await?;
                }
                other => {
                    return Err(HandleError::Permanent(format!("unexpected subject {other}")));
                }
            }
            Ok(())
        }
        .boxed()
    }
}

/// The envelope's tenant is what RLS was set to; the payload must agree.
fn check_tenant(event: &Envelope, tenant: Uuid) -> Result<(), HandleError> {
    if event.tenantid != Some(tenant) {
        return Err(HandleError::Permanent("envelope tenantid does not match the payload's tenant_id".into()));
    }
    Ok(())
}

pub fn memberships_consumer() -> ConsumerSpec {
    ConsumerSpec::new("identity-memberships", "tenant", &["tenant.membership.>"], Memberships)
}
