//! `tenant_data_keys` and `tenant_secrets` (tenant rows, RLS): only ciphertext and
//! wrapped keys are stored.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::TenantId;
use sqlx::{FromRow, PgConnection};

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn data_key_get(tx: &mut PgConnection, tenant: TenantId) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as("SELECT kek_id, wrapped_dek FROM tenant_data_keys WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(tx)
        .await
}

/// Inserts the tenant's data key unless a concurrent writer already did; returns the stored one.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn data_key_insert(
    tx: &mut PgConnection,
    tenant: TenantId,
    kek_id: &str,
    wrapped: &[u8],
) -> Result<(String, Vec<u8>), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tenant_data_keys (tenant_id, kek_id, wrapped_dek) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(kek_id)
    .bind(wrapped)
    .execute(&mut *tx)
    .await?;
    sqlx::query_as("SELECT kek_id, wrapped_dek FROM tenant_data_keys WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(tx)
        .await
}

#[derive(Debug, FromRow)]
pub struct SecretRow {
    pub name: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "name, nonce, ciphertext, version, updated_by, updated_at";

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, secret = name))]
pub async fn secret_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    name: &str,
    nonce: &[u8],
    ct: &[u8],
    by: &str,
) -> Result<SecretRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO tenant_secrets (tenant_id, name, nonce, ciphertext, updated_by) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, name) DO UPDATE SET nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, \
           version = tenant_secrets.version + 1, updated_by = EXCLUDED.updated_by, updated_at = now() \
         RETURNING {COLUMNS}"
    ))
    .bind(tenant)
    .bind(name)
    .bind(nonce)
    .bind(ct)
    .bind(by)
    .fetch_one(tx)
    .await
}

#[tracing::instrument(level = "debug", skip_all, fields(secret = name))]
pub async fn secret_get(tx: &mut PgConnection, name: &str) -> Result<Option<SecretRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenant_secrets WHERE name = $1")).bind(name).fetch_optional(tx).await
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn secret_list(tx: &mut PgConnection) -> Result<Vec<SecretRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenant_secrets ORDER BY name")).fetch_all(tx).await
}

#[tracing::instrument(level = "debug", skip_all, fields(secret = name))]
pub async fn secret_delete(tx: &mut PgConnection, name: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("DELETE FROM tenant_secrets WHERE name = $1 RETURNING version")
        .bind(name)
        .fetch_optional(tx)
        .await
}
