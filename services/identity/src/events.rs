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
            match event.kind.as_str() {
                MEMBERSHIP_GRANTED => {
                    let g: Granted = event.payload()?;
                    event.require_tenant(g.tenant_id)?;
                    memberships::membership_upsert_in_txn(tx, g.tenant_id, g.user_id, &g.roles, true, g.revision)
                        .await?;
                    users::user_set_default_tenant_if_unset(tx, g.user_id, g.tenant_id).await?;
                }
                MEMBERSHIP_REVOKED => {
                    let r: Revoked = event.payload()?;
                    event.require_tenant(r.tenant_id)?;
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

pub fn memberships_consumer() -> ConsumerSpec {
    ConsumerSpec::new("identity-memberships", "tenant", &["tenant.membership.>"], Memberships)
}
