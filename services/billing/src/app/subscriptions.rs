//! Subscription orders (per seat per month or year), paid period by period. Period 1 is
//! the order's own payment; each later period is a payment of its own (ledger entries,
//! receipt, `billing.payment.succeeded.v1`), and every change of the schedule is a
//! `billing.subscription.changed.v1` marketplace renews the license from.
//! - **Stripe** runs the schedule: billing creates a Stripe Subscription (the order's
//!   seats as the quantity of a plan per course, currency, interval and price) charged to
//!   the buyer's card; Stripe invoices each period, and its invoice and subscription
//!   webhooks queue a sync job that reads the invoice and subscription back from Stripe
//!   (so events arriving late, twice or out of order settle the same way) and records a
//!   paid invoice as its period's payment, once (an invoice is one period).
//!   Reconciliation replays Stripe's `invoice.payment_succeeded` log through the same sync.
//! - **manual**: when a period is paid, a job raises the next period's invoice (a payment
//!   awaiting a platform admin) `RENEWAL_LEAD_SECS` before the paid period ends.
//!
//! Renewal stops at the period's end when the buyer turns auto-renew off (a command from
//! marketplace), and at once when the license is revoked.

use chrono::{DateTime, Months, Utc};
use futures::future::BoxFuture;
use mirai_contracts::{
    events::billing::{SetRenewal, SubscriptionChanged},
    events::marketplace::LicenseChanged,
    ids::{SubscriptionId, TenantId},
};
use mirai_events::{
    Cx, EventMeta, HandleError, NewEvent,
    jobs::{self, Job, JobHandler},
    outbox,
};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{
    AppState,
    app::payments::{self, system},
    gateway::{Gateway, GatewayError, InvoiceAt, State},
    store::{self, PaymentRow, SubscriptionRow},
};

/// Reads a subscription (and one of its invoices) back from Stripe and applies it.
pub const SYNC_JOB: &str = "sync-subscription";
/// `manual`: raises the next period's invoice ahead of the paid period's end.
pub const RENEW_JOB: &str = "renew-subscription";
/// Tells Stripe to stop (or resume) renewal, or to end a subscription now.
pub const UPDATE_JOB: &str = "update-subscription";

/// When period `n` (counted from 1) ends.
pub fn period_end(anchor: DateTime<Utc>, interval: &str, n: i32) -> Option<DateTime<Utc>> {
    let months = if interval == "year" { 12 } else { 1 };
    anchor.checked_add_months(Months::new(months * u32::try_from(n).ok()?))
}

fn changed(s: &SubscriptionRow) -> NewEvent {
    SubscriptionChanged {
        tenant_id: s.tenant_id,
        subscription_id: s.id,
        order_id: s.order_id,
        status: s.status.clone(),
        cancel_at_period_end: s.cancel_at_period_end,
        periods_paid: s.periods_paid,
        paid_through: s.paid_through,
        interval: s.interval.clone(),
        at: Utc::now(),
    }
    .into()
}

/// Saves `next` when it differs from `before`, with its event.
async fn save(
    tx: &mut PgConnection,
    before: &SubscriptionRow,
    next: SubscriptionRow,
    meta: &EventMeta,
) -> Result<SubscriptionRow, HandleError> {
    let same = before.status == next.status
        && before.cancel_at_period_end == next.cancel_at_period_end
        && before.periods_paid == next.periods_paid
        && before.paid_through == next.paid_through;
    if same {
        return Ok(next);
    }
    let saved = store::subscription_save(tx, &next).await?;
    outbox::enqueue(tx, crate::NAME, meta, changed(&saved)).await?;
    Ok(saved)
}

/// A period's payment succeeded (called by `payments::apply`, payment locked): the
/// subscription is paid through that period's end. Returns the events to publish.
pub async fn period_paid(tx: &mut PgConnection, p: &PaymentRow) -> Result<Vec<NewEvent>, HandleError> {
    let Some(id) = p.subscription_id else { return Ok(vec![]) };
    let Some(before) = store::subscription_get(tx, id, true).await? else { return Ok(vec![]) };
    let mut next = before.clone();
    let anchor = *next.anchor.get_or_insert_with(Utc::now);
    next.periods_paid = next.periods_paid.max(p.period);
    next.paid_through = period_end(anchor, &next.interval, next.periods_paid);
    if next.status != "canceled" {
        next.status = "active".into();
    }
    if next.periods_paid == before.periods_paid && next.status == before.status && before.anchor.is_some() {
        return Ok(vec![]);
    }
    let saved = store::subscription_save(tx, &next).await?;
    if saved.provider == "manual" && saved.status == "active" && !saved.cancel_at_period_end {
        plan_renewal(tx, &saved, None).await?;
    }
    Ok(vec![changed(&saved)])
}

/// The order's first period failed: the subscription never starts.
pub async fn first_period_failed(tx: &mut PgConnection, p: &PaymentRow) -> Result<Vec<NewEvent>, HandleError> {
    let Some(id) = p.subscription_id.filter(|_| p.period == 1) else { return Ok(vec![]) };
    let Some(before) = store::subscription_get(tx, id, true).await? else { return Ok(vec![]) };
    if before.status == "canceled" || before.periods_paid > 0 {
        return Ok(vec![]);
    }
    let next = SubscriptionRow { status: "canceled".into(), canceled_at: Some(Utc::now()), ..before };
    let saved = store::subscription_save(tx, &next).await?;
    Ok(vec![changed(&saved)])
}

/// Queues the decision about the next period's invoice (`manual`): the job places itself
/// at the right time, since only it knows the lead.
async fn plan_renewal(tx: &mut PgConnection, s: &SubscriptionRow, salt: Option<&str>) -> Result<(), sqlx::Error> {
    let period = s.periods_paid + 1;
    let salt = salt.unwrap_or_default();
    let key = format!("renew-plan:{}:{period}:{salt}", s.id);
    let payload = json!({ "subscription_id": s.id, "period": period, "salt": salt });
    let job = payments::job(RENEW_JOB, s.tenant_id, payload, key);
    jobs::enqueue(tx, job).await.map(drop)
}

// ---- Stripe --------------------------------------------------------------------------

/// Creates the order's subscription at Stripe and records its first invoice (the job of
/// the order's first payment, payment locked). Returns the state of the first period.
pub async fn create_at_stripe(
    tx: &mut PgConnection,
    stripe: &crate::gateway::Stripe,
    p: &PaymentRow,
    customer: &str,
) -> Result<State, GatewayError> {
    let Some(sub) = p.subscription_id else { return Err(GatewayError::Refused("not a subscription".into())) };
    let Some(pm) = p.payment_method.as_deref() else {
        return Ok(State::Declined(
            "a subscription is charged to a saved card each period: the order needs a payment_method".into(),
        ));
    };
    let db = |e: sqlx::Error| GatewayError::Transient(e.to_string());
    let sub_row = store::subscription_get(tx, sub, true)
        .await
        .map_err(db)?
        .ok_or_else(|| GatewayError::Refused(format!("subscription {sub} of payment {} is missing", p.id)))?;
    let lines = store::payment_lines(tx, p.id).await.map_err(db)?;
    let (Some(seats), Some(unit), Some(course)) = (lines.seats, lines.unit_amount, lines.course_id) else {
        return Err(GatewayError::Refused(format!("payment {} has no order lines", p.id)));
    };
    let new = crate::gateway::NewSubscription {
        subscription_id: sub.into(),
        payment_id: p.id.into(),
        order_id: p.order_id.into(),
        tenant_id: p.tenant_id.into(),
        customer,
        payment_method: pm,
        course_id: course.into(),
        seats: sub_row.seats.min(seats),
        unit_amount: unit,
        currency: &p.currency,
        interval: &sub_row.interval,
    };
    let at = stripe.create_subscription(&new).await?;
    store::subscription_set_ref(tx, sub, &at.provider_ref).await.map_err(db)?;
    let Some(invoice) = at.latest_invoice.as_deref() else { return Ok(State::Pending) };
    let invoice = stripe.invoice(invoice).await?;
    store::payment_invoiced(tx, p.id, &invoice.id, invoice.payment_intent.as_deref()).await.map_err(db)?;
    Ok(match (invoice.status.as_str(), invoice.payment_intent.as_deref()) {
        ("paid", _) => {
            store::invoice_recorded(tx, "stripe", &invoice.id).await.map_err(db)?;
            State::Succeeded
        }
        ("void", _) => State::Canceled,
        (_, Some(pi)) => match stripe.retrieve(pi).await? {
            // The first period was declined: the subscription must not charge later.
            State::Declined(m) => {
                stripe.cancel_subscription(&at.provider_ref).await?;
                State::Declined(m)
            }
            other => other,
        },
        _ => State::Pending,
    })
}

/// Our subscription status for Stripe's.
fn status_of(stripe_status: &str, periods_paid: i32) -> &'static str {
    match stripe_status {
        "active" | "trialing" if periods_paid > 0 => "active",
        "past_due" | "unpaid" => "past_due",
        "canceled" | "incomplete_expired" => "canceled",
        _ => "incomplete",
    }
}

/// Reads a subscription (and an invoice of it) back from Stripe and applies it: a paid
/// invoice becomes its period's payment (once), and the status and renewal follow
/// Stripe's. Returns whether a period was recorded now.
pub async fn sync(state: &AppState, sub_ref: &str, invoice: Option<&str>, via: &str) -> Result<bool, HandleError> {
    let Gateway::Stripe(stripe) = &state.gateway else { return Ok(false) };
    let transient = |e: GatewayError| HandleError::Transient(e.into());
    let at = match stripe.subscription(sub_ref).await {
        Ok(at) => at,
        Err(GatewayError::Refused(m)) => {
            tracing::warn!(subscription = sub_ref, error = %m, "Stripe has no such subscription");
            return Ok(false);
        }
        Err(e) => return Err(transient(e)),
    };
    let (Some(tenant), Some(id)) = (at.tenant_id, at.subscription_id) else {
        // Not one of ours (another integration on the same Stripe account).
        return Ok(false);
    };
    let invoice = match invoice {
        Some(i) => Some(stripe.invoice(i).await.map_err(transient)?),
        None => None,
    };
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let id = SubscriptionId::from(id);
    let Some(unlocked) = store::subscription_get(&mut tx, id, false).await? else {
        tracing::warn!(subscription = sub_ref, "a Stripe subscription names one billing does not have");
        return Ok(false);
    };
    // Payments first, then the subscription: the order every path locks them in.
    store::payments_lock_order(&mut tx, unlocked.order_id).await?;
    let before = store::subscription_get(&mut tx, id, true).await?.expect("read above");
    let customer = store::customer_get(&mut tx, "stripe").await?;
    match before.provider_ref.as_deref() {
        Some(r) if r == sub_ref => {}
        // The create job's answer was lost: this is the one it created, if it is the
        // tenant's customer's.
        None if before.provider == "stripe" && customer.is_some() && at.customer == customer => {
            store::subscription_set_ref(&mut tx, before.id, sub_ref).await?;
        }
        ours => {
            tracing::error!(subscription = %before.id, stripe = sub_ref, ?ours, "a Stripe subscription claims one of billing's that is not its own");
            return Ok(false);
        }
    }
    let mut recorded = false;
    if let Some(inv) = invoice.filter(|i| i.subscription.as_deref() == Some(sub_ref) && i.status == "paid") {
        recorded = record_paid_invoice(&mut tx, &before, &inv, via).await?;
        store::invoice_recorded(&mut tx, "stripe", &inv.id).await?;
    }
    let now = store::subscription_get(&mut tx, before.id, true).await?.expect("locked above");
    let mut next = now.clone();
    let theirs = status_of(&at.status, now.periods_paid);
    if now.status == "canceled" {
        // Billing ended it (its license was revoked or refunded whole); Stripe has not
        // heard yet: ask again.
        if theirs != "canceled" {
            tracing::error!(subscription = %now.id, stripe = sub_ref, "a subscription billing ended still runs at Stripe; ending it");
            end_at_stripe(&mut tx, &now).await?;
        }
    } else if theirs != "incomplete" || now.status == "incomplete" {
        // (Stripe still saying `incomplete` lags behind a period billing recorded.)
        next.status = theirs.to_owned();
    }
    if next.status == "canceled" && now.canceled_at.is_none() {
        next.canceled_at = Some(Utc::now());
    }
    // A change the buyer made that has not reached Stripe yet is newer than Stripe's word.
    if now.renewal_synced {
        next.cancel_at_period_end = at.cancel_at_period_end;
    }
    save(&mut tx, &now, next, &system("stripe")).await?;
    tx.commit().await?;
    Ok(recorded)
}

/// A paid invoice of the subscription (locked) as its period's payment, once.
async fn record_paid_invoice(
    tx: &mut PgConnection,
    sub: &SubscriptionRow,
    inv: &InvoiceAt,
    via: &str,
) -> Result<bool, HandleError> {
    let meta = system(if via == "reconciliation" { "billing" } else { "stripe" });
    if let Some(p) = store::payment_of_invoice(tx, &inv.id).await? {
        return payments::apply(tx, &p, &State::Succeeded, via, &meta).await;
    }
    // Only a new period's invoice is a renewal (not a proration or a one-off invoice).
    if inv.billing_reason.as_deref().is_some_and(|r| !matches!(r, "subscription_create" | "subscription_cycle")) {
        tracing::warn!(invoice = inv.id, reason = ?inv.billing_reason, "a subscription invoice that is no period; not recorded");
        return Ok(false);
    }
    let Some(first) = store::payment_of_order(tx, sub.order_id).await? else { return Ok(false) };
    if first.period == 1 && first.provider_invoice.is_none() && first.status != "succeeded" {
        // The first invoice, heard of before the create job recorded it.
        store::payment_invoiced(tx, first.id, &inv.id, inv.payment_intent.as_deref()).await?;
        let p = store::payment_get(tx, first.id, true).await?.expect("locked above");
        return payments::apply(tx, &p, &State::Succeeded, via, &meta).await;
    }
    if inv.amount_paid <= 0 {
        return Ok(false);
    }
    if sub.status == "canceled" {
        // Charged after billing ended it: the money is in and is booked; it is refunded
        // by whoever resolves the alert.
        tracing::error!(subscription = %sub.id, invoice = inv.id, "Stripe charged a period of a subscription billing had ended");
    }
    let new = store::NewPayment {
        tenant: first.tenant_id,
        order: first.order_id,
        provider_tenant: first.provider_tenant_id,
        amount: inv.amount_paid,
        currency: if inv.currency.is_empty() { &first.currency } else { &inv.currency },
        share_bps: first.revenue_share_bps,
        payment_method: first.payment_method.as_deref(),
        provider: &first.provider,
        subscription: Some(sub.id),
        period: first.period + 1,
    };
    let Some(p) = store::payment_insert(tx, &new).await? else { return Ok(false) };
    store::payment_copy_lines(tx, first.id, p.id).await?;
    store::payment_invoiced(tx, p.id, &inv.id, inv.payment_intent.as_deref()).await?;
    let p = store::payment_get(tx, p.id, true).await?.expect("inserted above");
    payments::apply(tx, &p, &State::Succeeded, via, &meta).await
}

/// The sync job: `{ "subscription": "sub_…", "invoice": "in_…" | null }`.
pub struct Sync {
    pub state: AppState,
}

impl Sync {
    async fn run(&self, _tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let Some(sub) = job.payload["subscription"].as_str() else {
            return Err(HandleError::Permanent("a sync without a subscription".into()));
        };
        sync(&self.state, sub, job.payload["invoice"].as_str(), "webhook").await.map(drop)
    }
}

impl JobHandler for Sync {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Sync::run(self, tx, job))
    }
}

/// Queues a sync for a Stripe event about a subscription or one of its invoices.
pub async fn queue_sync(
    tx: &mut PgConnection,
    event_id: &str,
    sub_ref: &str,
    invoice: Option<&str>,
) -> Result<(), sqlx::Error> {
    let job = mirai_events::jobs::NewJob {
        dedupe_key: Some(format!("sync-subscription:{event_id}")),
        max_attempts: 12,
        ..mirai_events::jobs::NewJob::new(SYNC_JOB, json!({ "subscription": sub_ref, "invoice": invoice }))
    };
    jobs::enqueue(tx, job).await.map(drop)
}

/// The update job: `{ "subscription_id", "cancel_at_period_end" | "end_now", "key" }`.
pub struct Update {
    pub state: AppState,
}

impl Update {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let Some(id) = job.payload["subscription_id"].as_str().and_then(|s| s.parse().ok()) else {
            return Err(HandleError::Permanent("an update without a subscription_id".into()));
        };
        let Some(s) = store::subscription_get(tx, id, true).await? else { return Ok(()) };
        let (Gateway::Stripe(stripe), Some(r)) = (&self.state.gateway, s.provider_ref.as_deref()) else {
            return Ok(());
        };
        let fail = |e: GatewayError| match e {
            GatewayError::Transient(m) => HandleError::Transient(anyhow::anyhow!(m)),
            GatewayError::Refused(m) => HandleError::Permanent(m),
        };
        let key = job.payload["key"].as_str().unwrap_or_default();
        if job.payload["end_now"] == true {
            return stripe.cancel_subscription(r).await.map_err(fail);
        }
        if let Some(seats) = job.payload["seats"].as_i64().and_then(|n| i32::try_from(n).ok()) {
            return stripe.set_quantity(r, seats, key).await.map_err(fail);
        }
        let Some(cancel) = job.payload["cancel_at_period_end"].as_bool() else {
            return Err(HandleError::Permanent("an update that says nothing".into()));
        };
        stripe.set_cancel_at_period_end(r, cancel, key).await.map_err(fail)?;
        // Stripe has the buyer's word now (unless a newer one is on its way).
        if s.cancel_at_period_end == cancel && !s.renewal_synced {
            store::subscription_save(tx, &SubscriptionRow { renewal_synced: true, ..s }).await?;
        }
        Ok(())
    }
}

impl JobHandler for Update {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Update::run(self, tx, job))
    }
}

// ---- manual --------------------------------------------------------------------------

/// `{ "subscription_id", "period", "due" }`: not due yet, it places a due copy of itself
/// `RENEWAL_LEAD_SECS` before the paid period ends; due, it raises the period's invoice
/// (a payment awaiting a platform admin) unless renewal stopped or it is paid.
pub struct Renew {
    pub state: AppState,
}

impl Renew {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let (Some(id), Some(period)) = (
            job.payload["subscription_id"].as_str().and_then(|s| s.parse::<SubscriptionId>().ok()),
            job.payload["period"].as_i64().and_then(|n| i32::try_from(n).ok()),
        ) else {
            return Err(HandleError::Permanent("a renewal without a subscription_id and period".into()));
        };
        let Some(s) = store::subscription_get(tx, id, false).await? else { return Ok(()) };
        store::payments_lock_order(tx, s.order_id).await?;
        let s = store::subscription_get(tx, id, true).await?.expect("read above");
        if s.status != "active" || s.cancel_at_period_end || s.periods_paid >= period {
            return Ok(());
        }
        if job.payload["due"] != true {
            let lead = chrono::Duration::from_std(self.state.settings.renewal_lead)
                .map_err(|e| HandleError::Permanent(e.to_string()))?;
            let salt = job.payload["salt"].as_str().unwrap_or_default();
            let mut due = payments::job(
                RENEW_JOB,
                s.tenant_id,
                json!({ "subscription_id": id, "period": period, "due": true }),
                format!("renew:{id}:{period}:{salt}"),
            );
            due.run_at = s.paid_through.map_or_else(Utc::now, |t| t - lead);
            jobs::enqueue(tx, due).await?;
            return Ok(());
        }
        let Some(last) = store::payment_of_order(tx, s.order_id).await? else { return Ok(()) };
        if last.period >= period {
            return Ok(());
        }
        // The seats charged now (fewer if some were taken back), at the order's price.
        let unit = store::payment_lines(tx, last.id).await?.unit_amount.unwrap_or(0);
        let amount = unit * i64::from(s.seats);
        if amount <= 0 {
            return Ok(());
        }
        let new = store::NewPayment {
            tenant: last.tenant_id,
            order: last.order_id,
            provider_tenant: last.provider_tenant_id,
            amount,
            currency: &last.currency,
            share_bps: last.revenue_share_bps,
            payment_method: None,
            provider: "manual",
            subscription: Some(id),
            period,
        };
        if let Some(p) = store::payment_insert(tx, &new).await? {
            store::payment_copy_lines(tx, last.id, p.id).await?;
            store::payment_created(tx, p.id, &format!("manual_{}", p.id.as_uuid().simple()), None).await?;
        }
        Ok(())
    }
}

impl JobHandler for Renew {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Renew::run(self, tx, job))
    }
}

// ---- what marketplace says -----------------------------------------------------------

/// The buyer stopped (or resumed) renewal of a subscription license.
pub async fn on_set_renewal(cx: Cx<'_>, c: SetRenewal) -> Result<(), HandleError> {
    store::payments_lock_order(cx.tx, c.order_id).await?;
    let Some(before) = store::subscription_of_order(cx.tx, c.order_id).await? else {
        tracing::warn!(order = %c.order_id, "renewal set for an order billing has no subscription of");
        return Ok(());
    };
    if before.status == "canceled" {
        return Ok(());
    }
    if before.cancel_at_period_end != c.auto_renew {
        return Ok(());
    }
    let stripe = before.provider == "stripe";
    let next = SubscriptionRow { cancel_at_period_end: !c.auto_renew, renewal_synced: !stripe, ..before.clone() };
    let meta = cx.following();
    let saved = save(cx.tx, &before, next, &meta).await?;
    let key = cx.envelope.id.to_string();
    if stripe {
        let payload = json!({ "subscription_id": saved.id, "key": key, "cancel_at_period_end": !c.auto_renew });
        let job = payments::job(UPDATE_JOB, saved.tenant_id, payload, format!("update-subscription:{key}"));
        jobs::enqueue(cx.tx, job).await?;
    } else if c.auto_renew && saved.status == "active" {
        plan_renewal(cx.tx, &saved, Some(&key)).await?;
    } else if !c.auto_renew {
        // The next period's invoice, raised already, is withdrawn.
        cancel_open_period(cx.tx, &saved, 2).await?;
    }
    Ok(())
}

/// Cancels the order's latest period if it is invoiced and unpaid (and at least `from`).
async fn cancel_open_period(tx: &mut PgConnection, s: &SubscriptionRow, from: i32) -> Result<(), sqlx::Error> {
    if let Some(open) = store::payment_of_order(tx, s.order_id).await?
        && open.period >= from
        && matches!(open.status.as_str(), "creating" | "requires_action")
    {
        let job = payments::job(
            payments::CANCEL_JOB,
            open.tenant_id,
            json!({ "payment_id": open.id }),
            format!("cancel-payment:{}", open.id),
        );
        jobs::enqueue(tx, job).await?;
    }
    Ok(())
}

/// Asks Stripe to end the subscription now.
async fn end_at_stripe(tx: &mut PgConnection, s: &SubscriptionRow) -> Result<(), sqlx::Error> {
    if s.provider != "stripe" {
        return Ok(());
    }
    let job = payments::job(
        UPDATE_JOB,
        s.tenant_id,
        json!({ "subscription_id": s.id, "end_now": true }),
        format!("end-subscription:{}:{}", s.id, Utc::now().timestamp()),
    );
    jobs::enqueue(tx, job).await.map(drop)
}

/// Ends the order's subscription now, if it has one: its unpaid period is canceled and
/// the provider charges nothing more.
pub async fn end_now(
    tx: &mut PgConnection,
    order: mirai_contracts::ids::OrderId,
    meta: &EventMeta,
) -> Result<(), HandleError> {
    store::payments_lock_order(tx, order).await?;
    let Some(before) = store::subscription_of_order(tx, order).await? else { return Ok(()) };
    if before.status == "canceled" {
        return Ok(());
    }
    let next = SubscriptionRow { status: "canceled".into(), canceled_at: Some(Utc::now()), ..before.clone() };
    let saved = save(tx, &before, next, meta).await?;
    cancel_open_period(tx, &saved, 1).await?;
    end_at_stripe(tx, &saved).await?;
    Ok(())
}

/// A revoked license ends its subscription now; one with seats taken back is charged for
/// the seats left from the next period on.
pub async fn on_license_changed(cx: Cx<'_>, e: LicenseChanged) -> Result<(), HandleError> {
    let Some(unlocked) = store::subscription_of_license(cx.tx, e.license_id.into()).await? else { return Ok(()) };
    let meta = cx.following();
    if e.status == "revoked" {
        return end_now(cx.tx, unlocked.order_id, &meta).await;
    }
    store::payments_lock_order(cx.tx, unlocked.order_id).await?;
    let before = store::subscription_get(cx.tx, unlocked.id, true).await?.expect("read above");
    if before.status == "canceled" || before.seats == e.seats {
        return Ok(());
    }
    let saved = store::subscription_save(cx.tx, &SubscriptionRow { seats: e.seats, ..before }).await?;
    if saved.provider == "manual"
        && let Some(open) = store::payment_of_order(cx.tx, saved.order_id).await?
        && open.period > 1
        && matches!(open.status.as_str(), "creating" | "requires_action")
    {
        // The next period's invoice, raised already and not paid, is for the seats left.
        let unit = store::payment_lines(cx.tx, open.id).await?.unit_amount.unwrap_or(0);
        let amount = unit * i64::from(e.seats);
        if amount > 0 {
            store::payment_reprice(cx.tx, open.id, amount).await?;
        }
    }
    if saved.provider == "stripe" {
        let key = cx.envelope.id.to_string();
        let payload = json!({ "subscription_id": saved.id, "key": key, "seats": e.seats });
        let job = payments::job(UPDATE_JOB, saved.tenant_id, payload, format!("update-subscription:{key}"));
        jobs::enqueue(cx.tx, job).await?;
    }
    Ok(())
}

// ---- the API -------------------------------------------------------------------------

/// A subscription as its buyer's admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Subscription {
    #[schema(value_type = uuid::Uuid)]
    pub id: SubscriptionId,
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub order_id: mirai_contracts::ids::OrderId,
    /// `stripe` or `manual`.
    pub provider: String,
    /// The provider's subscription (`sub_…`).
    pub provider_ref: Option<String>,
    /// `month` or `year`.
    pub interval: String,
    /// `incomplete`, `active`, `past_due` or `canceled`.
    pub status: String,
    /// Renewal stopped: it ends at `paid_through`.
    pub cancel_at_period_end: bool,
    pub periods_paid: i32,
    pub paid_through: Option<DateTime<Utc>>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SubscriptionRow> for Subscription {
    fn from(r: SubscriptionRow) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            order_id: r.order_id,
            provider: r.provider,
            provider_ref: r.provider_ref,
            interval: r.interval,
            status: r.status,
            cancel_at_period_end: r.cancel_at_period_end,
            periods_paid: r.periods_paid,
            paid_through: r.paid_through,
            canceled_at: r.canceled_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The tenant's subscriptions, newest first (its org admins).
pub async fn list(state: &AppState, p: &Principal, page: PageParams) -> Result<Page<Subscription>, AppError> {
    let tenant = p.own_tenant(&[Role::OrgAdmin])?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::subscriptions_list(&mut tx, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}
