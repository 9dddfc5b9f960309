//! Payloads billing publishes (payments of orders, their refunds, what reconciliation
//! healed) and the command it takes (a refund asked by marketplace).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{DocumentId, OrderId, PaymentId, PayoutId, PayoutRunId, RefundId, SubscriptionId, TenantId},
};

/// An order's payment succeeded: the money is taken and booked in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSucceeded {
    /// The buyer.
    pub tenant_id: TenantId,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    /// `stripe` or `manual`.
    pub provider: String,
    /// The provider's id of the payment (a Stripe `pi_…`).
    pub provider_ref: String,
    /// How billing learned it: `api` (the provider's answer), `webhook`,
    /// `reconciliation` (a missed webhook healed) or `manual` (a platform admin).
    pub via: String,
    pub at: DateTime<Utc>,
}

event!(PaymentSucceeded, "billing.payment.succeeded.v1", aggregate = payment_id, tenant = tenant_id);

/// An order's payment failed or was canceled; nothing was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentFailed {
    pub tenant_id: TenantId,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    /// `declined`, `canceled` or `provider_error`.
    pub reason: String,
    /// The provider's message, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

event!(PaymentFailed, "billing.payment.failed.v1", aggregate = payment_id, tenant = tenant_id);

/// (Part of) a payment went back to the buyer, and the ledger reversed it in proportion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRefunded {
    pub tenant_id: TenantId,
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    /// Minor units, this refund only.
    pub amount: i64,
    /// Everything refunded of the payment so far.
    pub refunded_total: i64,
    pub currency: String,
    pub provider_ref: String,
    pub at: DateTime<Utc>,
}

event!(PaymentRefunded, "billing.payment.refunded.v1", aggregate = payment_id, tenant = tenant_id);

/// Reconciliation found billing and the payment provider disagreeing and healed it:
/// `paid_not_provisioned` (the provider took the money, billing had missed it: the
/// payment is now succeeded and its order is provisioned) or `provisioned_not_paid` (a
/// license exists for an order the provider never got paid for: marketplace revokes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationHealed {
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    pub kind: String,
    pub detail: String,
    pub at: DateTime<Utc>,
}

event!(ReconciliationHealed, "billing.reconciliation.healed.v1", aggregate = order_id, tenant = tenant_id);

/// A command to billing: refund an order's payment, all of it or `amount`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundPayment {
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    /// Minor units; none: what remains of the payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// `listing_unavailable`, `canceled_after_payment`, `seats_returned` or `requested`.
    pub reason: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

event!(RefundPayment, "cmd.billing.refund.v1", aggregate = order_id, tenant = tenant_id);

/// A subscription order's recurring payment changed: a period was paid (`periods_paid`
/// went up and `paid_through` moved on), a renewal failed (`past_due`), the buyer stopped
/// or resumed renewal (`cancel_at_period_end`), or it ended (`canceled`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionChanged {
    /// The buyer.
    pub tenant_id: TenantId,
    pub subscription_id: SubscriptionId,
    pub order_id: OrderId,
    /// `incomplete` (the first period is not paid yet), `active`, `past_due` (a renewal
    /// was not paid; the license lapses at `paid_through` unless it is) or `canceled`.
    pub status: String,
    /// Renewal is stopped: the subscription ends at `paid_through`.
    pub cancel_at_period_end: bool,
    /// Periods paid so far (1 once the order's own payment succeeded).
    pub periods_paid: i32,
    /// The end of the last paid period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_through: Option<DateTime<Utc>>,
    /// `month` or `year`.
    pub interval: String,
    pub at: DateTime<Utc>,
}

event!(SubscriptionChanged, "billing.subscription.changed.v1", aggregate = subscription_id, tenant = tenant_id);

/// A command to billing: stop (or resume) renewing a subscription order at the end of the
/// period paid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRenewal {
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub auto_renew: bool,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

event!(SetRenewal, "cmd.billing.renewal.v1", aggregate = order_id, tenant = tenant_id);

/// A payout to a course provider was made or failed: `paid` (transferred through Stripe
/// Connect), `exported` (in the run's CSV for the bank) or `failed` (the balance is owed
/// again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutChanged {
    /// The provider.
    pub tenant_id: TenantId,
    pub payout_id: PayoutId,
    pub run_id: PayoutRunId,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    /// `stripe_connect` or `csv`.
    pub method: String,
    pub status: String,
    pub at: DateTime<Utc>,
}

event!(PayoutChanged, "billing.payout.changed.v1", aggregate = payout_id, tenant = tenant_id);

/// A receipt (for a successful payment) or a credit note (for a refund) was issued to the
/// buyer, numbered without gaps per issuer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentIssued {
    pub tenant_id: TenantId,
    pub document_id: DocumentId,
    /// `receipt` or `credit_note`.
    pub kind: String,
    /// The issuer's number, e.g. `MIR-00000042`.
    pub number: String,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    /// Minor units.
    pub amount: i64,
    pub currency: String,
    pub at: DateTime<Utc>,
}

event!(DocumentIssued, "billing.document.issued.v1", aggregate = document_id, tenant = tenant_id);
