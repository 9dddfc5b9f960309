//! marketplace's tables. Every function takes the caller's transaction (scoped to a
//! tenant, so RLS holds: a shopper sees active listings that are public or name it, a
//! provider sees the orders of its listings) and typed ids.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{CourseId, LicenseId, ListingId, OrderId, PaymentId, TenantId};
use mirai_kit::pagination::Cursor;
use sqlx::{FromRow, PgConnection, types::Json};

pub type Prices = std::collections::BTreeMap<String, i64>;

// ---- course versions (from authoring) ------------------------------------------------

pub async fn course_version_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    course: CourseId,
    version: i32,
    title: &str,
    visibility: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO course_versions (course_id, version, tenant_id, title, visibility) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (course_id, version) DO NOTHING",
    )
    .bind(course)
    .bind(version)
    .bind(tenant)
    .bind(title)
    .bind(visibility)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn course_retire(tx: &mut PgConnection, course: CourseId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE course_versions SET retired = true WHERE course_id = $1").bind(course).execute(tx).await?;
    Ok(())
}

#[derive(Debug, FromRow)]
pub struct CourseVersionRow {
    pub title: String,
    pub visibility: String,
    pub retired: bool,
}

pub async fn course_version_get(
    tx: &mut PgConnection,
    course: CourseId,
    version: i32,
) -> Result<Option<CourseVersionRow>, sqlx::Error> {
    sqlx::query_as("SELECT title, visibility, retired FROM course_versions WHERE course_id = $1 AND version = $2")
        .bind(course)
        .bind(version)
        .fetch_optional(tx)
        .await
}

// ---- providers -----------------------------------------------------------------------

pub async fn provider_share(tx: &mut PgConnection) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar("SELECT revenue_share_bps FROM providers").fetch_optional(tx).await
}

pub async fn provider_share_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    bps: i32,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO providers (tenant_id, revenue_share_bps, updated_by) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET revenue_share_bps = $2, updated_by = $3, updated_at = now()",
    )
    .bind(tenant)
    .bind(bps)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    // Orders placed from now on carry the new share; placed ones keep theirs.
    sqlx::query("UPDATE listings SET revenue_share_bps = $1 WHERE tenant_id = $2")
        .bind(bps)
        .bind(tenant)
        .execute(tx)
        .await?;
    Ok(())
}

// ---- listings ------------------------------------------------------------------------

pub const LISTING: &str = "id, tenant_id, course_id, version, title, description, pricing, interval, prices, seat_packs, \
     visibility, visible_to, self_enrollment, revenue_share_bps, status, revision, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct ListingRow {
    pub id: ListingId,
    pub tenant_id: TenantId,
    pub course_id: CourseId,
    pub version: i32,
    pub title: String,
    pub description: String,
    pub pricing: String,
    pub interval: Option<String>,
    pub prices: Json<Prices>,
    pub seat_packs: Vec<i32>,
    pub visibility: String,
    pub visible_to: Vec<TenantId>,
    pub self_enrollment: bool,
    pub revenue_share_bps: i32,
    pub status: String,
    pub revision: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A listing's terms as written (insert and update).
pub struct ListingTerms<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub pricing: &'a str,
    pub interval: Option<&'a str>,
    pub prices: &'a Prices,
    pub seat_packs: &'a [i32],
    pub visibility: &'a str,
    pub visible_to: &'a [TenantId],
    pub self_enrollment: bool,
}

#[allow(clippy::too_many_arguments)]
pub async fn listing_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    course: CourseId,
    version: i32,
    t: &ListingTerms<'_>,
    share_bps: i32,
    by: &str,
) -> Result<ListingRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO listings (id, tenant_id, course_id, version, title, description, pricing, interval, prices, \
         seat_packs, visibility, visible_to, revenue_share_bps, status, revision, created_by, self_enrollment) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'active', 1, $14, $15) RETURNING {LISTING}"
    ))
    .bind(ListingId::new())
    .bind(tenant)
    .bind(course)
    .bind(version)
    .bind(t.title)
    .bind(t.description)
    .bind(t.pricing)
    .bind(t.interval)
    .bind(Json(t.prices))
    .bind(t.seat_packs)
    .bind(t.visibility)
    .bind(t.visible_to)
    .bind(share_bps)
    .bind(by)
    .bind(t.self_enrollment)
    .fetch_one(tx)
    .await
}

pub async fn listing_update(
    tx: &mut PgConnection,
    id: ListingId,
    t: &ListingTerms<'_>,
) -> Result<ListingRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE listings SET title = $2, description = $3, pricing = $4, interval = $5, prices = $6, seat_packs = $7, \
         visibility = $8, visible_to = $9, self_enrollment = $10, revision = revision + 1, updated_at = now() \
         WHERE id = $1 RETURNING {LISTING}"
    ))
    .bind(id)
    .bind(t.title)
    .bind(t.description)
    .bind(t.pricing)
    .bind(t.interval)
    .bind(Json(t.prices))
    .bind(t.seat_packs)
    .bind(t.visibility)
    .bind(t.visible_to)
    .bind(t.self_enrollment)
    .fetch_one(tx)
    .await
}

/// Retires the given listings (the caller's tenant's only, by RLS), returning them.
pub async fn listings_retire(
    tx: &mut PgConnection,
    ids: Option<ListingId>,
    course: Option<CourseId>,
) -> Result<Vec<ListingRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE listings SET status = 'retired', revision = revision + 1, updated_at = now() \
         WHERE status = 'active' AND ($1::uuid IS NULL OR id = $1) AND ($2::uuid IS NULL OR course_id = $2) \
         AND tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid RETURNING {LISTING}"
    ))
    .bind(ids)
    .bind(course)
    .fetch_all(tx)
    .await
}

/// A listing the caller may see (its own, or one it may buy); `lock` for its provider.
pub async fn listing_get(tx: &mut PgConnection, id: ListingId, lock: bool) -> Result<Option<ListingRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {LISTING} FROM listings WHERE id = $1{lock}")).bind(id).fetch_optional(tx).await
}

/// Listings the caller sees: `mine` its own (any status), else the ones it may buy.
pub async fn listings_list(
    tx: &mut PgConnection,
    mine: bool,
    course: Option<CourseId>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<ListingRow>, sqlx::Error> {
    let own = "tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid";
    let filter = if mine { own.to_owned() } else { format!("status = 'active' AND NOT ({own})") };
    sqlx::query_as(&format!(
        "SELECT {LISTING} FROM listings WHERE {filter} AND ($1::uuid IS NULL OR course_id = $1) \
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(course)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

// ---- orders --------------------------------------------------------------------------

pub const ORDER: &str = "id, tenant_id, listing_id, provider_tenant_id, course_id, version, title, seats, currency, \
     unit_amount, amount, pricing, interval, revenue_share_bps, status, failure_reason, payment_id, license_id, \
     refunded_seats, placed_by, self_enrollment, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct OrderRow {
    pub id: OrderId,
    pub tenant_id: TenantId,
    pub listing_id: ListingId,
    pub provider_tenant_id: TenantId,
    pub course_id: CourseId,
    pub version: i32,
    pub title: String,
    pub seats: i32,
    pub currency: String,
    pub unit_amount: i64,
    pub amount: i64,
    pub pricing: String,
    pub interval: Option<String>,
    pub revenue_share_bps: i32,
    pub status: String,
    pub failure_reason: Option<String>,
    pub payment_id: Option<PaymentId>,
    pub license_id: Option<LicenseId>,
    pub refunded_seats: i32,
    pub placed_by: String,
    /// The listing allowed self-enrollment when the order was placed.
    pub self_enrollment: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[allow(clippy::too_many_arguments)]
pub async fn order_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    l: &ListingRow,
    seats: i32,
    currency: &str,
    unit_amount: i64,
    amount: i64,
    by: &str,
) -> Result<OrderRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO orders (id, tenant_id, listing_id, provider_tenant_id, course_id, version, title, seats, currency, \
         unit_amount, amount, pricing, interval, revenue_share_bps, status, placed_by, self_enrollment) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'pending_payment', $15, $16) \
         RETURNING {ORDER}"
    ))
    .bind(OrderId::new())
    .bind(tenant)
    .bind(l.id)
    .bind(l.tenant_id)
    .bind(l.course_id)
    .bind(l.version)
    .bind(&l.title)
    .bind(seats)
    .bind(currency)
    .bind(unit_amount)
    .bind(amount)
    .bind(&l.pricing)
    .bind(&l.interval)
    .bind(l.revenue_share_bps)
    .bind(by)
    .bind(l.self_enrollment)
    .fetch_one(tx)
    .await
}

/// An order the caller may see (bought, or sold by it); `lock` for the buyer.
pub async fn order_get(tx: &mut PgConnection, id: OrderId, lock: bool) -> Result<Option<OrderRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {ORDER} FROM orders WHERE id = $1{lock}")).bind(id).fetch_optional(tx).await
}

pub async fn orders_list(
    tx: &mut PgConnection,
    sold: bool,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    let column = if sold { "provider_tenant_id" } else { "tenant_id" };
    sqlx::query_as(&format!(
        "SELECT {ORDER} FROM orders WHERE {column} = NULLIF(current_setting('app.tenant_id', true), '')::uuid \
         AND ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2)) ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

pub async fn order_set_status(
    tx: &mut PgConnection,
    id: OrderId,
    status: &str,
    reason: Option<&str>,
    payment: Option<PaymentId>,
    license: Option<LicenseId>,
) -> Result<OrderRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE orders SET status = $2, failure_reason = COALESCE($3, failure_reason), \
         payment_id = COALESCE($4, payment_id), license_id = COALESCE($5, license_id), updated_at = now() \
         WHERE id = $1 RETURNING {ORDER}"
    ))
    .bind(id)
    .bind(status)
    .bind(reason)
    .bind(payment)
    .bind(license)
    .fetch_one(tx)
    .await
}

pub async fn order_add_refunded_seats(tx: &mut PgConnection, id: OrderId, seats: i32) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE orders SET refunded_seats = refunded_seats + $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(seats)
        .execute(tx)
        .await?;
    Ok(())
}

// ---- licenses ------------------------------------------------------------------------

pub const LICENSE: &str = "id, tenant_id, order_id, listing_id, provider_tenant_id, course_id, version, title, seats, \
     seats_in_use, status, starts_at, ends_at, revision, created_at, updated_at, periods, auto_renew, renewal_status";

#[derive(Debug, Clone, FromRow)]
pub struct LicenseRow {
    pub id: LicenseId,
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub listing_id: ListingId,
    pub provider_tenant_id: TenantId,
    pub course_id: CourseId,
    pub version: i32,
    pub title: String,
    pub seats: i32,
    pub seats_in_use: i32,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub revision: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub periods: i32,
    pub auto_renew: bool,
    pub renewal_status: Option<String>,
}

pub async fn license_insert(
    tx: &mut PgConnection,
    o: &OrderRow,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
) -> Result<LicenseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO licenses (id, tenant_id, order_id, listing_id, provider_tenant_id, course_id, version, title, \
         seats, status, starts_at, ends_at, auto_renew) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $11, $12) RETURNING {LICENSE}"
    ))
    .bind(LicenseId::new())
    .bind(o.tenant_id)
    .bind(o.id)
    .bind(o.listing_id)
    .bind(o.provider_tenant_id)
    .bind(o.course_id)
    .bind(o.version)
    .bind(&o.title)
    .bind(o.seats)
    .bind(starts_at)
    .bind(ends_at)
    // A subscription renews until its buyer stops it.
    .bind(o.pricing == "subscription")
    .fetch_one(tx)
    .await
}

/// A paid period moved the term's end (a new revision).
pub async fn license_renew(
    tx: &mut PgConnection,
    id: LicenseId,
    periods: i32,
    ends_at: DateTime<Utc>,
) -> Result<LicenseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE licenses SET periods = $2, ends_at = $3, revision = revision + 1, updated_at = now() \
         WHERE id = $1 RETURNING {LICENSE}"
    ))
    .bind(id)
    .bind(periods)
    .bind(ends_at)
    .fetch_one(tx)
    .await
}

/// Whether the license renews, and how billing's subscription stands (no new revision:
/// seats and term are unchanged).
pub async fn license_set_renewal(
    tx: &mut PgConnection,
    id: LicenseId,
    auto_renew: bool,
    renewal_status: Option<&str>,
) -> Result<LicenseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE licenses SET auto_renew = $2, renewal_status = COALESCE($3, renewal_status), updated_at = now() \
         WHERE id = $1 RETURNING {LICENSE}"
    ))
    .bind(id)
    .bind(auto_renew)
    .bind(renewal_status)
    .fetch_one(tx)
    .await
}

pub async fn license_get(tx: &mut PgConnection, id: LicenseId, lock: bool) -> Result<Option<LicenseRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {LICENSE} FROM licenses WHERE id = $1{lock}")).bind(id).fetch_optional(tx).await
}

pub async fn license_of_order(tx: &mut PgConnection, order: OrderId) -> Result<Option<LicenseRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {LICENSE} FROM licenses WHERE order_id = $1 FOR UPDATE"))
        .bind(order)
        .fetch_optional(tx)
        .await
}

pub async fn licenses_list(
    tx: &mut PgConnection,
    course: Option<CourseId>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<LicenseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LICENSE} FROM licenses WHERE ($1::uuid IS NULL OR course_id = $1) \
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(course)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

pub async fn license_set(
    tx: &mut PgConnection,
    id: LicenseId,
    seats: i32,
    status: &str,
) -> Result<LicenseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE licenses SET seats = $2, status = $3, revision = revision + 1, updated_at = now() WHERE id = $1 RETURNING {LICENSE}"
    ))
    .bind(id)
    .bind(seats)
    .bind(status)
    .fetch_one(tx)
    .await
}

/// Seats in use, as enrollment last said (an older word changes nothing).
pub async fn license_seats_in_use(
    tx: &mut PgConnection,
    id: LicenseId,
    in_use: i32,
    revision: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE licenses SET seats_in_use = $2, seats_revision = $3 WHERE id = $1 AND seats_revision < $3")
        .bind(id)
        .bind(in_use)
        .bind(revision)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn tenant_kind_put(tx: &mut PgConnection, tenant: TenantId, kind: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO tenant_kinds (tenant_id, kind) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING")
        .bind(tenant)
        .bind(kind)
        .execute(tx)
        .await?;
    Ok(())
}

/// Whether the tenant (the caller's, under RLS) is an individual.
pub async fn tenant_is_individual(tx: &mut PgConnection, tenant: TenantId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenant_kinds WHERE tenant_id = $1 AND kind = 'individual')")
        .bind(tenant)
        .fetch_one(tx)
        .await
}
