//! Tenant settings (a JSON object the tenant's admins own) and feature flags (known keys
//! with defaults; AI features default off until a tenant turns them on).

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::tenant::{FeatureFlagChanged, SettingsUpdated},
    ids::TenantId,
};
use mirai_kit::{AppError, Principal, Role};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{AppState, store::settings as store};

const MAX_SETTINGS_BYTES: usize = 64 * 1024;

/// Every flag and its default. AI features are off until the tenant opts in.
pub const FLAGS: &[(&str, bool, &str)] = &[
    ("ai.authoring", false, "AI drafting of course content"),
    ("ai.grading", false, "AI-assisted grading with human review"),
    ("ai.tutor", false, "AI tutor for learners"),
    ("ai.semantic_search", false, "Embedding-based search"),
    ("offline.bundles", true, "Signed offline course bundles for the PWA"),
    ("marketplace.purchases", true, "Buying courses from the marketplace"),
];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Settings {
    pub settings: Value,
    pub revision: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeatureFlag {
    pub key: String,
    pub enabled: bool,
    pub default: bool,
    pub description: String,
    /// Null while the flag is at its default.
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn get(state: &AppState, principal: &Principal, tenant: TenantId) -> Result<Settings, AppError> {
    principal.require_in_tenant(tenant.into(), &Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    Ok(match store::settings_get(&mut tx, tenant).await? {
        Some((s, revision)) => Settings { settings: s.0, revision },
        None => Settings { settings: json!({}), revision: 0 },
    })
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn put(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    settings: Value,
) -> Result<Settings, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::ProviderAdmin])?;
    let Value::Object(map) = &settings else {
        return Err(AppError::invalid("settings", "must be a JSON object"));
    };
    if serde_json::to_vec(&settings).map(|b| b.len()).unwrap_or(usize::MAX) > MAX_SETTINGS_BYTES {
        return Err(AppError::invalid("settings", "must be at most 64 KiB"));
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    super::tenants::ensure_exists(state, tenant).await?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let revision = store::settings_put(&mut tx, tenant, &settings).await?;
    let event = SettingsUpdated { tenant_id: tenant, revision, keys };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(Settings { settings, revision })
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn flags(state: &AppState, principal: &Principal, tenant: TenantId) -> Result<Vec<FeatureFlag>, AppError> {
    principal.require_in_tenant(tenant.into(), &Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let set = store::flag_list(&mut tx).await?;
    Ok(FLAGS
        .iter()
        .map(|(key, default, description)| {
            let row = set.iter().find(|r| r.key == *key);
            FeatureFlag {
                key: (*key).into(),
                enabled: row.map_or(*default, |r| r.enabled),
                default: *default,
                description: (*description).into(),
                updated_by: row.map(|r| r.updated_by.clone()),
                updated_at: row.map(|r| r.updated_at),
            }
        })
        .collect())
}

#[tracing::instrument(skip_all, fields(tenant = %tenant, flag = key))]
pub async fn set_flag(
    state: &AppState,
    principal: &Principal,
    tenant: TenantId,
    key: &str,
    enabled: bool,
) -> Result<FeatureFlag, AppError> {
    principal.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::ProviderAdmin])?;
    if !FLAGS.iter().any(|(k, _, _)| *k == key) {
        return Err(AppError::not_found("feature flag", key));
    }
    super::tenants::ensure_exists(state, tenant).await?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::flag_put(&mut tx, tenant, key, enabled, &principal.subject).await?;
    let event = FeatureFlagChanged { tenant_id: tenant, key: key.to_owned(), enabled };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    flags(state, principal, tenant)
        .await?
        .into_iter()
        .find(|f| f.key == key)
        .ok_or_else(|| AppError::not_found("feature flag", key))
}
