//! What billing consumes: marketplace's orders (a placed order gets its payment, a
//! canceled one loses it, a granted license marks its payment provisioned) and the
//! refunds and renewal changes marketplace commands (a revoked license ends its
//! subscription).

use mirai_contracts::events::{
    billing::RefundPayment,
    marketplace::{LicenseGranted, OrderCanceled, OrderPlaced},
};
use mirai_events::{ConsumerSpec, Cx, HandleError, jobs};
use serde_json::json;

use crate::{
    AppState,
    app::{
        payments::{self, CANCEL_JOB, CREATE_JOB, REFUND_JOB},
        reconcile::CHECK_JOB,
        subscriptions,
    },
    store,
};

pub const CONSUMERS: &[(&str, &str)] = &[("marketplace", "billing-orders"), ("cmd", "billing-commands")];

async fn on_placed(cx: Cx<'_, AppState>, e: OrderPlaced) -> Result<(), HandleError> {
    if e.amount == 0 {
        return Ok(());
    }
    // A subscription is paid period by period; this is its first.
    let subscription = match (e.pricing.as_str(), e.interval.as_deref()) {
        ("subscription", Some(interval)) => {
            let provider = cx.state.gateway.name();
            match store::subscription_insert(cx.tx, e.tenant_id, e.order_id, provider, interval, e.seats).await? {
                Some(s) => Some(s.id),
                None => store::subscription_of_order(cx.tx, e.order_id).await?.map(|s| s.id),
            }
        }
        _ => None,
    };
    let new = store::NewPayment {
        tenant: e.tenant_id,
        order: e.order_id,
        provider_tenant: e.provider_tenant_id,
        amount: e.amount,
        currency: &e.currency,
        share_bps: e.revenue_share_bps,
        payment_method: e.payment_method.as_deref(),
        provider: cx.state.gateway.name(),
        subscription,
        period: 1,
    };
    if let Some(p) = store::payment_insert(cx.tx, &new).await? {
        let interval = e.interval.as_deref();
        store::payment_lines_set(cx.tx, p.id, e.seats, e.unit_amount, e.course_id, &e.pricing, interval).await?;
        let job =
            payments::job(CREATE_JOB, e.tenant_id, json!({ "payment_id": p.id }), format!("create-payment:{}", p.id));
        jobs::enqueue(cx.tx, job).await?;
    }
    Ok(())
}

async fn on_canceled(cx: Cx<'_>, e: OrderCanceled) -> Result<(), HandleError> {
    if let Some(p) = store::payment_of_order(cx.tx, e.order_id).await? {
        let job =
            payments::job(CANCEL_JOB, e.tenant_id, json!({ "payment_id": p.id }), format!("cancel-payment:{}", p.id));
        jobs::enqueue(cx.tx, job).await?;
    }
    Ok(())
}

/// A license exists for the order: if its payment has not succeeded, the provider is
/// asked about it after a grace period (`reconcile::CheckUnpaid`).
async fn on_granted(cx: Cx<'_, AppState>, e: LicenseGranted) -> Result<(), HandleError> {
    let provisioned = store::payment_provisioned(cx.tx, e.order_id).await?;
    // After the payment: payments are locked before their subscription on every path.
    store::subscription_set_license(cx.tx, e.order_id, e.license_id.into()).await?;
    if let Some(p) = provisioned
        && p.status != "succeeded"
    {
        let grace =
            chrono::Duration::from_std(cx.state.settings.unpaid_grace).map_err(|e| HandleError::Transient(e.into()))?;
        let mut job =
            payments::job(CHECK_JOB, p.tenant_id, json!({ "payment_id": p.id }), format!("check-unpaid:{}", p.id));
        job.run_at = chrono::Utc::now() + grace;
        jobs::enqueue(cx.tx, job).await?;
    }
    Ok(())
}

async fn on_refund(cx: Cx<'_>, c: RefundPayment) -> Result<(), HandleError> {
    // All of it back (the order failed, or was taken back whole): a subscription ends now
    // and nothing more is charged. (First: it locks the order's payments in order.)
    if c.amount.is_none() {
        subscriptions::end_now(cx.tx, c.order_id, &cx.following()).await?;
    }
    // A subscription's refund gives back its latest paid period.
    let p = match store::payment_of_order_paid(cx.tx, c.order_id).await? {
        Some(p) => Some(p),
        None => store::payment_of_order(cx.tx, c.order_id).await?,
    };
    let Some(p) = p else {
        tracing::warn!(order = %c.order_id, "a refund for an order billing has no payment of");
        return Ok(());
    };
    if c.amount.is_some_and(|a| a <= 0) {
        return Err(HandleError::Permanent("a refund of nothing".into()));
    }
    if let Some(id) =
        store::refund_insert(cx.tx, c.tenant_id, p.id, c.amount, &c.reason, &c.requested_by, cx.envelope.id).await?
    {
        let job = payments::job(REFUND_JOB, c.tenant_id, json!({ "refund_id": id }), format!("refund:{id}"));
        jobs::enqueue(cx.tx, job).await?;
    }
    Ok(())
}

pub fn consumers(state: &AppState) -> Vec<ConsumerSpec> {
    let state = std::sync::Arc::new(state.clone());
    vec![
        ConsumerSpec::new("billing-orders")
            .on_with(&state, on_placed)
            .on(on_canceled)
            .on_with(&state, on_granted)
            .on(subscriptions::on_license_changed),
        ConsumerSpec::new("billing-commands").on(on_refund).on(subscriptions::on_set_renewal),
    ]
}
