//! `users`: global accounts (not tenant rows: a user may belong to several tenants).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{TenantId, UserId};
use sqlx::{FromRow, PgConnection};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub is_platform_admin: bool,
    pub default_tenant_id: Option<TenantId>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, display_name, password_hash, is_platform_admin, default_tenant_id, created_at";

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[tracing::instrument(level = "debug", skip_all, fields(user = %id))]
pub async fn user_insert(
    tx: &mut PgConnection,
    id: UserId,
    email: &str,
    display_name: Option<&str>,
    password_hash: &str,
    platform_admin: bool,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO users (id, email, email_norm, display_name, password_hash, is_platform_admin) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(email.trim())
    .bind(normalize_email(email))
    .bind(display_name)
    .bind(password_hash)
    .bind(platform_admin)
    .fetch_one(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn user_get_by_email(tx: &mut PgConnection, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email_norm = $1"))
        .bind(normalize_email(email))
        .fetch_optional(tx)
        .await
}

#[tracing::instrument(level = "debug", skip_all, fields(user = %id))]
pub async fn user_get(tx: &mut PgConnection, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1")).bind(id).fetch_optional(tx).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn platform_admin_exists(tx: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE is_platform_admin)").fetch_one(tx).await
}

/// The first tenant a user joins becomes their default login tenant.
#[tracing::instrument(level = "debug", skip_all, fields(user = %id, tenant = %tenant))]
pub async fn user_set_default_tenant_if_unset(
    tx: &mut PgConnection,
    id: UserId,
    tenant: TenantId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET default_tenant_id = $2, updated_at = now() WHERE id = $1 AND default_tenant_id IS NULL",
    )
    .bind(id)
    .bind(tenant)
    .execute(tx)
    .await
    .map(|_| ())
}
