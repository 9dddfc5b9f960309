//! Listings: a provider offers a published course version for sale (or free), to every
//! tenant or to the ones it names. Terms change by revision; an order keeps the terms it
//! was placed under.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::marketplace::ListingChanged,
    ids::{CourseId, ListingId, TenantId},
};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    AppState,
    store::{self, ListingRow, ListingTerms, Prices},
};

/// Who manages a provider's listings.
pub const SELLERS: &[Role] = &[Role::ProviderAdmin, Role::OrgAdmin];
/// The most seats one order may buy.
pub const MAX_SEATS: i32 = 10_000;
/// The most a seat may cost, in minor units.
const MAX_UNIT_AMOUNT: i64 = 100_000_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct Listing {
    #[schema(value_type = uuid::Uuid)]
    pub id: ListingId,
    /// The provider.
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub version: i32,
    pub title: String,
    pub description: String,
    /// `free`, `one_time` (per seat) or `subscription` (per seat per `interval`).
    pub pricing: String,
    pub interval: Option<String>,
    /// Price per seat in minor units by ISO 4217 code.
    #[schema(value_type = Object, example = json!({"EUR": 4900}))]
    pub prices: Prices,
    /// The seat counts one order may buy; empty: any count from 1 to 10,000.
    pub seat_packs: Vec<i32>,
    /// `public` or `private` (to `visible_to`).
    pub visibility: String,
    /// Whether a buying organization may open its seats to its members' self-enrollment.
    pub self_enrollment: bool,
    /// Shown to the provider only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    pub visible_to: Option<Vec<TenantId>>,
    /// The platform's share of a sale, in basis points (shown to the provider only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue_share_bps: Option<i32>,
    /// `active` or `retired`.
    pub status: String,
    pub revision: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Listing {
    fn view(r: ListingRow, provider: bool) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            course_id: r.course_id,
            version: r.version,
            title: r.title,
            description: r.description,
            pricing: r.pricing,
            interval: r.interval,
            prices: r.prices.0,
            seat_packs: r.seat_packs,
            visibility: r.visibility,
            self_enrollment: r.self_enrollment,
            visible_to: provider.then_some(r.visible_to),
            revenue_share_bps: provider.then_some(r.revenue_share_bps),
            status: r.status,
            revision: r.revision,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A listing's terms.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// 1 to 200 characters; the course version's title when absent.
    pub title: Option<String>,
    /// Up to 5,000 characters.
    #[serde(default)]
    pub description: String,
    /// `free`, `one_time` or `subscription`.
    pub pricing: String,
    /// `month` or `year`, for a subscription only.
    pub interval: Option<String>,
    /// Price per seat in minor units by ISO 4217 code (`{"EUR": 4900, "USD": 5400}`);
    /// empty for a free listing, at least one otherwise.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"EUR": 4900}))]
    pub prices: Prices,
    /// Seat counts one order may buy (`[1, 5, 10]`); empty: any count.
    #[serde(default)]
    pub seat_packs: Vec<i32>,
    /// `public` (default) or `private`.
    pub visibility: Option<String>,
    /// The tenants a private listing is offered to (at most 100).
    #[serde(default)]
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub visible_to: Vec<TenantId>,
    /// Whether a buying organization may open its seats to its members' self-enrollment
    /// (default false: its managers enroll people).
    #[serde(default)]
    pub self_enrollment: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateListing {
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    /// A published version of the course.
    pub version: i32,
    pub title: Option<String>,
    #[serde(default)]
    pub description: String,
    pub pricing: String,
    pub interval: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"EUR": 4900}))]
    pub prices: Prices,
    #[serde(default)]
    pub seat_packs: Vec<i32>,
    pub visibility: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub visible_to: Vec<TenantId>,
    #[serde(default)]
    pub self_enrollment: bool,
}

impl CreateListing {
    fn split(self) -> (CourseId, i32, Terms) {
        let t = Terms {
            title: self.title,
            description: self.description,
            pricing: self.pricing,
            interval: self.interval,
            prices: self.prices,
            seat_packs: self.seat_packs,
            visibility: self.visibility,
            visible_to: self.visible_to,
            self_enrollment: self.self_enrollment,
        };
        (self.course_id, self.version, t)
    }
}

/// Terms once checked.
struct Checked {
    title: Option<String>,
    description: String,
    pricing: &'static str,
    interval: Option<&'static str>,
    prices: Prices,
    seat_packs: Vec<i32>,
    visibility: &'static str,
    visible_to: Vec<TenantId>,
    self_enrollment: bool,
}

fn check(t: Terms) -> Result<Checked, AppError> {
    let title = match t.title {
        Some(s) => {
            let s = s.trim().to_owned();
            if s.is_empty() || s.chars().count() > 200 || s.chars().any(char::is_control) {
                return Err(AppError::invalid("title", "must be 1 to 200 characters without control characters"));
            }
            Some(s)
        }
        None => None,
    };
    if t.description.chars().count() > 5000 {
        return Err(AppError::invalid("description", "must be at most 5,000 characters"));
    }
    let pricing = match t.pricing.as_str() {
        "free" => "free",
        "one_time" => "one_time",
        "subscription" => "subscription",
        _ => return Err(AppError::invalid("pricing", "must be free, one_time or subscription")),
    };
    let interval = match (pricing, t.interval.as_deref()) {
        ("subscription", Some("month")) => Some("month"),
        ("subscription", Some("year")) => Some("year"),
        ("subscription", _) => return Err(AppError::invalid("interval", "a subscription renews every month or year")),
        (_, None) => None,
        (_, Some(_)) => return Err(AppError::invalid("interval", "only a subscription has one")),
    };
    if t.prices.len() > 20 {
        return Err(AppError::invalid("prices", "at most 20 currencies"));
    }
    for (code, amount) in &t.prices {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AppError::invalid("prices", format!("`{code}` is not an ISO 4217 code (three capitals)")));
        }
        if !(1..=MAX_UNIT_AMOUNT).contains(amount) {
            return Err(AppError::invalid("prices", format!("{code}: a price is 1 to {MAX_UNIT_AMOUNT} minor units")));
        }
    }
    match (pricing, t.prices.is_empty()) {
        ("free", false) => return Err(AppError::invalid("prices", "a free listing has no prices")),
        ("one_time" | "subscription", true) => {
            return Err(AppError::invalid("prices", "a paid listing needs a price in at least one currency"));
        }
        _ => {}
    }
    let mut packs = t.seat_packs;
    packs.sort_unstable();
    packs.dedup();
    if packs.len() > 20 || packs.iter().any(|n| !(1..=MAX_SEATS).contains(n)) {
        return Err(AppError::invalid("seat_packs", format!("at most 20 seat counts, each 1 to {MAX_SEATS}")));
    }
    let visibility = match t.visibility.as_deref() {
        None | Some("public") => "public",
        Some("private") => "private",
        Some(_) => return Err(AppError::invalid("visibility", "must be public or private")),
    };
    let mut visible_to = t.visible_to;
    visible_to.sort_unstable();
    visible_to.dedup();
    if visible_to.len() > 100 {
        return Err(AppError::invalid("visible_to", "at most 100 tenants"));
    }
    if visibility == "private" && visible_to.is_empty() {
        return Err(AppError::invalid("visible_to", "a private listing names the tenants it is offered to"));
    }
    if visibility == "public" && !visible_to.is_empty() {
        return Err(AppError::invalid("visible_to", "a public listing is offered to every tenant"));
    }
    Ok(Checked {
        title,
        description: t.description,
        pricing,
        interval,
        prices: t.prices,
        seat_packs: packs,
        visibility,
        visible_to,
        self_enrollment: t.self_enrollment,
    })
}

fn changed(r: &ListingRow) -> ListingChanged {
    ListingChanged {
        tenant_id: r.tenant_id,
        listing_id: r.id,
        course_id: r.course_id,
        version: r.version,
        title: r.title.clone(),
        pricing: r.pricing.clone(),
        interval: r.interval.clone(),
        prices: r.prices.0.clone(),
        seat_packs: r.seat_packs.clone(),
        visibility: r.visibility.clone(),
        visible_to: r.visible_to.clone(),
        self_enrollment: r.self_enrollment,
        status: r.status.clone(),
        revision: r.revision,
        at: r.updated_at,
    }
}

pub(crate) fn retired_event(r: &ListingRow) -> ListingChanged {
    changed(r)
}

#[tracing::instrument(skip_all)]
pub async fn create(state: &AppState, p: &Principal, input: CreateListing) -> Result<Listing, AppError> {
    let tenant = p.own_tenant(SELLERS)?;
    let (course_id, version, terms) = input.split();
    let c = check(terms)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let course = store::course_version_get(&mut tx, course_id, version)
        .await?
        .ok_or_else(|| AppError::not_found("course version", format!("{course_id} v{version}")))?;
    if course.retired || course.visibility == "private" {
        return Err(AppError::Conflict(format!(
            "course {course_id} v{version} is {}: only published, non-private versions can be listed",
            if course.retired { "retired" } else { "private" }
        )));
    }
    let share = store::provider_share(&mut tx).await?.unwrap_or(state.default_share_bps);
    let title = c.title.unwrap_or(course.title);
    let terms = ListingTerms {
        title: &title,
        description: &c.description,
        pricing: c.pricing,
        interval: c.interval,
        prices: &c.prices,
        seat_packs: &c.seat_packs,
        visibility: c.visibility,
        visible_to: &c.visible_to,
        self_enrollment: c.self_enrollment,
    };
    let row = store::listing_insert(&mut tx, tenant, course_id, version, &terms, share, &p.subject).await?;
    state.ctx.publish(&mut tx, p, changed(&row).into()).await?;
    tx.commit().await?;
    Ok(Listing::view(row, true))
}

#[tracing::instrument(skip_all, fields(listing = %id))]
pub async fn update(state: &AppState, p: &Principal, id: ListingId, t: Terms) -> Result<Listing, AppError> {
    let tenant = p.own_tenant(SELLERS)?;
    let c = check(t)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let current = store::listing_get(&mut tx, id, true)
        .await?
        .filter(|l| l.tenant_id == tenant)
        .ok_or_else(|| AppError::not_found("listing", id))?;
    if current.status != "active" {
        return Err(AppError::Conflict(format!("listing {id} is retired")));
    }
    let title = c.title.unwrap_or(current.title);
    let terms = ListingTerms {
        title: &title,
        description: &c.description,
        pricing: c.pricing,
        interval: c.interval,
        prices: &c.prices,
        seat_packs: &c.seat_packs,
        visibility: c.visibility,
        visible_to: &c.visible_to,
        self_enrollment: c.self_enrollment,
    };
    let row = store::listing_update(&mut tx, id, &terms).await?;
    state.ctx.publish(&mut tx, p, changed(&row).into()).await?;
    tx.commit().await?;
    Ok(Listing::view(row, true))
}

#[tracing::instrument(skip_all, fields(listing = %id))]
pub async fn retire(state: &AppState, p: &Principal, id: ListingId) -> Result<Listing, AppError> {
    let tenant = p.own_tenant(SELLERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let current = store::listing_get(&mut tx, id, true)
        .await?
        .filter(|l| l.tenant_id == tenant)
        .ok_or_else(|| AppError::not_found("listing", id))?;
    let row = match store::listings_retire(&mut tx, Some(id), None).await?.pop() {
        Some(row) => {
            state.ctx.publish(&mut tx, p, changed(&row).into()).await?;
            row
        }
        // Retired already: the same answer again.
        None => current,
    };
    tx.commit().await?;
    Ok(Listing::view(row, true))
}

#[tracing::instrument(skip_all, fields(listing = %id))]
pub async fn get(state: &AppState, p: &Principal, id: ListingId) -> Result<Listing, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::listing_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("listing", id))?;
    tx.commit().await?;
    let own = row.tenant_id == tenant;
    Ok(Listing::view(row, own))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListingQuery {
    /// `true`: the caller's own listings (any status); otherwise the ones it may buy.
    pub mine: Option<bool>,
    #[param(value_type = Option<uuid::Uuid>)]
    pub course_id: Option<CourseId>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn list(state: &AppState, p: &Principal, q: ListingQuery) -> Result<Page<Listing>, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let mine = q.mine.unwrap_or(false);
    if mine {
        p.require_in_tenant(tenant.into(), SELLERS)?;
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::listings_list(&mut tx, mine, q.course_id, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(|r| Listing::view(r, mine)).collect(), next_cursor: page.next_cursor })
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevenueShare {
    /// The platform's share of the provider's sales, in basis points (0 to 10,000).
    pub revenue_share_bps: i32,
}

/// A platform admin sets a provider's share; orders placed from now on carry it.
pub async fn set_share(
    state: &AppState,
    p: &Principal,
    provider: TenantId,
    s: RevenueShare,
) -> Result<RevenueShare, AppError> {
    p.require_platform_admin()?;
    if !(0..=10_000).contains(&s.revenue_share_bps) {
        return Err(AppError::invalid("revenue_share_bps", "must be 0 to 10,000"));
    }
    let mut tx = state.ctx.db.tenant_tx(provider.into()).await?;
    store::provider_share_put(&mut tx, provider, s.revenue_share_bps, &p.subject).await?;
    tx.commit().await?;
    Ok(s)
}
