//! `tenant_settings` and `feature_flags` (tenant rows, RLS).

use chrono::{DateTime, Utc};
use mirai_contracts::ids::TenantId;
use sqlx::{FromRow, PgConnection, types::Json};

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn settings_get(
    tx: &mut PgConnection,
    tenant: TenantId,
) -> Result<Option<(Json<serde_json::Value>, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT settings, revision FROM tenant_settings WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(tx)
        .await
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn settings_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    settings: &serde_json::Value,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO tenant_settings (tenant_id, settings) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET settings = EXCLUDED.settings, revision = tenant_settings.revision + 1, updated_at = now() \
         RETURNING revision",
    )
    .bind(tenant)
    .bind(Json(settings))
    .fetch_one(tx)
    .await
}

#[derive(Debug, FromRow)]
pub struct FlagRow {
    pub key: String,
    pub enabled: bool,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn flag_list(tx: &mut PgConnection) -> Result<Vec<FlagRow>, sqlx::Error> {
    sqlx::query_as("SELECT key, enabled, updated_by, updated_at FROM feature_flags ORDER BY key").fetch_all(tx).await
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, flag = key))]
pub async fn flag_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    key: &str,
    enabled: bool,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO feature_flags (tenant_id, key, enabled, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, key) DO UPDATE SET enabled = EXCLUDED.enabled, updated_by = EXCLUDED.updated_by, updated_at = now()",
    )
    .bind(tenant)
    .bind(key)
    .bind(enabled)
    .bind(by)
    .execute(tx)
    .await
    .map(|_| ())
}
