//! `groups` and `group_members` (tenant rows, RLS).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{GroupId, TenantId, UserId};
use mirai_kit::pagination::Cursor;
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow)]
pub struct GroupRow {
    pub id: GroupId,
    pub tenant_id: TenantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub members: i64,
}

const GROUP: &str = "g.id, g.tenant_id, g.name, g.created_at, \
     (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) AS members";

pub async fn group_insert(tx: &mut PgConnection, tenant: TenantId, name: &str) -> Result<GroupRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH g AS (INSERT INTO groups (id, tenant_id, name) VALUES ($1, $2, $3) RETURNING *) SELECT {GROUP} FROM g"
    ))
    .bind(GroupId::new())
    .bind(tenant)
    .bind(name)
    .fetch_one(tx)
    .await
}

pub async fn group_get(tx: &mut PgConnection, id: GroupId) -> Result<Option<GroupRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {GROUP} FROM groups g WHERE g.id = $1")).bind(id).fetch_optional(tx).await
}

pub async fn group_list(
    tx: &mut PgConnection,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<GroupRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {GROUP} FROM groups g WHERE ($1::timestamptz IS NULL OR (g.created_at, g.id) < ($1, $2)) \
         ORDER BY g.created_at DESC, g.id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

/// Adds a member; false when they were in the group already.
pub async fn member_add(
    tx: &mut PgConnection,
    tenant: TenantId,
    group: GroupId,
    user: UserId,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO group_members (tenant_id, group_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(group)
    .bind(user)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Removes a member; false when they were not in the group.
pub async fn member_remove(tx: &mut PgConnection, group: GroupId, user: UserId) -> Result<bool, sqlx::Error> {
    let n = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group)
        .bind(user)
        .execute(tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct GroupMemberRow {
    pub user_id: UserId,
    pub added_at: DateTime<Utc>,
}

pub async fn members_list(
    tx: &mut PgConnection,
    group: GroupId,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<GroupMemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT user_id, added_at FROM group_members WHERE group_id = $1 \
         AND ($2::timestamptz IS NULL OR (added_at, user_id) < ($2, $3)) ORDER BY added_at DESC, user_id DESC LIMIT $4",
    )
    .bind(group)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}
