//! Reconciliation, on the job table (once across replicas, every `RECONCILE_EVERY_SECS`,
//! or now by a platform admin): billing and the payment provider compared.
//! - **Paid but not provisioned**: every payment the provider says succeeded in the
//!   window (its event log) that billing does not have as succeeded — a webhook lost, a
//!   crash between the charge and its record — is applied now, exactly as the webhook
//!   would have (ledger, `billing.payment.succeeded.v1`, so marketplace grants the
//!   license once), with a `billing.reconciliation.healed.v1` saying so.
//!   A subscription's paid invoices billing has not recorded are synced the same way
//!   (`subscriptions::sync`): each becomes its period's payment, once.
//! - **Provisioned but not paid**: a license granted for an order whose payment billing
//!   never saw succeed gets a job (`CHECK_JOB`, after `UNPAID_GRACE_SECS`) that asks the
//!   provider; paid after all, it heals as above; otherwise `provisioned_not_paid` tells
//!   marketplace to revoke it.

use chrono::Utc;
use futures::future::BoxFuture;
use mirai_contracts::events::billing::ReconciliationHealed;
use mirai_events::{
    HandleError,
    jobs::{Job, JobHandler},
    outbox,
};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{
    AppState,
    app::payments::{self, system},
    gateway::{Gateway, State},
    store,
};

pub const JOB: &str = "reconcile";
pub const CHECK_JOB: &str = "check-unpaid";

/// What one run healed.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Reconciled {
    /// Payments the provider took that billing now records (their orders provisioned).
    pub paid_not_provisioned: u32,
}

pub async fn run(state: &AppState) -> anyhow::Result<Reconciled> {
    let mut out = Reconciled::default();
    if let Gateway::Stripe(stripe) = &state.gateway {
        let since = Utc::now().timestamp() - state.settings.reconcile_window.as_secs() as i64;
        for paid in stripe.succeeded_since(since, 100_000).await? {
            let (Some(payment), Some(tenant)) = (paid.payment_id, paid.tenant_id) else { continue };
            let mut tx = state.ctx.db.tenant_tx(tenant).await?;
            if let Some(p) = store::payment_get(&mut tx, payment.into(), true).await?
                && p.status != "succeeded"
                && p.provider_ref.as_deref() == Some(paid.provider_ref.as_str())
                && payments::apply(&mut tx, &p, &State::Succeeded, "reconciliation", &system("billing"))
                    .await
                    .map_err(err)?
            {
                out.paid_not_provisioned += 1;
            }
            tx.commit().await?;
        }
        // Subscription periods: every paid invoice billing has not recorded is synced
        // exactly as its webhook would have been.
        let invoices = stripe.invoices_paid_since(since, 100_000).await?;
        let ids: Vec<String> = invoices.iter().map(|i| i.id.clone()).collect();
        let mut tx = state.ctx.db.platform_tx().await?;
        let unrecorded = store::invoices_unrecorded(&mut tx, "stripe", &ids).await?;
        tx.commit().await?;
        for inv in invoices.iter().filter(|i| unrecorded.contains(&i.id)) {
            let Some(sub) = inv.subscription.as_deref() else { continue };
            // One that fails is tried again next run; the others go on.
            match super::subscriptions::sync(state, sub, Some(&inv.id), "reconciliation").await {
                Ok(true) => out.paid_not_provisioned += 1,
                Ok(false) => {}
                Err(e) => tracing::error!(invoice = inv.id, error = %e, "reconciliation could not sync an invoice"),
            }
        }
    }
    if out.paid_not_provisioned > 0 {
        tracing::warn!(paid_not_provisioned = out.paid_not_provisioned, "reconciliation healed");
    }
    Ok(out)
}

/// Asks the provider about a payment whose order was provisioned before billing saw it paid.
pub struct CheckUnpaid {
    pub state: AppState,
}

impl CheckUnpaid {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let Some(id) = job.payload["payment_id"].as_str().and_then(|s| s.parse().ok()) else {
            return Err(HandleError::Permanent("a check without a payment_id".into()));
        };
        let Some(p) = store::payment_get(tx, id, true).await? else { return Ok(()) };
        if p.status == "succeeded" {
            return Ok(());
        }
        let at_provider = match (&self.state.gateway, p.provider_ref.as_deref()) {
            (Gateway::Stripe(s), Some(r)) if p.provider == "stripe" => {
                s.retrieve(r).await.map_err(|e| HandleError::Transient(e.into()))?
            }
            _ => State::Pending,
        };
        if at_provider == State::Succeeded {
            payments::apply(tx, &p, &State::Succeeded, "reconciliation", &system("billing")).await?;
            return Ok(());
        }
        let ev = ReconciliationHealed {
            tenant_id: p.tenant_id,
            order_id: p.order_id,
            payment_id: Some(p.id),
            kind: "provisioned_not_paid".into(),
            detail: format!("the order was provisioned; its payment is {} at {}", p.status, p.provider),
            at: Utc::now(),
        };
        tracing::warn!(payment = %p.id, order = %p.order_id, "a provisioned order was never paid");
        outbox::enqueue(tx, crate::NAME, &system("billing"), ev.into()).await?;
        Ok(())
    }
}

impl JobHandler for CheckUnpaid {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(CheckUnpaid::run(self, tx, job))
    }
}

fn err(e: HandleError) -> anyhow::Error {
    anyhow::anyhow!(e.to_string())
}

pub struct Reconcile {
    pub state: AppState,
}

impl Reconcile {
    async fn run(&self, _tx: &mut PgConnection, _job: &Job) -> Result<(), HandleError> {
        // Each payment heals in a transaction of its own tenant; the runner's stays unused.
        run(&self.state).await.map(drop).map_err(HandleError::Transient)
    }
}

impl JobHandler for Reconcile {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Reconcile::run(self, tx, job))
    }
}
