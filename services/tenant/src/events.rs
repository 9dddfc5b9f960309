//! What tenant consumes: each erasure participant's `<service>.data_subject.erased.v1`,
//! which completes that service's step of a data-subject request.

use futures::{FutureExt, future::BoxFuture};
use mirai_events::{ConsumerSpec, Envelope, HandleError, Handler};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::app::data_subjects::{self, ERASURE_STEPS};

#[derive(Deserialize)]
struct Erased {
    tenant_id: Uuid,
    request_id: Uuid,
    outcome: Value,
}

struct ErasureSteps {
    service: &'static str,
}

impl Handler for ErasureSteps {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, event: &'a Envelope) -> BoxFuture<'a, Result<(), HandleError>> {
        async move {
            let e: Erased = event.payload()?;
            event.require_tenant(e.tenant_id)?;
            data_subjects::step_reported(tx, event, e.tenant_id, e.request_id, self.service, &e.outcome).await?;
            Ok(())
        }
        .boxed()
    }
}

/// One consumer per participant, each on that service's stream.
pub fn erasure_consumers() -> Vec<ConsumerSpec> {
    ERASURE_STEPS
        .iter()
        .map(|service| {
            ConsumerSpec::new(
                &format!("tenant-erasures-{service}"),
                service,
                &[&format!("{service}.data_subject.erased.v1")],
                ErasureSteps { service },
            )
            .concurrency(1)
        })
        .collect()
}
