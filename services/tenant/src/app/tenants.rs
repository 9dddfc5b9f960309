//! Tenants: created by platform admins; seen by their members.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::tenant::{self as contract, TenantCreated},
    ids::TenantId,
};
use mirai_kit::{
    AppError, Principal, Role, Slug,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};

use crate::{AppState, store::tenants as store};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    Org,
    Provider,
    Individual,
}

impl TenantKind {
    fn as_str(self) -> &'static str {
        match self {
            TenantKind::Org => "org",
            TenantKind::Provider => "provider",
            TenantKind::Individual => "individual",
        }
    }
}

impl From<TenantKind> for contract::TenantKind {
    fn from(kind: TenantKind) -> Self {
        match kind {
            TenantKind::Org => Self::Org,
            TenantKind::Provider => Self::Provider,
            TenantKind::Individual => Self::Individual,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    #[schema(value_type = uuid::Uuid)]
    pub id: TenantId,
    /// `org`, `provider` or `individual`.
    pub kind: String,
    pub name: String,
    pub slug: String,
    pub created_at: DateTime<Utc>,
}

impl From<store::TenantRow> for Tenant {
    fn from(r: store::TenantRow) -> Self {
        Self { id: r.id, kind: r.kind, name: r.name, slug: r.slug, created_at: r.created_at }
    }
}

/// A tenant as asked for, unchecked: `create` authorizes before it validates (name, then
/// slug), so a caller who may not create tenants gets 403 whatever they sent.
pub struct NewTenant {
    pub kind: TenantKind,
    pub name: String,
    pub slug: String,
}

#[tracing::instrument(skip_all)]
pub async fn create(state: &AppState, principal: &Principal, input: NewTenant) -> Result<Tenant, AppError> {
    principal.require_platform_admin()?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid("name", "must be 1 to 200 characters"));
    }
    let slug = Slug::parse("slug", &input.slug)?;
    let row = store::TenantRow {
        id: TenantId::new(),
        kind: input.kind.as_str().into(),
        name: name.into(),
        slug: slug.into_string(),
        created_by: principal.subject.clone(),
        created_at: Utc::now(),
    };
    let mut tx = state.ctx.db.platform_tx().await?;
    let row = store::tenant_insert(&mut tx, &row).await.map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => AppError::Conflict("a tenant with this slug already exists".into()),
        other => other,
    })?;
    // `row.kind` is `input.kind.as_str()`, stored and read back.
    let event =
        TenantCreated { tenant_id: row.id, kind: input.kind.into(), name: row.name.clone(), slug: row.slug.clone() };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(row.into())
}

#[tracing::instrument(skip_all, fields(tenant = %id))]
pub async fn get(state: &AppState, principal: &Principal, id: TenantId) -> Result<Tenant, AppError> {
    principal.require_in_tenant(id.into(), &Role::ALL)?;
    let mut tx = state.ctx.db.platform_tx().await?;
    let row = store::tenant_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("tenant", id))?;
    Ok(row.into())
}

/// Platform admins see every tenant; anyone else sees their own.
#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState, principal: &Principal, page: &PageParams) -> Result<Page<Tenant>, AppError> {
    let limit = page.limit()?;
    if !principal.is_platform_admin() {
        let tenant = get(state, principal, principal.tenant()?.into()).await?;
        return Ok(Page { data: vec![tenant], next_cursor: None });
    }
    let mut tx = state.ctx.db.platform_tx().await?;
    let rows = store::tenant_list(&mut tx, page.cursor()?, limit).await?;
    Ok(Page::from_rows(rows.into_iter().map(Tenant::from).collect(), limit, |t| Cursor {
        created_at: t.created_at,
        id: t.id.into(),
    }))
}

/// The tenant must exist before anything is created inside it.
pub async fn ensure_exists(state: &AppState, id: TenantId) -> Result<(), AppError> {
    let mut tx = state.ctx.db.platform_tx().await?;
    store::tenant_get(&mut tx, id).await?.map(|_| ()).ok_or_else(|| AppError::not_found("tenant", id))
}
