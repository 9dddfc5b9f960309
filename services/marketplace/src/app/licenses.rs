//! Licenses: what a tenant owns (seats of a course version, for a term or for good).

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::{billing::SetRenewal, billing::SubscriptionChanged, marketplace::LicenseRenewed},
    ids::{CourseId, LicenseId, ListingId, OrderId, TenantId},
};
use mirai_events::{Cx, HandleError, outbox};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{AppState, store};

#[derive(Debug, Serialize, ToSchema)]
pub struct License {
    #[schema(value_type = uuid::Uuid)]
    pub id: LicenseId,
    /// The owner.
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub order_id: OrderId,
    #[schema(value_type = uuid::Uuid)]
    pub listing_id: ListingId,
    #[schema(value_type = uuid::Uuid)]
    pub provider_tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub version: i32,
    pub title: String,
    pub seats: i32,
    pub seats_in_use: i32,
    /// `active` or `revoked`.
    pub status: String,
    pub starts_at: DateTime<Utc>,
    /// When the term ends; none: perpetual.
    pub ends_at: Option<DateTime<Utc>>,
    /// Periods paid (a subscription's term is its periods).
    pub periods: i32,
    /// A subscription renews at `ends_at` (its next period is charged) unless stopped.
    pub auto_renew: bool,
    /// How billing's subscription stands: `incomplete`, `active`, `past_due` (a renewal
    /// was not paid: the license lapses at `ends_at` unless it is) or `canceled`; none
    /// for a license that is no subscription.
    pub renewal_status: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::LicenseRow> for License {
    fn from(r: store::LicenseRow) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            order_id: r.order_id,
            listing_id: r.listing_id,
            provider_tenant_id: r.provider_tenant_id,
            course_id: r.course_id,
            version: r.version,
            title: r.title,
            seats: r.seats,
            seats_in_use: r.seats_in_use,
            status: r.status,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            periods: r.periods,
            auto_renew: r.auto_renew,
            renewal_status: r.renewal_status,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Who reads what the tenant owns.
const READERS: &[Role] = &[Role::OrgAdmin, Role::OrgManager, Role::ComplianceOfficer];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LicenseQuery {
    #[param(value_type = Option<uuid::Uuid>)]
    pub course_id: Option<CourseId>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn list(state: &AppState, p: &Principal, q: LicenseQuery) -> Result<Page<License>, AppError> {
    let tenant = p.own_tenant(READERS)?;
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::licenses_list(&mut tx, q.course_id, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

pub async fn get(state: &AppState, p: &Principal, id: LicenseId) -> Result<License, AppError> {
    let tenant = p.own_tenant(READERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::license_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("license", id))?;
    tx.commit().await?;
    Ok(row.into())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Renewal {
    /// `false`: the license ends with the period paid (nothing more is charged); `true`:
    /// it renews again.
    pub auto_renew: bool,
}

/// The buyer stops (or resumes) a subscription license's renewal; billing tells the
/// payment provider. The term already paid is kept either way.
pub async fn set_renewal(state: &AppState, p: &Principal, id: LicenseId, input: Renewal) -> Result<License, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    // An individual's person runs their own; in an organization, its admins.
    if !(p.user_id.is_some() && store::tenant_is_individual(&mut tx, tenant).await?) {
        p.require_in_tenant(tenant.into(), &[Role::OrgAdmin])?;
    }
    let row = store::license_get(&mut tx, id, true).await?.ok_or_else(|| AppError::not_found("license", id))?;
    if row.ends_at.is_none() || (row.renewal_status.is_none() && !row.auto_renew) {
        return Err(AppError::Conflict(format!("license {id} is no subscription: it does not renew")));
    }
    if row.status != "active" || row.renewal_status.as_deref() == Some("canceled") {
        return Err(AppError::Conflict(format!("license {id} no longer renews: its subscription ended")));
    }
    if row.auto_renew == input.auto_renew {
        tx.commit().await?;
        return Ok(row.into());
    }
    let row = store::license_set_renewal(&mut tx, id, input.auto_renew, None).await?;
    let cmd = SetRenewal {
        tenant_id: row.tenant_id,
        order_id: row.order_id,
        auto_renew: input.auto_renew,
        requested_by: p.subject.clone(),
        requested_at: Utc::now(),
    };
    state.ctx.publish(&mut tx, p, cmd.into()).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// How long a subscription license outlives the period paid: the payment provider charges
/// a renewal shortly after the period begins and retries a failed charge for days, and
/// learners keep their seats meanwhile. (The same grace follows a stopped renewal.)
pub fn renewal_grace() -> chrono::Duration {
    chrono::Duration::days(7)
}

/// Billing's subscription changed: a newly paid period moves the license's term on (a
/// new revision enrollment follows), and its renewal state follows billing's.
pub async fn on_subscription(cx: Cx<'_>, e: SubscriptionChanged) -> Result<(), HandleError> {
    let Some(license) = store::license_of_order(cx.tx, e.order_id).await? else {
        let settled = store::order_get(cx.tx, e.order_id, false)
            .await?
            .is_some_and(|o| matches!(o.status.as_str(), "failed" | "canceled"));
        if e.periods_paid > 1 && !settled {
            return Err(HandleError::Transient(anyhow::anyhow!(
                "order {} renewed before its license was granted",
                e.order_id
            )));
        }
        // The first period: the license is granted from the payment's own event.
        return Ok(());
    };
    let renews = matches!(e.status.as_str(), "active" | "incomplete") && !e.cancel_at_period_end;
    let license = store::license_set_renewal(cx.tx, license.id, renews, Some(&e.status)).await?;
    let Some(paid_through) = e.paid_through else { return Ok(()) };
    if e.periods_paid <= license.periods || license.status != "active" {
        return Ok(());
    }
    let ends_at = paid_through + renewal_grace();
    if license.ends_at.is_some_and(|end| end >= ends_at) {
        return Ok(());
    }
    let license = store::license_renew(cx.tx, license.id, e.periods_paid, ends_at).await?;
    let ev = LicenseRenewed {
        tenant_id: license.tenant_id,
        license_id: license.id,
        order_id: license.order_id,
        seats: license.seats,
        period: license.periods,
        ends_at,
        revision: license.revision,
        at: Utc::now(),
    };
    let meta = cx.following();
    outbox::enqueue(cx.tx, crate::NAME, &meta, ev.into()).await?;
    Ok(())
}
