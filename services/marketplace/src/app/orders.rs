//! Orders, a saga with billing: `pending_payment` when placed (a free order completes at
//! once) → `completed` with a license when billing says the payment succeeded, or
//! `failed` when it failed. A payment that succeeds for an order that can no longer be
//! fulfilled (listing retired or no longer offered to the buyer, order canceled) fails
//! the order and asks billing for a refund; nothing is ever granted twice, whatever
//! order billing's events arrive in or however often.

use chrono::{DateTime, Months, Utc};
use mirai_contracts::{
    events::{
        billing::{PaymentFailed, PaymentSucceeded, ReconciliationHealed, RefundPayment},
        marketplace::{LicenseChanged, LicenseGranted, OrderCanceled, OrderCompleted, OrderFailed, OrderPlaced},
    },
    ids::{CourseId, LicenseId, ListingId, OrderId, PaymentId, TenantId},
};
use mirai_events::{Cx, HandleError, NewEvent, outbox};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{
    AppState,
    app::listings::{MAX_SEATS, SELLERS},
    store::{self, OrderRow},
};

/// Who buys for a tenant.
pub const BUYERS: &[Role] = &[Role::OrgAdmin];
/// The currency code of a free order.
const NO_CURRENCY: &str = "XXX";

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    #[schema(value_type = uuid::Uuid)]
    pub id: OrderId,
    /// The buyer.
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub listing_id: ListingId,
    #[schema(value_type = uuid::Uuid)]
    pub provider_tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub version: i32,
    pub title: String,
    pub seats: i32,
    /// ISO 4217 (`XXX` for a free order).
    pub currency: String,
    /// Per seat, minor units.
    pub unit_amount: i64,
    /// Minor units.
    pub amount: i64,
    pub pricing: String,
    pub interval: Option<String>,
    /// `pending_payment`, `completed`, `failed` or `canceled`.
    pub status: String,
    /// Why it failed: `payment_failed`, `listing_unavailable` or `canceled_after_payment`.
    pub failure_reason: Option<String>,
    /// The payment at billing (`GET /api/v1/billing/payments?order_id=…` shows its client secret).
    #[schema(value_type = Option<uuid::Uuid>)]
    pub payment_id: Option<PaymentId>,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub license_id: Option<LicenseId>,
    /// Seats given back for a refund so far.
    pub refunded_seats: i32,
    pub placed_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<OrderRow> for Order {
    fn from(r: OrderRow) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            listing_id: r.listing_id,
            provider_tenant_id: r.provider_tenant_id,
            course_id: r.course_id,
            version: r.version,
            title: r.title,
            seats: r.seats,
            currency: r.currency,
            unit_amount: r.unit_amount,
            amount: r.amount,
            pricing: r.pricing,
            interval: r.interval,
            status: r.status,
            failure_reason: r.failure_reason,
            payment_id: r.payment_id,
            license_id: r.license_id,
            refunded_seats: r.refunded_seats,
            placed_by: r.placed_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    #[schema(value_type = uuid::Uuid)]
    pub listing_id: ListingId,
    /// 1 to 10,000, and one of the listing's seat packs when it has any.
    pub seats: i32,
    /// One of the listing's currencies (not for a free listing).
    pub currency: Option<String>,
    /// A payment method the buyer's browser collected with Stripe.js (`pm_…`), charged
    /// at once; without it, the buyer confirms the payment with its client secret.
    pub payment_method: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn place(state: &AppState, p: &Principal, input: PlaceOrder) -> Result<Order, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    if !(1..=MAX_SEATS).contains(&input.seats) {
        return Err(AppError::invalid("seats", format!("must be 1 to {MAX_SEATS}")));
    }
    if let Some(pm) = &input.payment_method
        && (pm.is_empty() || pm.len() > 255 || !pm.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return Err(AppError::invalid("payment_method", "is not a payment method id"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    // An org's admins buy seats; an individual buys one seat, for themself.
    if store::tenant_is_individual(&mut tx, tenant).await? {
        if p.user_id.is_none() {
            return Err(AppError::Forbidden("an individual buys in person, not with an API key".into()));
        }
        if input.seats != 1 {
            return Err(AppError::invalid("seats", "an individual buys one seat, for themself"));
        }
    } else {
        p.require_in_tenant(tenant.into(), BUYERS)?;
    }
    // RLS shows the buyer only listings it may buy (and its own).
    let listing = store::listing_get(&mut tx, input.listing_id, false)
        .await?
        .filter(|l| l.status == "active")
        .ok_or_else(|| AppError::not_found("listing", input.listing_id))?;
    if listing.tenant_id == tenant {
        return Err(AppError::Conflict("a provider does not buy its own listing".into()));
    }
    if !listing.seat_packs.is_empty() && !listing.seat_packs.contains(&input.seats) {
        return Err(AppError::invalid("seats", format!("this listing sells packs of {:?} seats", listing.seat_packs)));
    }
    let (currency, unit) = if listing.pricing == "free" {
        if input.currency.is_some() || input.payment_method.is_some() {
            return Err(AppError::invalid("currency", "a free listing takes no currency or payment method"));
        }
        (NO_CURRENCY.to_owned(), 0)
    } else {
        let code = input.currency.ok_or_else(|| AppError::invalid("currency", "is required for a paid listing"))?;
        let unit = *listing.prices.0.get(&code).ok_or_else(|| {
            AppError::invalid(
                "currency",
                format!("the listing is priced in {:?}", listing.prices.0.keys().collect::<Vec<_>>()),
            )
        })?;
        (code, unit)
    };
    let amount = unit.checked_mul(i64::from(input.seats)).ok_or_else(|| AppError::invalid("seats", "too many"))?;
    let order =
        store::order_insert(&mut tx, tenant, &listing, input.seats, &currency, unit, amount, &p.subject).await?;
    let placed = OrderPlaced {
        tenant_id: tenant,
        order_id: order.id,
        listing_id: listing.id,
        provider_tenant_id: listing.tenant_id,
        course_id: listing.course_id,
        version: listing.version,
        seats: order.seats,
        currency: order.currency.clone(),
        unit_amount: unit,
        amount,
        pricing: order.pricing.clone(),
        interval: order.interval.clone(),
        revenue_share_bps: order.revenue_share_bps,
        payment_method: input.payment_method,
        placed_by: p.subject.clone(),
        placed_at: order.created_at,
    };
    let meta = p.event_meta();
    let mut events: Vec<NewEvent> = vec![placed.into()];
    let order = if amount == 0 { fulfil(&mut tx, order, None, &mut events).await? } else { order };
    state.ctx.emit(&mut tx, &meta, events).await?;
    tx.commit().await?;
    Ok(order.into())
}

/// Grants the order's license and completes it.
async fn fulfil(
    tx: &mut PgConnection,
    order: OrderRow,
    payment: Option<PaymentId>,
    events: &mut Vec<NewEvent>,
) -> Result<OrderRow, sqlx::Error> {
    let now = Utc::now();
    // A subscription's first period, and the grace its renewal is charged in.
    let ends_at = match order.interval.as_deref() {
        Some("month") => now.checked_add_months(Months::new(1)),
        Some("year") => now.checked_add_months(Months::new(12)),
        _ => None,
    }
    .map(|end| end + super::licenses::renewal_grace());
    let license = store::license_insert(tx, &order, now, ends_at).await?;
    // An individual's seat is theirs at once.
    let for_user = if store::tenant_is_individual(tx, order.tenant_id).await? {
        order.placed_by.strip_prefix("user:").and_then(|u| u.parse().ok())
    } else {
        None
    };
    let order = store::order_set_status(tx, order.id, "completed", None, payment, Some(license.id)).await?;
    events.push(
        LicenseGranted {
            tenant_id: license.tenant_id,
            license_id: license.id,
            order_id: order.id,
            listing_id: license.listing_id,
            provider_tenant_id: license.provider_tenant_id,
            course_id: license.course_id,
            version: license.version,
            seats: license.seats,
            starts_at: license.starts_at,
            ends_at: license.ends_at,
            for_user,
            self_enrollment: order.self_enrollment,
        }
        .into(),
    );
    events.push(
        OrderCompleted { tenant_id: order.tenant_id, order_id: order.id, license_id: license.id, at: now }.into(),
    );
    Ok(order)
}

/// An individual's person reads their own tenant's orders; in other tenants, `roles`.
async fn may_read_orders(
    tx: &mut PgConnection,
    p: &Principal,
    tenant: TenantId,
    roles: &[Role],
) -> Result<(), AppError> {
    if p.user_id.is_some() && store::tenant_is_individual(tx, tenant).await? {
        return Ok(());
    }
    p.require_in_tenant(tenant.into(), roles)
}

/// An order the caller bought or sold.
pub async fn get(state: &AppState, p: &Principal, id: OrderId) -> Result<Order, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    may_read_orders(&mut tx, p, tenant, &[Role::OrgAdmin, Role::ProviderAdmin]).await?;
    let row = store::order_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("order", id))?;
    tx.commit().await?;
    Ok(row.into())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// `true`: the orders of the caller's listings (its sales); otherwise its purchases.
    pub sold: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn list(state: &AppState, p: &Principal, q: OrderQuery) -> Result<Page<Order>, AppError> {
    let sold = q.sold.unwrap_or(false);
    let tenant = p.own_tenant(&Role::ALL)?;
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    may_read_orders(&mut tx, p, tenant, if sold { SELLERS } else { BUYERS }).await?;
    let rows = store::orders_list(&mut tx, sold, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

/// The buyer cancels an order not paid yet; billing cancels its payment. A payment that
/// succeeds anyway is refunded (`on_paid`).
pub async fn cancel(state: &AppState, p: &Principal, id: OrderId) -> Result<Order, AppError> {
    let tenant = p.own_tenant(BUYERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::order_get(&mut tx, id, true)
        .await?
        .filter(|o| o.tenant_id == tenant)
        .ok_or_else(|| AppError::not_found("order", id))?;
    let row = match row.status.as_str() {
        "canceled" => row,
        "pending_payment" => {
            let row = store::order_set_status(&mut tx, id, "canceled", None, None, None).await?;
            let ev =
                OrderCanceled { tenant_id: tenant, order_id: id, canceled_by: p.subject.clone(), at: row.updated_at };
            state.ctx.publish(&mut tx, p, ev.into()).await?;
            row
        }
        other => {
            return Err(AppError::Conflict(format!("order {id} is {other}: only an unpaid order can be canceled")));
        }
    };
    tx.commit().await?;
    Ok(row.into())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundSeats {
    /// Seats to take back and refund (at most those not refunded yet).
    pub seats: i32,
    /// Take seats back even below the seats in use (their enrollments lose their seat).
    #[serde(default)]
    pub force: bool,
}

/// The provider takes back seats of an order it sold and refunds them: the buyer's
/// license shrinks (or is revoked when none remain) and billing refunds their price.
/// Never below the seats in use unless `force`.
pub async fn refund(state: &AppState, p: &Principal, id: OrderId, input: RefundSeats) -> Result<Order, AppError> {
    let provider = p.own_tenant(SELLERS)?;
    // The provider sees its sales (RLS); the buyer's tenant owns the rows to change.
    let mut tx = state.ctx.db.tenant_tx(provider.into()).await?;
    let sold = store::order_get(&mut tx, id, false)
        .await?
        .filter(|o| o.provider_tenant_id == provider)
        .ok_or_else(|| AppError::not_found("order", id))?;
    tx.commit().await?;
    let mut tx = state.ctx.db.tenant_tx(sold.tenant_id.into()).await?;
    let order = store::order_get(&mut tx, id, true).await?.ok_or_else(|| AppError::not_found("order", id))?;
    if order.status != "completed" {
        return Err(AppError::Conflict(format!("order {id} is {}: only a completed order is refunded", order.status)));
    }
    if order.amount == 0 {
        return Err(AppError::Conflict(format!("order {id} was free: there is nothing to refund")));
    }
    let left = order.seats - order.refunded_seats;
    if !(1..=left).contains(&input.seats) {
        return Err(AppError::invalid("seats", format!("must be 1 to {left} (the seats not refunded yet)")));
    }
    let license =
        store::license_of_order(&mut tx, id).await?.ok_or_else(|| AppError::not_found("license of order", id))?;
    let seats = (license.seats - input.seats).max(0);
    if seats < license.seats_in_use && !input.force {
        return Err(AppError::client(
            axum::http::StatusCode::CONFLICT,
            "seats-in-use",
            "Seats in use",
            format!(
                "license {} has {} seats in use; taking back {} leaves {seats}: send force=true to decide so",
                license.id, license.seats_in_use, input.seats
            ),
        ));
    }
    let status = if seats == 0 { "revoked" } else { "active" };
    let license = store::license_set(&mut tx, license.id, seats, status).await?;
    store::order_add_refunded_seats(&mut tx, id, input.seats).await?;
    let now = Utc::now();
    let events: Vec<NewEvent> = vec![
        LicenseChanged {
            tenant_id: order.tenant_id,
            license_id: license.id,
            seats,
            status: status.into(),
            reason: "refund".into(),
            revision: license.revision,
            at: now,
        }
        .into(),
        RefundPayment {
            tenant_id: order.tenant_id,
            order_id: id,
            amount: Some(order.unit_amount * i64::from(input.seats)),
            reason: "seats_returned".into(),
            requested_by: p.subject.clone(),
            requested_at: now,
        }
        .into(),
    ];
    state.ctx.emit(&mut tx, &p.event_meta(), events).await?;
    let order = store::order_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("order", id))?;
    tx.commit().await?;
    Ok(order.into())
}

// ---- the saga's other half: billing's events -----------------------------------------

/// Fails a paid order that cannot be fulfilled and asks billing for the money back.
fn refund_and_fail(order: &OrderRow, reason: &str, events: &mut Vec<NewEvent>) {
    let now = Utc::now();
    events.push(
        RefundPayment {
            tenant_id: order.tenant_id,
            order_id: order.id,
            amount: None,
            reason: reason.into(),
            requested_by: "marketplace".into(),
            requested_at: now,
        }
        .into(),
    );
    events.push(
        OrderFailed {
            tenant_id: order.tenant_id,
            order_id: order.id,
            reason: reason.into(),
            refund_requested: true,
            at: now,
        }
        .into(),
    );
}

/// Billing took the money: grant the license, once; or refund if it cannot be granted.
pub async fn on_paid(cx: Cx<'_>, e: PaymentSucceeded) -> Result<(), HandleError> {
    let Some(order) = store::order_get(cx.tx, e.order_id, true).await? else {
        tracing::warn!(order = %e.order_id, "a payment for an order marketplace does not know");
        return Ok(());
    };
    let mut events = vec![];
    match (order.status.as_str(), order.failure_reason.as_deref()) {
        // Granted already (a second word of the same payment): nothing more.
        ("completed", _) => return Ok(()),
        // Failed for another reason: its refund was asked for already.
        ("failed", Some(r)) if r != "payment_failed" => return Ok(()),
        ("canceled", _) => {
            store::order_set_status(
                cx.tx,
                order.id,
                "failed",
                Some("canceled_after_payment"),
                Some(e.payment_id),
                None,
            )
            .await?;
            refund_and_fail(&order, "canceled_after_payment", &mut events);
        }
        // Pending, or failed because an earlier attempt to pay was declined: the money is
        // here now, so the buyer gets what they paid for if it is still offered to them.
        _ => {
            let offered =
                store::listing_get(cx.tx, order.listing_id, false).await?.is_some_and(|l| l.status == "active");
            if offered {
                fulfil(cx.tx, order, Some(e.payment_id), &mut events).await?;
            } else {
                store::order_set_status(
                    cx.tx,
                    order.id,
                    "failed",
                    Some("listing_unavailable"),
                    Some(e.payment_id),
                    None,
                )
                .await?;
                refund_and_fail(&order, "listing_unavailable", &mut events);
            }
        }
    }
    let meta = cx.following();
    outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
    Ok(())
}

/// Billing could not take the money: the order fails (unless already settled).
pub async fn on_payment_failed(cx: Cx<'_>, e: PaymentFailed) -> Result<(), HandleError> {
    let Some(order) = store::order_get(cx.tx, e.order_id, true).await? else { return Ok(()) };
    if order.status != "pending_payment" {
        return Ok(());
    }
    store::order_set_status(cx.tx, order.id, "failed", Some("payment_failed"), Some(e.payment_id), None).await?;
    let ev = OrderFailed {
        tenant_id: order.tenant_id,
        order_id: order.id,
        reason: "payment_failed".into(),
        refund_requested: false,
        at: Utc::now(),
    };
    let meta = cx.following();
    outbox::enqueue(cx.tx, crate::NAME, &meta, ev.into()).await?;
    Ok(())
}

/// Reconciliation found a license whose order the provider never got paid for: revoke it.
pub async fn on_healed(cx: Cx<'_>, e: ReconciliationHealed) -> Result<(), HandleError> {
    if e.kind != "provisioned_not_paid" {
        return Ok(());
    }
    let Some(license) = store::license_of_order(cx.tx, e.order_id).await? else { return Ok(()) };
    if license.status == "revoked" {
        return Ok(());
    }
    let license = store::license_set(cx.tx, license.id, license.seats, "revoked").await?;
    let ev = LicenseChanged {
        tenant_id: license.tenant_id,
        license_id: license.id,
        seats: license.seats,
        status: "revoked".into(),
        reason: "unpaid".into(),
        revision: license.revision,
        at: Utc::now(),
    };
    let meta = cx.following();
    outbox::enqueue(cx.tx, crate::NAME, &meta, ev.into()).await?;
    Ok(())
}
