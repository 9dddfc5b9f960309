//! Payloads marketplace publishes: listings of published course versions, the order saga
//! (placed → paid by billing → license granted, or failed / canceled with a refund
//! asked of billing), and the licenses a tenant owns.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{CourseId, LicenseId, ListingId, OrderId, TenantId, UserId},
};

/// A provider's listing was created, changed or retired (`status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingChanged {
    /// The provider.
    pub tenant_id: TenantId,
    pub listing_id: ListingId,
    pub course_id: CourseId,
    pub version: i32,
    pub title: String,
    /// `free`, `one_time` (per seat) or `subscription` (per seat per `interval`).
    pub pricing: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Price per seat in minor units, by ISO 4217 code (`{"EUR": 4900}`); empty when free.
    pub prices: BTreeMap<String, i64>,
    /// The seat counts one order may buy; empty: any count up to the maximum.
    pub seat_packs: Vec<i32>,
    /// `public`, or `private` to the tenants in `visible_to`.
    pub visibility: String,
    pub visible_to: Vec<TenantId>,
    /// Whether a buying organization may open its seats to self-enrollment.
    #[serde(default)]
    pub self_enrollment: bool,
    /// `active` or `retired`.
    pub status: String,
    pub revision: i32,
    pub at: DateTime<Utc>,
}

event!(ListingChanged, "marketplace.listing.changed.v1", aggregate = listing_id, tenant = tenant_id);

/// A tenant ordered seats of a listing. Everything billing needs to take the payment and
/// book it (the provider and the platform's share) is here: the order is priced once,
/// when placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderPlaced {
    /// The buyer.
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub listing_id: ListingId,
    pub provider_tenant_id: TenantId,
    pub course_id: CourseId,
    pub version: i32,
    pub seats: i32,
    /// ISO 4217, upper case.
    pub currency: String,
    /// Per seat, minor units.
    pub unit_amount: i64,
    /// `unit_amount × seats`, minor units; 0 for a free listing.
    pub amount: i64,
    pub pricing: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// The platform's share of the amount, in basis points (2000 = 20 %).
    pub revenue_share_bps: i32,
    /// A payment method the buyer's browser already collected (a Stripe `pm_…`), to
    /// charge at once; without it the buyer confirms the payment with its client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// Who placed it (`user:<id>` or `apikey:<id>`).
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
}

event!(OrderPlaced, "marketplace.order.placed.v1", aggregate = order_id, tenant = tenant_id);

/// An order was paid (or free) and its license granted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCompleted {
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub license_id: LicenseId,
    pub at: DateTime<Utc>,
}

event!(OrderCompleted, "marketplace.order.completed.v1", aggregate = order_id, tenant = tenant_id);

/// An order ended without a license: its payment failed, or it was paid but could not be
/// fulfilled (the listing was retired meanwhile, or the order had been canceled), in
/// which case a refund was asked of billing (`refund_requested`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderFailed {
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    /// `payment_failed`, `listing_unavailable` or `canceled_after_payment`.
    pub reason: String,
    pub refund_requested: bool,
    pub at: DateTime<Utc>,
}

event!(OrderFailed, "marketplace.order.failed.v1", aggregate = order_id, tenant = tenant_id);

/// The buyer canceled an order before it was paid; billing cancels its payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCanceled {
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub canceled_by: String,
    pub at: DateTime<Utc>,
}

event!(OrderCanceled, "marketplace.order.canceled.v1", aggregate = order_id, tenant = tenant_id);

/// A tenant now owns seats of a course version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseGranted {
    /// The owner.
    pub tenant_id: TenantId,
    pub license_id: LicenseId,
    pub order_id: OrderId,
    pub listing_id: ListingId,
    pub provider_tenant_id: TenantId,
    pub course_id: CourseId,
    pub version: i32,
    pub seats: i32,
    pub starts_at: DateTime<Utc>,
    /// When the term ends (subscriptions); none: perpetual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// An individual bought for themself: the person to enroll at once on the one seat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_user: Option<UserId>,
    /// The listing lets the owner open these seats to its members' self-enrollment.
    #[serde(default)]
    pub self_enrollment: bool,
}

event!(LicenseGranted, "marketplace.license.granted.v1", aggregate = license_id, tenant = tenant_id);

/// A license's seats or status changed: shrunk by a refund, or revoked (`status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseChanged {
    pub tenant_id: TenantId,
    pub license_id: LicenseId,
    pub seats: i32,
    /// `active` or `revoked`.
    pub status: String,
    /// `refund`, `unpaid` (billing found no payment for it) or `revoked`.
    pub reason: String,
    /// The license's revision (1 when granted): a reader keeps the newest.
    pub revision: i64,
    pub at: DateTime<Utc>,
}

event!(LicenseChanged, "marketplace.license.changed.v1", aggregate = license_id, tenant = tenant_id);

/// A subscription license's next period was paid: its term now ends at `ends_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseRenewed {
    pub tenant_id: TenantId,
    pub license_id: LicenseId,
    pub order_id: OrderId,
    pub seats: i32,
    /// The period now paid (2 for the first renewal).
    pub period: i32,
    pub ends_at: DateTime<Utc>,
    /// The license's revision: a reader keeps the newest.
    pub revision: i64,
    pub at: DateTime<Utc>,
}

event!(LicenseRenewed, "marketplace.license.renewed.v1", aggregate = license_id, tenant = tenant_id);
