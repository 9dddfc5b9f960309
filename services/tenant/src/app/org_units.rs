//! Org units: a tree per tenant.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::tenant::OrgUnitCreated,
    ids::{OrgUnitId, TenantId},
};
use mirai_kit::{AppError, Principal, Role};
use serde::Serialize;

use crate::{AppState, store::org_units as store};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgUnit {
    #[schema(value_type = uuid::Uuid)]
    pub id: OrgUnitId,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub parent_id: Option<OrgUnitId>,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<store::OrgUnitRow> for OrgUnit {
    fn from(r: store::OrgUnitRow) -> Self {
        Self { id: r.id, parent_id: r.parent_id, name: r.name, created_at: r.created_at }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    name: String,
    parent_id: Option<OrgUnitId>,
) -> Result<OrgUnit, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin])?;
    super::tenants::ensure_exists(state, tenant).await?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid("name", "must be 1 to 200 characters"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    if let Some(p) = parent_id
        && !store::org_unit_exists(&mut tx, p).await?
    {
        return Err(AppError::invalid("parent_id", "no such org unit in this tenant"));
    }
    let row = store::org_unit_insert(
        &mut tx,
        &store::OrgUnitRow { id: OrgUnitId::new(), tenant_id: tenant, parent_id, name, created_at: Utc::now() },
    )
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => {
            AppError::Conflict("an org unit with this name already exists under this parent".into())
        }
        other => other,
    })?;
    let event =
        OrgUnitCreated { org_unit_id: row.id, tenant_id: tenant, parent_id: row.parent_id, name: row.name.clone() };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(row.into())
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list(state: &AppState, principal: &Principal, tenant: TenantId) -> Result<Vec<OrgUnit>, AppError> {
    principal.require_in_tenant(tenant.into(), &Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    Ok(store::org_unit_list(&mut tx).await?.into_iter().map(OrgUnit::from).collect())
}
