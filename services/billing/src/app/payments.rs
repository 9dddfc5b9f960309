//! A payment's life: created for a placed order (a job asks the provider, so a slow
//! provider never holds up the bus), then moved by whatever billing hears first — the
//! provider's answer, its webhook, reconciliation, a platform admin for `manual` — and
//! only forward: `succeeded` is applied once (ledger + event) whoever says it and however
//! often; a decline after success changes nothing.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use mirai_contracts::{
    events::billing::{PaymentFailed, PaymentRefunded, PaymentSucceeded, ReconciliationHealed},
    ids::{OrderId, PaymentId, RefundId, TenantId},
};
use mirai_events::{
    EventMeta, HandleError, NewEvent,
    jobs::{Job, JobHandler, NewJob},
    outbox,
};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{
    AppState,
    gateway::{Gateway, GatewayError, NewPayment, State},
    store::{self, PaymentRow},
};

pub const CREATE_JOB: &str = "create-payment";
pub const CANCEL_JOB: &str = "cancel-payment";
pub const REFUND_JOB: &str = "refund";
pub const FEE_JOB: &str = "book-processor-fee";

/// What the buyer sees of a payment (its client secret lets its browser confirm it
/// with Stripe.js; it is shown to the buyer's admins only).
#[derive(Debug, Serialize, ToSchema)]
pub struct Payment {
    #[schema(value_type = uuid::Uuid)]
    pub id: PaymentId,
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    /// `stripe` or `manual`.
    pub provider: String,
    pub provider_ref: Option<String>,
    pub client_secret: Option<String>,
    /// `creating`, `requires_action`, `succeeded`, `failed` or `canceled`.
    pub status: String,
    pub failure: Option<String>,
    /// Refunded so far, minor units.
    pub refunded: i64,
    /// What the payment provider kept (Stripe's fee), once booked; minor units.
    pub processor_fee: Option<i64>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PaymentRow> for Payment {
    fn from(r: PaymentRow) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            order_id: r.order_id,
            amount: r.amount,
            currency: r.currency,
            provider: r.provider,
            provider_ref: r.provider_ref,
            client_secret: r.client_secret,
            status: r.status,
            failure: r.failure,
            refunded: r.refunded,
            processor_fee: r.processor_fee,
            succeeded_at: r.succeeded_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub(crate) fn system(actor: &str) -> EventMeta {
    EventMeta { actor: Some(actor.to_owned()), ..EventMeta::default() }
}

/// The platform's share of `amount` at `bps` basis points (rounded down).
pub fn platform_fee(amount: i64, bps: i32) -> i64 {
    (i128::from(amount) * i128::from(bps) / 10_000) as i64
}

pub(crate) fn entries<const N: usize>(list: [(String, i64); N]) -> Vec<(String, i64)> {
    list.into_iter().filter(|(_, n)| *n != 0).collect()
}

/// Applies what the provider says of a payment (the row locked by the caller), once.
/// Returns whether anything changed.
pub async fn apply(
    tx: &mut PgConnection,
    p: &PaymentRow,
    state: &State,
    via: &str,
    meta: &EventMeta,
) -> Result<bool, HandleError> {
    let now = Utc::now();
    let mut events: Vec<NewEvent> = vec![];
    match state {
        State::Pending => return Ok(false),
        State::Succeeded => {
            if p.status == "succeeded" {
                return Ok(false);
            }
            store::payment_set_status(tx, p.id, "succeeded", None).await?;
            // The money is in: the provider's cash, owed to the course provider less the
            // platform's share.
            let fee = platform_fee(p.amount, p.revenue_share_bps);
            let posting = entries([
                (format!("cash:{}", p.provider), p.amount),
                (format!("payable:{}", p.provider_tenant_id), -(p.amount - fee)),
                ("revenue:platform".to_owned(), -fee),
            ]);
            store::ledger_post(tx, "payment", &posting, &p.currency, Some(p.id), p.tenant_id).await?;
            // The buyer's receipt, and what the provider kept of it.
            mirai_events::jobs::enqueue(tx, super::documents::job(p.tenant_id, p.id, None)).await?;
            if p.provider == "stripe" {
                let fee = job(FEE_JOB, p.tenant_id, serde_json::json!({ "payment_id": p.id }), format!("fee:{}", p.id));
                mirai_events::jobs::enqueue(tx, fee).await?;
            }
            events.push(
                PaymentSucceeded {
                    tenant_id: p.tenant_id,
                    payment_id: p.id,
                    order_id: p.order_id,
                    amount: p.amount,
                    currency: p.currency.clone(),
                    provider: p.provider.clone(),
                    provider_ref: p.provider_ref.clone().unwrap_or_else(|| format!("manual_{}", p.id)),
                    via: via.to_owned(),
                    at: now,
                }
                .into(),
            );
            events.extend(super::subscriptions::period_paid(tx, p).await?);
            if via == "reconciliation" {
                events.push(
                    ReconciliationHealed {
                        tenant_id: p.tenant_id,
                        order_id: p.order_id,
                        payment_id: Some(p.id),
                        kind: "paid_not_provisioned".into(),
                        detail: format!(
                            "{} succeeded at {}; billing had not heard of it",
                            p.provider_ref.as_deref().unwrap_or("the payment"),
                            p.provider
                        ),
                        at: now,
                    }
                    .into(),
                );
            }
        }
        State::Declined(_) | State::Canceled if p.status == "succeeded" => {
            tracing::warn!(payment = %p.id, ?state, "the provider reports a failure of a payment that succeeded; kept");
            return Ok(false);
        }
        State::Declined(message) => {
            if matches!(p.status.as_str(), "failed" | "canceled") {
                return Ok(false);
            }
            let message: String = message.chars().take(500).collect();
            store::payment_set_status(tx, p.id, "failed", Some(&message)).await?;
            events.extend(super::subscriptions::first_period_failed(tx, p).await?);
            events.push(
                PaymentFailed {
                    tenant_id: p.tenant_id,
                    payment_id: p.id,
                    order_id: p.order_id,
                    reason: "declined".into(),
                    message: Some(message),
                    at: now,
                }
                .into(),
            );
        }
        State::Canceled => {
            if p.status == "canceled" {
                return Ok(false);
            }
            store::payment_set_status(tx, p.id, "canceled", None).await?;
            events.extend(super::subscriptions::first_period_failed(tx, p).await?);
            events.push(
                PaymentFailed {
                    tenant_id: p.tenant_id,
                    payment_id: p.id,
                    order_id: p.order_id,
                    reason: "canceled".into(),
                    message: None,
                    at: now,
                }
                .into(),
            );
        }
    }
    outbox::enqueue_all(tx, crate::NAME, meta, events).await?;
    Ok(true)
}

fn job_payment(job: &Job) -> Result<PaymentId, HandleError> {
    job.payload["payment_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HandleError::Permanent("a payment job without a payment_id".into()))
}

fn gateway_error(p: &PaymentRow, e: GatewayError) -> Result<State, HandleError> {
    match e {
        GatewayError::Transient(m) => Err(HandleError::Transient(anyhow::anyhow!(m))),
        GatewayError::Refused(m) => {
            tracing::error!(payment = %p.id, error = %m, "the payment provider refused a request");
            Ok(State::Declined(m))
        }
    }
}

/// Asks the provider for an order's payment (once: Stripe's idempotency key is the
/// payment's id, so a job retried after a lost answer finds the same PaymentIntent).
pub struct CreatePayment {
    pub state: AppState,
}

impl CreatePayment {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let id = job_payment(job)?;
        let Some(p) = store::payment_get(tx, id, true).await? else { return Ok(()) };
        if p.status != "creating" {
            return Ok(());
        }
        let stripe = match &self.state.gateway {
            Gateway::Manual => {
                // Paid outside (an invoice); a platform admin marks it paid.
                store::payment_created(tx, id, &format!("manual_{}", id.as_uuid().simple()), None).await?;
                return Ok(());
            }
            Gateway::Stripe(s) => s,
        };
        let customer = match store::customer_get(tx, "stripe").await? {
            Some(c) => c,
            None => {
                let c = match stripe.create_customer(p.tenant_id.into()).await {
                    Ok(c) => c,
                    Err(e) => {
                        let state = gateway_error(&p, e)?;
                        return apply(tx, &p, &state, "api", &system("billing")).await.map(drop);
                    }
                };
                store::customer_put(tx, p.tenant_id, "stripe", &c).await?;
                c
            }
        };
        if p.subscription_id.is_some() {
            let state = match super::subscriptions::create_at_stripe(tx, stripe, &p, &customer).await {
                Ok(state) => state,
                Err(e) => gateway_error(&p, e)?,
            };
            let p = store::payment_get(tx, id, true).await?.expect("locked above");
            return apply(tx, &p, &state, "api", &system("billing")).await.map(drop);
        }
        let req = NewPayment {
            payment_id: id.into(),
            order_id: p.order_id.into(),
            tenant_id: p.tenant_id.into(),
            amount: p.amount,
            currency: &p.currency,
            customer: Some(&customer),
            payment_method: p.payment_method.as_deref(),
        };
        let state = match stripe.create_payment(&req).await {
            Ok(created) => {
                if !created.provider_ref.is_empty() {
                    store::payment_created(tx, id, &created.provider_ref, created.client_secret.as_deref()).await?;
                }
                created.state
            }
            Err(e) => gateway_error(&p, e)?,
        };
        let p = store::payment_get(tx, id, true).await?.expect("locked above");
        apply(tx, &p, &state, "api", &system("billing")).await.map(drop)
    }
}

impl JobHandler for CreatePayment {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(CreatePayment::run(self, tx, job))
    }
}

/// Cancels the payment of an order the buyer canceled (a payment that succeeded anyway
/// stays succeeded; marketplace refunds it).
pub struct CancelPayment {
    pub state: AppState,
}

impl CancelPayment {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let id = job_payment(job)?;
        let Some(p) = store::payment_get(tx, id, true).await? else { return Ok(()) };
        if !matches!(p.status.as_str(), "creating" | "requires_action") {
            return Ok(());
        }
        let state = match (&self.state.gateway, p.provider_ref.as_deref()) {
            (Gateway::Stripe(s), Some(r)) if p.provider == "stripe" => match s.cancel(r).await {
                Ok(st) => st,
                Err(e) => gateway_error(&p, e)?,
            },
            _ => State::Canceled,
        };
        apply(tx, &p, &state, "api", &system("billing")).await.map(drop)
    }
}

impl JobHandler for CancelPayment {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(CancelPayment::run(self, tx, job))
    }
}

/// Refunds what marketplace asked (all that remains, or an amount, capped at what
/// remains), once per command: the refund's id is Stripe's idempotency key.
pub struct Refund {
    pub state: AppState,
}

impl Refund {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let id: RefundId = job.payload["refund_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| HandleError::Permanent("a refund job without a refund_id".into()))?;
        let Some(r) = store::refund_get(tx, id).await? else { return Ok(()) };
        if r.status != "pending" {
            return Ok(());
        }
        let Some(p) = store::payment_get(tx, r.payment_id, true).await? else { return Ok(()) };
        let left = p.amount - p.refunded;
        let amount = r.requested.unwrap_or(left).min(left);
        if p.status != "succeeded" || amount <= 0 {
            store::refund_done(tx, id, "skipped", None, None).await?;
            return Ok(());
        }
        // The provider's share of a refund comes out of what it is still owed; once paid
        // out, the platform would pay it, so the refund is held until a platform admin
        // releases it (the provider then owes its share). Payout runs hold the same lock.
        mirai_kit::db::xact_lock(tx, "billing-payout-run").await?;
        let total_after = p.refunded + amount;
        let fee = platform_fee(total_after, p.revenue_share_bps) - platform_fee(p.refunded, p.revenue_share_bps);
        let account = format!("payable:{}", p.provider_tenant_id);
        let owed = -store::ledger_balances(tx, Some(&account))
            .await?
            .into_iter()
            .find(|b| b.currency == p.currency)
            .map_or(0, |b| b.balance);
        if owed < amount - fee && r.released_by.is_none() {
            tracing::error!(refund = %id, payment = %p.id, owed, share = amount - fee,
                "refund held: the provider was paid out more than it is still owed; recover it first");
            store::refund_done(tx, id, "held", Some(amount), None).await?;
            return Ok(());
        }
        let provider_ref = match (&self.state.gateway, p.provider_ref.as_deref()) {
            (Gateway::Stripe(s), Some(pi)) if p.provider == "stripe" => {
                match s.refund(pi, amount, &id.to_string()).await {
                    Ok(r) => r,
                    Err(GatewayError::Transient(m)) => return Err(HandleError::Transient(anyhow::anyhow!(m))),
                    Err(GatewayError::Refused(m)) => return Err(HandleError::Permanent(m)),
                }
            }
            (Gateway::Stripe(_), None) if p.provider == "stripe" => {
                return Err(HandleError::Permanent(format!("payment {} has no Stripe charge to refund", p.id)));
            }
            // Paid outside, refunded outside: the ledger still records it.
            _ => format!("manual_refund_{}", id.as_uuid().simple()),
        };
        store::refund_done(tx, id, "succeeded", Some(amount), Some(&provider_ref)).await?;
        book_refund(tx, &p, id, amount, provider_ref, &system("billing")).await
    }
}

/// Books a refund that happened (the payment locked): the payment's refunded total, the
/// ledger's reversal split as the payment was (the platform gives back its share in
/// proportion), the buyer's credit note and `billing.payment.refunded.v1`.
pub(crate) async fn book_refund(
    tx: &mut PgConnection,
    p: &PaymentRow,
    id: RefundId,
    amount: i64,
    provider_ref: String,
    meta: &EventMeta,
) -> Result<(), HandleError> {
    let fee = platform_fee(p.refunded + amount, p.revenue_share_bps) - platform_fee(p.refunded, p.revenue_share_bps);
    let total = store::payment_refunded(tx, p.id, amount).await?;
    let posting = entries([
        (format!("cash:{}", p.provider), -amount),
        (format!("payable:{}", p.provider_tenant_id), amount - fee),
        ("revenue:platform".to_owned(), fee),
    ]);
    store::ledger_post(tx, "refund", &posting, &p.currency, Some(p.id), p.tenant_id).await?;
    // The buyer's credit note.
    mirai_events::jobs::enqueue(tx, super::documents::job(p.tenant_id, p.id, Some(id))).await?;
    let ev = PaymentRefunded {
        tenant_id: p.tenant_id,
        refund_id: id,
        payment_id: p.id,
        order_id: p.order_id,
        amount,
        refunded_total: total,
        currency: p.currency.clone(),
        provider_ref,
        at: Utc::now(),
    };
    outbox::enqueue(tx, crate::NAME, meta, ev.into()).await?;
    Ok(())
}

/// Refunds made at the provider without billing (Stripe's dashboard, its API by hand):
/// `{ "payment_intent": "pi_…" }`, queued by `charge.refunded` webhooks. The provider's
/// refunds of the payment are read back, and each one billing did not make (it marks its
/// own with `metadata[mirai_refund_id]`) and has not booked is booked now, once (its
/// Stripe id is unique among refunds).
pub struct SyncRefunds {
    pub state: AppState,
}

impl SyncRefunds {
    async fn run(&self, _tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let Gateway::Stripe(stripe) = &self.state.gateway else { return Ok(()) };
        let Some(pi) = job.payload["payment_intent"].as_str() else {
            return Err(HandleError::Permanent("a refund sync without a payment_intent".into()));
        };
        let transient = |e: GatewayError| HandleError::Transient(e.into());
        let Some(tenant) = stripe.owner_of(pi).await.map_err(transient)? else {
            // Not one of ours.
            return Ok(());
        };
        let refunds = stripe.refunds_of(pi).await.map_err(transient)?;
        let mut tx = self.state.ctx.db.tenant_tx(tenant).await?;
        // What providers are owed changes: payout runs wait (they hold the same lock).
        mirai_kit::db::xact_lock(&mut tx, "billing-payout-run").await?;
        let Some(p) = store::payment_by_ref(&mut tx, pi).await? else {
            tracing::warn!(payment_intent = pi, "Stripe refunded a payment billing does not have");
            return Ok(());
        };
        let mut p = p;
        for r in refunds.iter().filter(|r| !r.ours && r.status == "succeeded") {
            if store::refund_known(&mut tx, &r.id).await? {
                continue;
            }
            let amount = r.amount.min(p.amount - p.refunded);
            if amount <= 0 {
                continue;
            }
            tracing::warn!(payment = %p.id, refund = r.id, amount, "a refund made at Stripe, not through Mirai: booked");
            let id = store::refund_insert_external(&mut tx, p.tenant_id, p.id, amount, &r.id).await?;
            book_refund(&mut tx, &p, id, amount, r.id.clone(), &system("stripe")).await?;
            p = store::payment_get(&mut tx, p.id, true).await?.expect("locked above");
        }
        tx.commit().await?;
        Ok(())
    }
}

impl JobHandler for SyncRefunds {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(SyncRefunds::run(self, tx, job))
    }
}

pub const SYNC_REFUNDS_JOB: &str = "sync-refunds";

/// Books what Stripe kept of a payment (its charge's balance transaction's fee), once:
/// the provider's cash is less by it, and the platform bears it as an expense (the
/// provider's share was set on the price, not on what Stripe kept). Retried until the
/// charge has settled into a balance transaction.
pub struct BookFee {
    pub state: AppState,
}

impl BookFee {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let id = job_payment(job)?;
        let Some(p) = store::payment_get(tx, id, true).await? else { return Ok(()) };
        let (Gateway::Stripe(stripe), Some(pi), None) =
            (&self.state.gateway, p.provider_ref.as_deref(), p.processor_fee)
        else {
            return Ok(());
        };
        let fee = match stripe.processor_fee(pi).await {
            Ok(Some(fee)) => fee,
            Ok(None) => return Err(HandleError::Transient(anyhow::anyhow!("payment {id} has not settled yet"))),
            Err(GatewayError::Transient(m)) => return Err(HandleError::Transient(anyhow::anyhow!(m))),
            Err(GatewayError::Refused(m)) => return Err(HandleError::Permanent(m)),
        };
        let (amount, currency) = fee;
        if amount > 0 {
            let posting =
                entries([("expense:processor_fees".to_owned(), amount), (format!("cash:{}", p.provider), -amount)]);
            let currency = if currency.is_empty() { p.currency.clone() } else { currency };
            store::ledger_post(tx, "processor_fee", &posting, &currency, Some(p.id), p.tenant_id).await?;
        }
        store::payment_fee_booked(tx, p.id, amount).await?;
        Ok(())
    }
}

impl JobHandler for BookFee {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(BookFee::run(self, tx, job))
    }
}

impl JobHandler for Refund {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Refund::run(self, tx, job))
    }
}

pub fn job(kind: &str, tenant: TenantId, payload: serde_json::Value, dedupe: String) -> NewJob {
    NewJob { tenant_id: Some(tenant.into()), dedupe_key: Some(dedupe), max_attempts: 12, ..NewJob::new(kind, payload) }
}

// ---- the API -------------------------------------------------------------------------

/// Who reads a tenant's payments.
const PAYERS: &[Role] = &[Role::OrgAdmin];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// The payment of one order.
    #[param(value_type = Option<uuid::Uuid>)]
    pub order_id: Option<OrderId>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn list(state: &AppState, p: &Principal, q: PaymentQuery) -> Result<Page<Payment>, AppError> {
    let tenant = p.own_tenant(PAYERS)?;
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::payments_list(&mut tx, q.order_id, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

pub async fn get(state: &AppState, p: &Principal, id: PaymentId) -> Result<Payment, AppError> {
    let tenant = p.own_tenant(PAYERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::payment_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("payment", id))?;
    tx.commit().await?;
    Ok(row.into())
}

/// A platform admin records that a `manual` payment (an invoice) was paid.
pub async fn mark_paid(state: &AppState, p: &Principal, tenant: TenantId, id: PaymentId) -> Result<Payment, AppError> {
    p.require_platform_admin()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::payment_get(&mut tx, id, true).await?.ok_or_else(|| AppError::not_found("payment", id))?;
    if row.provider != "manual" {
        return Err(AppError::Conflict(format!(
            "payment {id} is taken by {}: its provider says when it is paid",
            row.provider
        )));
    }
    match row.status.as_str() {
        "requires_action" | "succeeded" => {}
        other => return Err(AppError::Conflict(format!("payment {id} is {other}"))),
    }
    apply(&mut tx, &row, &State::Succeeded, "manual", &p.event_meta()).await.map_err(handle_to_app)?;
    let row = store::payment_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("payment", id))?;
    tx.commit().await?;
    Ok(row.into())
}

pub(crate) fn handle_to_app(e: HandleError) -> AppError {
    match e {
        HandleError::Permanent(m) => AppError::Internal(anyhow::anyhow!(m)),
        HandleError::Transient(e) => AppError::Internal(e),
    }
}

/// A refund as its tenant's admins and the platform see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    #[schema(value_type = uuid::Uuid)]
    pub id: RefundId,
    #[schema(value_type = uuid::Uuid)]
    pub payment_id: PaymentId,
    /// What was asked, minor units (none: all that remained).
    pub requested: Option<i64>,
    /// What was (or would be) refunded, minor units.
    pub amount: Option<i64>,
    pub reason: String,
    /// `pending`, `succeeded`, `skipped` or `held` (the provider was paid out already: a
    /// platform admin releases it).
    pub status: String,
    pub released_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RefundQuery {
    /// Only refunds in this status.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A tenant's refunds (its org admins, or a platform admin).
pub async fn refunds(
    state: &AppState,
    p: &Principal,
    tenant: TenantId,
    q: RefundQuery,
) -> Result<Page<RefundView>, AppError> {
    if !p.is_platform_admin() {
        p.require_in_tenant(tenant.into(), PAYERS)?;
    }
    if let Some(s) = &q.status
        && !["pending", "succeeded", "skipped", "held"].contains(&s.as_str())
    {
        return Err(AppError::invalid("status", "must be pending, succeeded, skipped or held"));
    }
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::refunds_list(&mut tx, q.status.as_deref(), page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    let data = page
        .data
        .into_iter()
        .map(|r| RefundView {
            id: r.id,
            payment_id: r.payment_id,
            requested: r.requested,
            amount: r.amount,
            reason: r.reason,
            status: r.status,
            released_by: r.released_by,
            created_at: r.created_at,
        })
        .collect();
    Ok(Page { data, next_cursor: page.next_cursor })
}

/// A platform admin releases a held refund: it runs now, and the provider owes its share
/// (its `payable:` balance goes positive; its next sales settle it before any payout).
pub async fn release_refund(state: &AppState, p: &Principal, tenant: TenantId, id: RefundId) -> Result<(), AppError> {
    p.require_platform_admin()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let r = store::refund_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("refund", id))?;
    if r.status != "held" {
        return Err(AppError::Conflict(format!("refund {id} is {}, not held", r.status)));
    }
    store::refund_release(&mut tx, id, &p.subject).await?;
    // A dedupe key of its own: the first run's job is done and kept for a while.
    let job = job(REFUND_JOB, tenant, serde_json::json!({ "refund_id": id }), format!("refund:{id}:released"));
    mirai_events::jobs::enqueue(&mut tx, job).await?;
    tx.commit().await?;
    Ok(())
}
