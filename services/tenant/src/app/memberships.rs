//! Memberships: which users belong to a tenant with which roles. Every change is an event
//! (`tenant.membership.*`) that identity projects into the roles it puts in tokens.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::tenant::{MembershipGranted, MembershipRevoked},
    ids::{MembershipId, OrgUnitId, TenantId, UserId},
};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::Serialize;
use sqlx::PgConnection;

use crate::{
    AppState,
    store::{memberships as store, org_units},
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Membership {
    #[schema(value_type = uuid::Uuid)]
    pub id: MembershipId,
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    pub roles: Vec<String>,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub org_unit_id: Option<OrgUnitId>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<store::MembershipRow> for Membership {
    fn from(r: store::MembershipRow) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            user_id: r.user_id,
            roles: r.roles,
            org_unit_id: r.org_unit_id,
            active: r.active,
            created_at: r.created_at,
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant = %tenant, user = %user_id))]
pub async fn grant(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    user_id: UserId,
    roles: &[String],
    org_unit_id: Option<OrgUnitId>,
) -> Result<Membership, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin])?;
    let roles = super::parse_roles("roles", roles)?;
    super::tenants::ensure_exists(state, tenant).await?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    // People join a tenant by invitation, which proves they own the address. An org admin
    // changes the roles of the tenant's members; adding an arbitrary account by its id
    // would let them pull anyone's profile into their tenant. Platform admins may.
    if !principal.is_platform_admin() && store::membership_get_by_user(&mut tx, user_id).await?.is_none() {
        return Err(AppError::invalid(
            "user_id",
            "is not a member of this tenant; people join by invitation (POST .../invitations)",
        ));
    }
    let row = grant_in_txn(state, &mut tx, principal, tenant, user_id, roles, org_unit_id).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Upserts the membership and emits `tenant.membership.granted.v1` in `tx`.
pub(crate) async fn grant_in_txn(
    state: &AppState,
    tx: &mut PgConnection,
    principal: &Principal,
    tenant: TenantId,
    user_id: UserId,
    roles: Vec<String>,
    org_unit_id: Option<OrgUnitId>,
) -> Result<store::MembershipRow, AppError> {
    if let Some(ou) = org_unit_id
        && !org_units::org_unit_exists(tx, ou).await?
    {
        return Err(AppError::invalid("org_unit_id", "no such org unit in this tenant"));
    }
    let row = store::membership_upsert(
        tx,
        &store::MembershipRow {
            id: MembershipId::new(),
            tenant_id: tenant,
            user_id,
            roles,
            org_unit_id,
            active: true,
            revision: 1,
            created_at: Utc::now(),
        },
    )
    .await?;
    let event = MembershipGranted {
        membership_id: row.id,
        tenant_id: tenant,
        user_id: row.user_id,
        roles: row.roles.clone(),
        org_unit_id: row.org_unit_id,
        revision: row.revision,
    };
    state.ctx.publish(tx, principal, event.into()).await?;
    Ok(row)
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    page: &PageParams,
) -> Result<Page<Membership>, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::OrgManager, Role::ComplianceOfficer])?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::membership_list(&mut tx, page.cursor()?, limit).await?;
    Ok(Page::from_rows(rows.into_iter().map(Membership::from).collect(), limit, |m| Cursor {
        created_at: m.created_at,
        id: m.id.into(),
    }))
}

#[tracing::instrument(skip_all, fields(tenant = %tenant, user = %user_id))]
pub async fn revoke(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    user_id: UserId,
) -> Result<(), AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin])?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let Some(row) = store::membership_deactivate(&mut tx, user_id).await? else {
        return match store::membership_get_by_user(&mut tx, user_id).await? {
            Some(_) => Ok(()),
            None => Err(AppError::not_found("membership", user_id)),
        };
    };
    let event = MembershipRevoked { membership_id: row.id, tenant_id: tenant, user_id, revision: row.revision };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(())
}
