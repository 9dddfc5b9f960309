//! Housekeeping every service schema needs, run as scheduled jobs (once per period across
//! replicas): idempotency keys after 48 h (the promise is at least 24 h), published outbox
//! rows after 7 days, inbox ids after 30 days (longer than any redelivery), and finished
//! jobs after 7 days. Dead jobs are kept for inspection.

use std::time::Duration;

use futures::{FutureExt, future::BoxFuture};
use mirai_events::{
    HandleError,
    jobs::{Job, JobHandler, Runner, Schedule},
};
use sqlx::PgConnection;

pub const KIND: &str = "kit.cleanup";

struct Cleanup;

impl JobHandler for Cleanup {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, _job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        async move {
            for sql in [
                "DELETE FROM outbox WHERE published_at < now() - interval '7 days'",
                "DELETE FROM inbox WHERE handled_at < now() - interval '30 days'",
                "DELETE FROM jobs WHERE state = 'done' AND updated_at < now() - interval '7 days'",
            ] {
                sqlx::query(sql).execute(&mut *tx).await?;
            }
            // Idempotency keys are RLS-scoped per tenant; the owner-run purge spans tenants.
            sqlx::query("SELECT purge_idempotency_keys(interval '48 hours')").execute(&mut *tx).await?;
            Ok(())
        }
        .boxed()
    }
}

/// Adds the housekeeping handler and its hourly schedule to a runner.
pub fn install(runner: Runner) -> Runner {
    runner.handler(KIND, Cleanup).schedule(Schedule {
        name: KIND.into(),
        kind: KIND.into(),
        every: Duration::from_secs(3600),
    })
}
