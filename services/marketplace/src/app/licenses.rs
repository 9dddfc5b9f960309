//! Licenses: what a tenant owns (seats of a course version, for a term or for good).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{CourseId, LicenseId, ListingId, OrderId, TenantId};
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
