//! billing's tables. Tenant tables (customers, payments, refunds) are read and written in
//! the caller's tenant transaction (RLS); the provider's webhook log and the ledger
//! are platform-wide.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{
    CourseId, DocumentId, OrderId, PaymentId, PayoutId, PayoutRunId, RefundId, SubscriptionId, TenantId,
};
use mirai_kit::pagination::Cursor;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

pub async fn customer_get(tx: &mut PgConnection, provider: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT provider_ref FROM customers WHERE provider = $1").bind(provider).fetch_optional(tx).await
}

pub async fn customer_put(tx: &mut PgConnection, tenant: TenantId, provider: &str, r: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO customers (tenant_id, provider, provider_ref) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(tenant)
        .bind(provider)
        .bind(r)
        .execute(tx)
        .await?;
    Ok(())
}

pub const PAYMENT: &str = "id, tenant_id, order_id, provider_tenant_id, amount, currency, revenue_share_bps, \
     payment_method, provider, provider_ref, client_secret, status, failure, refunded, provisioned_at, succeeded_at, \
     created_at, updated_at, subscription_id, period, provider_invoice, processor_fee";

#[derive(Debug, Clone, FromRow)]
pub struct PaymentRow {
    pub id: PaymentId,
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub provider_tenant_id: TenantId,
    pub amount: i64,
    pub currency: String,
    pub revenue_share_bps: i32,
    pub payment_method: Option<String>,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub client_secret: Option<String>,
    pub status: String,
    pub failure: Option<String>,
    pub refunded: i64,
    pub provisioned_at: Option<DateTime<Utc>>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The subscription a period's payment belongs to.
    pub subscription_id: Option<SubscriptionId>,
    /// The period it pays (1: the order's own payment).
    pub period: i32,
    /// The provider's invoice it was paid by (subscriptions).
    pub provider_invoice: Option<String>,
    /// What the provider kept of it, once booked.
    pub processor_fee: Option<i64>,
}

/// What an order asks to be paid.
pub struct NewPayment<'a> {
    pub tenant: TenantId,
    pub order: OrderId,
    pub provider_tenant: TenantId,
    pub amount: i64,
    pub currency: &'a str,
    pub share_bps: i32,
    pub payment_method: Option<&'a str>,
    pub provider: &'a str,
    pub subscription: Option<SubscriptionId>,
    pub period: i32,
}

/// The order's payment for a period, created once (None when it existed already).
pub async fn payment_insert(tx: &mut PgConnection, p: &NewPayment<'_>) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO payments (id, tenant_id, order_id, provider_tenant_id, amount, currency, revenue_share_bps, \
         payment_method, provider, status, subscription_id, period) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'creating', $10, $11) \
         ON CONFLICT (order_id, period) DO NOTHING RETURNING {PAYMENT}"
    ))
    .bind(PaymentId::new())
    .bind(p.tenant)
    .bind(p.order)
    .bind(p.provider_tenant)
    .bind(p.amount)
    .bind(p.currency)
    .bind(p.share_bps)
    .bind(p.payment_method)
    .bind(p.provider)
    .bind(p.subscription)
    .bind(p.period)
    .fetch_optional(tx)
    .await
}

pub async fn payment_get(tx: &mut PgConnection, id: PaymentId, lock: bool) -> Result<Option<PaymentRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {PAYMENT} FROM payments WHERE id = $1{lock}")).bind(id).fetch_optional(tx).await
}

/// The order's payment of its latest period.
pub async fn payment_of_order(tx: &mut PgConnection, order: OrderId) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PAYMENT} FROM payments WHERE order_id = $1 ORDER BY period DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(order)
    .fetch_optional(tx)
    .await
}

/// The payment the provider knows as `provider_ref` (locked).
pub async fn payment_by_ref(tx: &mut PgConnection, provider_ref: &str) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {PAYMENT} FROM payments WHERE provider_ref = $1 FOR UPDATE"))
        .bind(provider_ref)
        .fetch_optional(tx)
        .await
}

/// The order's latest period that was paid (what a refund of the order gives back).
pub async fn payment_of_order_paid(tx: &mut PgConnection, order: OrderId) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PAYMENT} FROM payments WHERE order_id = $1 AND status = 'succeeded' ORDER BY period DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(order)
    .fetch_optional(tx)
    .await
}

pub async fn payments_list(
    tx: &mut PgConnection,
    order: Option<OrderId>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PAYMENT} FROM payments WHERE ($1::uuid IS NULL OR order_id = $1) \
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(order)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

pub async fn payment_created(
    tx: &mut PgConnection,
    id: PaymentId,
    provider_ref: &str,
    client_secret: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET provider_ref = $2, client_secret = $3, status = 'requires_action', updated_at = now() \
         WHERE id = $1 AND status = 'creating'",
    )
    .bind(id)
    .bind(provider_ref)
    .bind(client_secret)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn payment_set_status(
    tx: &mut PgConnection,
    id: PaymentId,
    status: &str,
    failure: Option<&str>,
) -> Result<PaymentRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE payments SET status = $2, failure = $3, \
         succeeded_at = CASE WHEN $2 = 'succeeded' THEN now() ELSE succeeded_at END, updated_at = now() \
         WHERE id = $1 RETURNING {PAYMENT}"
    ))
    .bind(id)
    .bind(status)
    .bind(failure)
    .fetch_one(tx)
    .await
}

pub async fn payment_refunded(tx: &mut PgConnection, id: PaymentId, amount: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE payments SET refunded = refunded + $2, updated_at = now() WHERE id = $1 RETURNING refunded",
    )
    .bind(id)
    .bind(amount)
    .fetch_one(tx)
    .await
}

pub async fn payment_provisioned(tx: &mut PgConnection, order: OrderId) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE payments SET provisioned_at = COALESCE(provisioned_at, now()), updated_at = now() \
         WHERE order_id = $1 AND period = 1 RETURNING {PAYMENT}"
    ))
    .bind(order)
    .fetch_optional(tx)
    .await
}

/// Records the provider's invoice (and its PaymentIntent) a period is paid by.
pub async fn payment_invoiced(
    tx: &mut PgConnection,
    id: PaymentId,
    invoice: &str,
    provider_ref: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET provider_invoice = $2, provider_ref = COALESCE(provider_ref, $3), \
         status = CASE WHEN status = 'creating' THEN 'requires_action' ELSE status END, updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(invoice)
    .bind(provider_ref)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn payment_of_invoice(tx: &mut PgConnection, invoice: &str) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {PAYMENT} FROM payments WHERE provider_invoice = $1 FOR UPDATE"))
        .bind(invoice)
        .fetch_optional(tx)
        .await
}

pub async fn payment_fee_booked(tx: &mut PgConnection, id: PaymentId, fee: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payments SET processor_fee = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(fee)
        .execute(tx)
        .await?;
    Ok(())
}

/// Re-prices an invoiced, unpaid `manual` payment (its order's seats changed).
pub async fn payment_reprice(tx: &mut PgConnection, id: PaymentId, amount: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET amount = $2, updated_at = now() \
         WHERE id = $1 AND provider = 'manual' AND status IN ('creating', 'requires_action')",
    )
    .bind(id)
    .bind(amount)
    .execute(tx)
    .await?;
    Ok(())
}

/// Locks every payment of an order. Locks are taken payments first, then the
/// subscription, on every path.
pub async fn payments_lock_order(tx: &mut PgConnection, order: OrderId) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT id FROM payments WHERE order_id = $1 ORDER BY period FOR UPDATE")
        .bind(order)
        .execute(tx)
        .await?;
    Ok(())
}

/// A period's payment: its lines are the order's (copied from its first period).
pub async fn payment_copy_lines(tx: &mut PgConnection, from: PaymentId, to: PaymentId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments t SET seats = f.seats, unit_amount = f.unit_amount, course_id = f.course_id, \
         pricing = f.pricing, billing_interval = f.billing_interval FROM payments f WHERE f.id = $1 AND t.id = $2",
    )
    .bind(from)
    .bind(to)
    .execute(tx)
    .await?;
    Ok(())
}

/// Notes that a provider invoice is recorded as a period's payment (platform-wide).
pub async fn invoice_recorded(tx: &mut PgConnection, provider: &str, invoice: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO recorded_invoices (provider, invoice) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(provider)
        .bind(invoice)
        .execute(tx)
        .await?;
    Ok(())
}

/// Of `invoices`, those not recorded yet.
pub async fn invoices_unrecorded(
    tx: &mut PgConnection,
    provider: &str,
    invoices: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT i FROM unnest($2::text[]) AS i WHERE NOT EXISTS \
         (SELECT 1 FROM recorded_invoices r WHERE r.provider = $1 AND r.invoice = i)",
    )
    .bind(provider)
    .bind(invoices)
    .fetch_all(tx)
    .await
}

// ---- subscriptions -------------------------------------------------------------------

pub const SUBSCRIPTION: &str = "id, tenant_id, order_id, provider, provider_ref, interval, status, \
     cancel_at_period_end, anchor, periods_paid, paid_through, canceled_at, created_at, updated_at, seats, \
     renewal_synced";

#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionRow {
    pub id: SubscriptionId,
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub interval: String,
    pub status: String,
    pub cancel_at_period_end: bool,
    pub anchor: Option<DateTime<Utc>>,
    pub periods_paid: i32,
    pub paid_through: Option<DateTime<Utc>>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub seats: i32,
    pub renewal_synced: bool,
}

/// The order's subscription, created once (None when it existed already).
pub async fn subscription_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    order: OrderId,
    provider: &str,
    interval: &str,
    seats: i32,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO subscriptions (id, tenant_id, order_id, provider, interval, status, seats) \
         VALUES ($1, $2, $3, $4, $5, 'incomplete', $6) ON CONFLICT (order_id) DO NOTHING RETURNING {SUBSCRIPTION}"
    ))
    .bind(SubscriptionId::new())
    .bind(tenant)
    .bind(order)
    .bind(provider)
    .bind(interval)
    .bind(seats)
    .fetch_optional(tx)
    .await
}

pub async fn subscription_get(
    tx: &mut PgConnection,
    id: SubscriptionId,
    lock: bool,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {SUBSCRIPTION} FROM subscriptions WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub async fn subscription_of_order(
    tx: &mut PgConnection,
    order: OrderId,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SUBSCRIPTION} FROM subscriptions WHERE order_id = $1 FOR UPDATE"))
        .bind(order)
        .fetch_optional(tx)
        .await
}

pub async fn subscription_set_license(tx: &mut PgConnection, order: OrderId, license: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE subscriptions SET license_id = $2, updated_at = now() WHERE order_id = $1")
        .bind(order)
        .bind(license)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn subscription_of_license(
    tx: &mut PgConnection,
    license: Uuid,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SUBSCRIPTION} FROM subscriptions WHERE license_id = $1"))
        .bind(license)
        .fetch_optional(tx)
        .await
}

pub async fn subscription_set_ref(tx: &mut PgConnection, id: SubscriptionId, r: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE subscriptions SET provider_ref = $2, updated_at = now() WHERE id = $1 AND provider_ref IS NULL",
    )
    .bind(id)
    .bind(r)
    .execute(tx)
    .await?;
    Ok(())
}

/// Writes what changed of a subscription (the caller locked and compared it).
pub async fn subscription_save(tx: &mut PgConnection, s: &SubscriptionRow) -> Result<SubscriptionRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE subscriptions SET status = $2, cancel_at_period_end = $3, anchor = $4, periods_paid = $5, \
         paid_through = $6, canceled_at = $7, seats = $8, renewal_synced = $9, updated_at = now() \
         WHERE id = $1 RETURNING {SUBSCRIPTION}"
    ))
    .bind(s.id)
    .bind(&s.status)
    .bind(s.cancel_at_period_end)
    .bind(s.anchor)
    .bind(s.periods_paid)
    .bind(s.paid_through)
    .bind(s.canceled_at)
    .bind(s.seats)
    .bind(s.renewal_synced)
    .fetch_one(tx)
    .await
}

pub async fn subscriptions_list(
    tx: &mut PgConnection,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {SUBSCRIPTION} FROM subscriptions WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

// ---- refunds -------------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct RefundRow {
    pub payment_id: PaymentId,
    pub requested: Option<i64>,
    pub status: String,
    /// The platform admin who released it from `held`.
    pub released_by: Option<String>,
}

pub async fn refund_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    payment: PaymentId,
    requested: Option<i64>,
    reason: &str,
    by: &str,
    command: Uuid,
) -> Result<Option<RefundId>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO refunds (id, tenant_id, payment_id, requested, reason, requested_by, status, command_id) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) ON CONFLICT (command_id) DO NOTHING RETURNING id",
    )
    .bind(RefundId::new())
    .bind(tenant)
    .bind(payment)
    .bind(requested)
    .bind(reason)
    .bind(by)
    .bind(command)
    .fetch_optional(tx)
    .await
}

/// A refund made at the provider, booked as it happened.
pub async fn refund_insert_external(
    tx: &mut PgConnection,
    tenant: TenantId,
    payment: PaymentId,
    amount: i64,
    provider_ref: &str,
) -> Result<RefundId, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO refunds (id, tenant_id, payment_id, requested, amount, reason, requested_by, status, provider_ref, \
         command_id) VALUES ($1, $2, $3, $4, $4, 'at_provider', 'stripe', 'succeeded', $5, $6) RETURNING id",
    )
    .bind(RefundId::new())
    .bind(tenant)
    .bind(payment)
    .bind(amount)
    .bind(provider_ref)
    .bind(Uuid::now_v7())
    .fetch_one(tx)
    .await
}

/// Whether a provider refund is booked already.
pub async fn refund_known(tx: &mut PgConnection, provider_ref: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM refunds WHERE provider_ref = $1)")
        .bind(provider_ref)
        .fetch_one(tx)
        .await
}

pub async fn refund_get(tx: &mut PgConnection, id: RefundId) -> Result<Option<RefundRow>, sqlx::Error> {
    sqlx::query_as("SELECT payment_id, requested, status, released_by FROM refunds WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub async fn refund_done(
    tx: &mut PgConnection,
    id: RefundId,
    status: &str,
    amount: Option<i64>,
    provider_ref: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE refunds SET status = $2, amount = $3, provider_ref = $4, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(amount)
        .bind(provider_ref)
        .execute(tx)
        .await?;
    Ok(())
}

// ---- platform-wide -------------------------------------------------------------------

/// Records a provider's webhook event; false when it was applied already.
pub async fn provider_event_insert(
    tx: &mut PgConnection,
    provider: &str,
    id: &str,
    kind: &str,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("INSERT INTO provider_events (provider, id, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(provider)
        .bind(id)
        .bind(kind)
        .execute(tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Posts one balanced transaction (the caller has checked the amounts sum to zero).
pub async fn ledger_post(
    tx: &mut PgConnection,
    kind: &str,
    entries: &[(String, i64)],
    currency: &str,
    payment: Option<PaymentId>,
    tenant: TenantId,
) -> Result<(), sqlx::Error> {
    let txn = Uuid::now_v7();
    let accounts: Vec<&str> = entries.iter().map(|(a, _)| a.as_str()).collect();
    let amounts: Vec<i64> = entries.iter().map(|(_, n)| *n).collect();
    sqlx::query(
        "INSERT INTO ledger_entries (txn_id, kind, account, amount, currency, payment_id, tenant_id) \
         SELECT $1, $2, a, n, $5, $6, $7 FROM unnest($3::text[], $4::bigint[]) AS e(a, n)",
    )
    .bind(txn)
    .bind(kind)
    .bind(&accounts)
    .bind(&amounts)
    .bind(currency)
    .bind(payment)
    .bind(tenant)
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct BalanceRow {
    pub account: String,
    pub currency: String,
    pub balance: i64,
}

/// Every account's balance, or the accounts named.
pub async fn ledger_balances(tx: &mut PgConnection, only: Option<&str>) -> Result<Vec<BalanceRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT account, currency, sum(amount)::bigint AS balance FROM ledger_entries \
         WHERE ($1::text IS NULL OR account = $1) GROUP BY account, currency ORDER BY account, currency",
    )
    .bind(only)
    .fetch_all(tx)
    .await
}

// ---- payouts -------------------------------------------------------------------------

pub async fn payout_account_get(tx: &mut PgConnection) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT method, stripe_account FROM payout_accounts").fetch_optional(tx).await
}

pub async fn payout_account_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    method: &str,
    stripe_account: Option<&str>,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payout_accounts (tenant_id, method, stripe_account, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id) DO UPDATE SET method = $2, stripe_account = $3, updated_by = $4, updated_at = now()",
    )
    .bind(tenant)
    .bind(method)
    .bind(stripe_account)
    .bind(by)
    .execute(tx)
    .await?;
    Ok(())
}

/// What each provider is owed, per currency (the credit balances of `payable:` accounts).
pub async fn payables(tx: &mut PgConnection) -> Result<Vec<(TenantId, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT substring(account FROM 9)::uuid, currency, (-sum(amount))::bigint FROM ledger_entries \
         WHERE account LIKE 'payable:%' GROUP BY account, currency HAVING sum(amount) < 0 ORDER BY 1, 2",
    )
    .fetch_all(tx)
    .await
}

pub async fn payout_run_insert(tx: &mut PgConnection, id: PayoutRunId, by: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO payout_runs (id, started_by, lines) VALUES ($1, $2, '[]') RETURNING created_at")
        .bind(id)
        .bind(by)
        .fetch_one(tx)
        .await
}

pub async fn payout_run_lines_put(
    tx: &mut PgConnection,
    id: PayoutRunId,
    lines: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payout_runs SET lines = $2 WHERE id = $1").bind(id).bind(lines).execute(tx).await?;
    Ok(())
}

pub async fn payout_run_get(
    tx: &mut PgConnection,
    id: PayoutRunId,
) -> Result<Option<(String, DateTime<Utc>, serde_json::Value)>, sqlx::Error> {
    sqlx::query_as("SELECT started_by, created_at, lines FROM payout_runs WHERE id = $1")
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub const PAYOUT: &str = "id, tenant_id, run_id, currency, amount, method, destination, status, provider_ref, failure, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct PayoutRow {
    pub id: PayoutId,
    pub tenant_id: TenantId,
    pub run_id: PayoutRunId,
    pub currency: String,
    pub amount: i64,
    pub method: String,
    pub destination: Option<String>,
    pub status: String,
    pub provider_ref: Option<String>,
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[allow(clippy::too_many_arguments)]
pub async fn payout_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    run: PayoutRunId,
    currency: &str,
    amount: i64,
    method: &str,
    destination: Option<&str>,
    status: &str,
) -> Result<Option<PayoutRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO payouts (id, tenant_id, run_id, currency, amount, method, destination, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (run_id, tenant_id, currency) DO NOTHING RETURNING {PAYOUT}"
    ))
    .bind(PayoutId::new())
    .bind(tenant)
    .bind(run)
    .bind(currency)
    .bind(amount)
    .bind(method)
    .bind(destination)
    .bind(status)
    .fetch_optional(tx)
    .await
}

pub async fn payout_get(tx: &mut PgConnection, id: PayoutId) -> Result<Option<PayoutRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {PAYOUT} FROM payouts WHERE id = $1 FOR UPDATE")).bind(id).fetch_optional(tx).await
}

pub async fn payout_set(
    tx: &mut PgConnection,
    id: PayoutId,
    status: &str,
    provider_ref: Option<&str>,
    failure: Option<&str>,
) -> Result<PayoutRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE payouts SET status = $2, provider_ref = $3, failure = $4, updated_at = now() WHERE id = $1 RETURNING {PAYOUT}"
    ))
    .bind(id)
    .bind(status)
    .bind(provider_ref)
    .bind(failure)
    .fetch_one(tx)
    .await
}

pub async fn payouts_list(
    tx: &mut PgConnection,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PAYOUT} FROM payouts WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

// ---- receipts and credit notes --------------------------------------------------------

/// What a payment bought (none for payments made before this was kept).
#[derive(Debug, FromRow)]
pub struct PaymentLines {
    pub seats: Option<i32>,
    pub unit_amount: Option<i64>,
    pub course_id: Option<CourseId>,
    pub pricing: Option<String>,
    pub billing_interval: Option<String>,
}

pub async fn payment_lines(tx: &mut PgConnection, id: PaymentId) -> Result<PaymentLines, sqlx::Error> {
    sqlx::query_as("SELECT seats, unit_amount, course_id, pricing, billing_interval FROM payments WHERE id = $1")
        .bind(id)
        .fetch_one(tx)
        .await
}

/// Keeps what a payment bought, for its receipt.
pub async fn payment_lines_set(
    tx: &mut PgConnection,
    id: PaymentId,
    seats: i32,
    unit_amount: i64,
    course: CourseId,
    pricing: &str,
    interval: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET seats = $2, unit_amount = $3, course_id = $4, pricing = $5, billing_interval = $6 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(seats)
    .bind(unit_amount)
    .bind(course)
    .bind(pricing)
    .bind(interval)
    .execute(tx)
    .await?;
    Ok(())
}

/// What a succeeded refund gave back.
pub async fn refund_amount(tx: &mut PgConnection, id: RefundId) -> Result<Option<i64>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT amount FROM refunds WHERE id = $1 AND status = 'succeeded'")
        .bind(id)
        .fetch_optional(tx)
        .await?
        .flatten())
}

pub async fn receipt_number(tx: &mut PgConnection, payment: PaymentId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT number FROM documents WHERE payment_id = $1 AND kind = 'receipt'")
        .bind(payment)
        .fetch_optional(tx)
        .await
}

pub async fn document_exists(
    tx: &mut PgConnection,
    payment: PaymentId,
    refund: Option<RefundId>,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM documents WHERE payment_id = $1 AND \
         (($2::uuid IS NULL AND kind = 'receipt') OR refund_id = $2))",
    )
    .bind(payment)
    .bind(refund)
    .fetch_one(tx)
    .await
}

/// The issuer's next number, held under the sequence row's lock until the caller commits
/// (a rollback gives it back: no gaps).
pub async fn document_next(tx: &mut PgConnection, issuer: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO document_sequences (issuer, last) VALUES ($1, 1) \
         ON CONFLICT (issuer) DO UPDATE SET last = document_sequences.last + 1 RETURNING last",
    )
    .bind(issuer)
    .fetch_one(tx)
    .await
}

pub const DOCUMENT: &str = "id, tenant_id, kind, issuer, issuer_name, seq, number, payment_id, refund_id, order_id, \
     amount, currency, lines, issued_at";

#[derive(Debug, Clone, FromRow)]
pub struct DocumentRow {
    pub id: DocumentId,
    pub tenant_id: TenantId,
    pub kind: String,
    pub issuer: String,
    pub issuer_name: String,
    pub seq: i64,
    pub number: String,
    pub payment_id: PaymentId,
    pub refund_id: Option<RefundId>,
    pub order_id: OrderId,
    pub amount: i64,
    pub currency: String,
    pub lines: sqlx::types::Json<Vec<crate::app::documents::Line>>,
    pub issued_at: DateTime<Utc>,
}

pub async fn document_insert(tx: &mut PgConnection, d: &DocumentRow) -> Result<DocumentRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO documents ({DOCUMENT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         RETURNING {DOCUMENT}"
    ))
    .bind(d.id)
    .bind(d.tenant_id)
    .bind(&d.kind)
    .bind(&d.issuer)
    .bind(&d.issuer_name)
    .bind(d.seq)
    .bind(&d.number)
    .bind(d.payment_id)
    .bind(d.refund_id)
    .bind(d.order_id)
    .bind(d.amount)
    .bind(&d.currency)
    .bind(&d.lines)
    .bind(d.issued_at)
    .fetch_one(tx)
    .await
}

pub async fn document_get(tx: &mut PgConnection, id: DocumentId) -> Result<Option<DocumentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {DOCUMENT} FROM documents WHERE id = $1")).bind(id).fetch_optional(tx).await
}

pub async fn documents_list(
    tx: &mut PgConnection,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<DocumentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DOCUMENT} FROM documents WHERE ($1::timestamptz IS NULL OR (issued_at, id) < ($1, $2)) \
         ORDER BY issued_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

/// Moves a held refund back to pending, released by `by`; false when it is not held.
pub async fn refund_release(tx: &mut PgConnection, id: RefundId, by: &str) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE refunds SET status = 'pending', released_by = $2, updated_at = now() WHERE id = $1 AND status = 'held'",
    )
    .bind(id)
    .bind(by)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A tenant's refunds (all, or of one status), newest first.
#[derive(Debug, Clone, FromRow)]
pub struct RefundListRow {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub requested: Option<i64>,
    pub amount: Option<i64>,
    pub reason: String,
    pub status: String,
    pub released_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn refunds_list(
    tx: &mut PgConnection,
    status: Option<&str>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<RefundListRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, payment_id, requested, amount, reason, status, released_by, created_at FROM refunds \
         WHERE ($1::text IS NULL OR status = $1) AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(status)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}
