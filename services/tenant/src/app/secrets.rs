//! Tenant secrets (SMTP passwords, vendor API keys) with envelope encryption: each value is
//! sealed with AES-256-GCM under the tenant's data key, bound to its tenant and name; the
//! data key is stored only wrapped by the KMS's key-encryption key.

use chrono::{DateTime, Utc};
use mirai_contracts::{events::tenant::SecretChanged, ids::TenantId};
use mirai_kit::{AppError, Principal, Role};
use serde::Serialize;
use sqlx::PgConnection;

use mirai_kit::kms;

use crate::{AppState, store::secrets as store};

const MAX_SECRET_BYTES: usize = 16 * 1024;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretMeta {
    pub name: String,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecretValue {
    #[serde(flatten)]
    pub meta: SecretMeta,
    pub value: String,
}

fn meta(r: &store::SecretRow) -> SecretMeta {
    SecretMeta { name: r.name.clone(), version: r.version, updated_by: r.updated_by.clone(), updated_at: r.updated_at }
}

fn validate_name(name: &str) -> Result<(), AppError> {
    let ok = (1..=100).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok { Ok(()) } else { Err(AppError::invalid("name", "must be 1-100 of A-Z, a-z, 0-9, `.`, `_`, `-`")) }
}

fn aad(tenant: TenantId, name: &str) -> Vec<u8> {
    format!("mirai-tenant-secret/{tenant}/{name}").into_bytes()
}

/// The tenant's data key, created (and wrapped) on first use.
async fn data_key(state: &AppState, tx: &mut PgConnection, tenant: TenantId) -> Result<[u8; 32], AppError> {
    let context = tenant.as_uuid().as_bytes().to_vec();
    let (kek_id, wrapped) = match store::data_key_get(tx, tenant).await? {
        Some(k) => k,
        None => {
            let mut dek = [0u8; 32];
            rand::Rng::fill_bytes(&mut rand::rng(), &mut dek);
            let (kek_id, wrapped) = state.kms.wrap(&dek, &context).map_err(AppError::Internal)?;
            store::data_key_insert(tx, tenant, &kek_id, &wrapped).await?
        }
    };
    state.kms.unwrap(&kek_id, &wrapped, &context).map_err(AppError::Internal)
}

#[tracing::instrument(skip_all, fields(tenant = %tenant, secret = name))]
pub async fn put(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    name: &str,
    value: &str,
) -> Result<SecretMeta, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::ProviderAdmin])?;
    validate_name(name)?;
    if value.is_empty() || value.len() > MAX_SECRET_BYTES {
        return Err(AppError::invalid("value", "must be 1 byte to 16 KiB"));
    }
    super::tenants::ensure_exists(state, tenant).await?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let dek = data_key(state, &mut tx, tenant).await?;
    let (nonce, ct) = kms::seal(&dek, value.as_bytes(), &aad(tenant, name)).map_err(AppError::Internal)?;
    let row = store::secret_put(&mut tx, tenant, name, &nonce, &ct, &principal.subject).await?;
    let event = SecretChanged { tenant_id: tenant, name: name.to_owned(), version: row.version, deleted: false };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(meta(&row))
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn list(state: &AppState, principal: &Principal, tenant: TenantId) -> Result<Vec<SecretMeta>, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::ProviderAdmin])?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    Ok(store::secret_list(&mut tx).await?.iter().map(meta).collect())
}

/// Reveals a secret's value to the tenant's admins.
#[tracing::instrument(skip_all, fields(tenant = %tenant, secret = name))]
pub async fn reveal(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    name: &str,
) -> Result<SecretValue, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::ProviderAdmin])?;
    validate_name(name)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::secret_get(&mut tx, name).await?.ok_or_else(|| AppError::not_found("secret", name))?;
    let dek = data_key(state, &mut tx, tenant).await?;
    let plain = kms::open(&dek, &row.nonce, &row.ciphertext, &aad(tenant, name)).map_err(AppError::Internal)?;
    tracing::info!(%tenant, secret = name, actor = %principal.subject, "tenant secret revealed");
    Ok(SecretValue { meta: meta(&row), value: String::from_utf8(plain).map_err(|e| AppError::Internal(e.into()))? })
}

#[tracing::instrument(skip_all, fields(tenant = %tenant, secret = name))]
pub async fn delete(state: &AppState, principal: &Principal, tenant: TenantId, name: &str) -> Result<(), AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::ProviderAdmin])?;
    validate_name(name)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let version = store::secret_delete(&mut tx, name).await?.ok_or_else(|| AppError::not_found("secret", name))?;
    let event = SecretChanged { tenant_id: tenant, name: name.to_owned(), version: version + 1, deleted: true };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(())
}
