//! Groups: named sets of a tenant's members apart from the org-unit tree, which courses
//! can be assigned to (assignment follows them from the events).

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::tenant::{GroupCreated, GroupMemberAdded, GroupMemberRemoved},
    ids::{GroupId, TenantId, UserId},
};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::Serialize;

use crate::{
    AppState,
    store::{groups as store, memberships},
};

/// Who manages groups; who reads them.
const ADMINS: &[Role] = &[Role::OrgAdmin];
const READERS: &[Role] = &[Role::OrgAdmin, Role::OrgManager, Role::ComplianceOfficer];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Group {
    #[schema(value_type = uuid::Uuid)]
    pub id: GroupId,
    pub name: String,
    /// How many members it has.
    pub members: i64,
    pub created_at: DateTime<Utc>,
}

impl From<store::GroupRow> for Group {
    fn from(r: store::GroupRow) -> Self {
        Self { id: r.id, name: r.name, members: r.members, created_at: r.created_at }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupMember {
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    pub added_at: DateTime<Utc>,
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn create(state: &AppState, p: &Principal, tenant: TenantId, name: String) -> Result<Group, AppError> {
    p.require_in_tenant(tenant.into(), ADMINS)?;
    super::tenants::ensure_exists(state, tenant).await?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid("name", "must be 1 to 200 characters"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::group_insert(&mut tx, tenant, &name).await.map_err(|e| match AppError::from(e) {
        AppError::Conflict(_) => AppError::Conflict("a group with this name already exists".into()),
        other => other,
    })?;
    let event = GroupCreated { tenant_id: tenant, group_id: row.id, name: row.name.clone() };
    state.ctx.publish(&mut tx, p, event.into()).await?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn list(
    state: &AppState,
    p: &Principal,
    tenant: TenantId,
    page: &PageParams,
) -> Result<Page<Group>, AppError> {
    p.require_in_tenant(tenant.into(), READERS)?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::group_list(&mut tx, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

pub async fn members(
    state: &AppState,
    p: &Principal,
    tenant: TenantId,
    group: GroupId,
    page: &PageParams,
) -> Result<Page<GroupMember>, AppError> {
    p.require_in_tenant(tenant.into(), READERS)?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::group_get(&mut tx, group).await?.ok_or_else(|| AppError::not_found("group", group))?;
    let rows = store::members_list(&mut tx, group, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.added_at, id: r.user_id.into() });
    Ok(Page {
        data: page.data.into_iter().map(|r| GroupMember { user_id: r.user_id, added_at: r.added_at }).collect(),
        next_cursor: page.next_cursor,
    })
}

/// Puts a member of the tenant in a group (again: nothing new). Returns the group.
pub async fn add(
    state: &AppState,
    p: &Principal,
    tenant: TenantId,
    group: GroupId,
    user: UserId,
) -> Result<Group, AppError> {
    p.require_in_tenant(tenant.into(), ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::group_get(&mut tx, group).await?.ok_or_else(|| AppError::not_found("group", group))?;
    if !memberships::membership_get_by_user(&mut tx, user).await?.is_some_and(|m| m.active) {
        return Err(AppError::invalid("user_id", "is not a member of the tenant"));
    }
    if store::member_add(&mut tx, tenant, group, user).await? {
        let event = GroupMemberAdded { tenant_id: tenant, group_id: group, user_id: user };
        state.ctx.publish(&mut tx, p, event.into()).await?;
    }
    let row = store::group_get(&mut tx, group).await?.ok_or_else(|| AppError::not_found("group", group))?;
    tx.commit().await?;
    Ok(row.into())
}

/// Takes a member out of a group (not there: nothing to do).
pub async fn remove(
    state: &AppState,
    p: &Principal,
    tenant: TenantId,
    group: GroupId,
    user: UserId,
) -> Result<(), AppError> {
    p.require_in_tenant(tenant.into(), ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::group_get(&mut tx, group).await?.ok_or_else(|| AppError::not_found("group", group))?;
    if store::member_remove(&mut tx, group, user).await? {
        let event = GroupMemberRemoved { tenant_id: tenant, group_id: group, user_id: user };
        state.ctx.publish(&mut tx, p, event.into()).await?;
    }
    tx.commit().await?;
    Ok(())
}
