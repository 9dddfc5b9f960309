//! A tenant's webhook endpoints. Each has a URL (checked as outbound: never cloud
//! metadata, and with `BLOCK_PRIVATE_HOSTS` never the cluster's insides), the event types
//! it wants (none: every type), and a signing secret sealed by the KMS; the secret is
//! shown to the tenant's administrators on request (`GET …/secret`), never in a write's
//! response, which the idempotency layer keeps for retries. Rotating it keeps the
//! old one signing until its grace ends, so a receiver can switch without losing a
//! message. Every change is an event (`notification.endpoint.changed.v1`).

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::notification::EndpointChanged,
    ids::{EndpointId, TenantId},
};
use mirai_kit::{
    AppError, Principal,
    pagination::{Page, PageParams},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ADMINS;
use crate::{
    AppState, events, sign,
    store::{self, EndpointRow},
};

/// An endpoint as its tenant sees it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct Endpoint {
    #[schema(value_type = uuid::Uuid)]
    pub id: EndpointId,
    pub url: String,
    pub description: String,
    /// The event types it receives; empty: every type.
    pub event_types: Vec<String>,
    /// False: it receives nothing until enabled again.
    pub enabled: bool,
    /// Why it was disabled (by its tenant, or after sustained failure).
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed, if it is failing.
    pub failing_since: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Self {
            id: r.id,
            url: r.url,
            description: r.description,
            event_types: r.event_types,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            failing_since: r.failing_since,
            consecutive_failures: r.consecutive_failures,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An endpoint's signing secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct Secret {
    /// `whsec_…`.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// An absolute http(s) URL, at most 2000 characters (HTTPS in production).
    pub url: String,
    /// Up to 500 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// Event types to receive (`GET …/event-types`); absent or empty: every type.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Bring your own secret (`whsec_` and 24 to 64 bytes in base64); absent: generated.
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// `true` enables a disabled endpoint again (its failure count starts over); `false`
    /// disables it. Messages that arrive while it is disabled are not delivered to it;
    /// replay them once it is back.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// The new secret (`whsec_…`); absent: generated.
    #[serde(default)]
    pub secret: Option<String>,
    /// How long the old secret still signs, 0 to 604800 seconds (default: the service's
    /// `SECRET_GRACE_SECS`, a day).
    #[serde(default)]
    pub grace_secs: Option<u64>,
}

/// The most endpoints a tenant may have (each event is sent to every one of them).
const MAX_ENDPOINTS: i64 = 50;

fn check_url(state: &AppState, raw: &str) -> Result<String, AppError> {
    let block = state.settings.block_private_hosts;
    let url = mirai_kit::outbound::check_url("url", raw, block, true)?;
    // Where private hosts are refused (production), so is cleartext.
    if block && !url.starts_with("https://") {
        return Err(AppError::invalid("url", "must be https"));
    }
    Ok(url)
}

fn check_description(d: Option<&str>) -> Result<String, AppError> {
    let d = d.unwrap_or("").trim();
    if d.chars().count() > 500 {
        return Err(AppError::invalid("description", "at most 500 characters"));
    }
    Ok(d.to_owned())
}

fn check_types(types: &[String]) -> Result<Vec<String>, AppError> {
    if types.len() > 100 {
        return Err(AppError::invalid("event_types", "at most 100"));
    }
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for (i, t) in types.iter().enumerate() {
        if !events::DELIVERABLE.contains(&t.as_str()) {
            return Err(AppError::invalid(
                &format!("event_types/{i}"),
                format!("`{t}` is not a deliverable event type (GET /api/v1/notification/event-types)"),
            ));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

fn context(tenant: TenantId, endpoint: EndpointId) -> Vec<u8> {
    format!("mirai-webhook-secret/{tenant}/{endpoint}").into_bytes()
}

async fn store_secret(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    endpoint: EndpointId,
    given: Option<&str>,
) -> Result<(), AppError> {
    let secret = match given {
        Some(s) => {
            sign::key_of(s.trim()).map_err(|m| AppError::invalid("secret", m))?;
            s.trim().to_owned()
        }
        None => sign::new_secret(),
    };
    let (kek_id, sealed) = state.kms.seal(secret.as_bytes(), &context(tenant, endpoint)).map_err(AppError::Internal)?;
    store::secret_insert(tx, tenant, endpoint, Uuid::now_v7(), &kek_id, &sealed).await?;
    Ok(())
}

/// The keys an endpoint signs with now, the current one first.
pub async fn signing_keys(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    endpoint: EndpointId,
) -> Result<Vec<(String, Option<DateTime<Utc>>)>, AppError> {
    let mut out = Vec::new();
    for s in store::secrets_valid(tx, endpoint).await? {
        let plain = state.kms.open(&s.kek_id, &s.sealed, &context(tenant, endpoint)).map_err(AppError::Internal)?;
        out.push((String::from_utf8(plain).map_err(|e| AppError::Internal(e.into()))?, s.expires_at));
    }
    Ok(out)
}

async fn changed(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    p: &Principal,
    row: &EndpointRow,
    change: &str,
) -> Result<(), AppError> {
    let event = EndpointChanged {
        tenant_id: row.tenant_id,
        endpoint_id: row.id,
        change: change.to_owned(),
        enabled: row.enabled,
        reason: row.disabled_reason.clone(),
        actor: p.subject.clone(),
        at: Utc::now(),
    };
    state.ctx.publish(tx, p, event.into()).await
}

async fn get_row(tx: &mut sqlx::PgConnection, id: EndpointId, lock: bool) -> Result<EndpointRow, AppError> {
    store::endpoint_get(tx, id, lock).await?.ok_or_else(|| AppError::not_found("endpoint", id))
}

pub async fn create(state: &AppState, p: &Principal, input: CreateEndpoint) -> Result<Endpoint, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let url = check_url(state, &input.url)?;
    let description = check_description(input.description.as_deref())?;
    let types = check_types(&input.event_types)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    // Counted under a lock, so two creations at once cannot both pass the limit.
    mirai_kit::db::xact_lock(&mut tx, &format!("notification.endpoints:{tenant}")).await?;
    if store::endpoints_count(&mut tx).await? >= MAX_ENDPOINTS {
        return Err(AppError::Conflict(format!("a tenant has at most {MAX_ENDPOINTS} webhook endpoints")));
    }
    let id = EndpointId::new();
    let row = store::endpoint_insert(&mut tx, id, tenant, &url, &description, &types).await?;
    store_secret(state, &mut tx, tenant, id, input.secret.as_deref()).await?;
    changed(state, &mut tx, p, &row, "created").await?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn get(state: &AppState, p: &Principal, id: EndpointId) -> Result<Endpoint, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = get_row(&mut tx, id, false).await?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn list(state: &AppState, p: &Principal, page: PageParams) -> Result<Page<Endpoint>, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::endpoints_list(&mut tx, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page =
        Page::from_rows(rows, limit, |r| mirai_kit::pagination::Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

pub async fn update(
    state: &AppState,
    p: &Principal,
    id: EndpointId,
    input: UpdateEndpoint,
) -> Result<Endpoint, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let url = match &input.url {
        Some(u) => Some(check_url(state, u)?),
        None => None,
    };
    let description = match &input.description {
        Some(d) => Some(check_description(Some(d))?),
        None => None,
    };
    let types = match &input.event_types {
        Some(t) => Some(check_types(t)?),
        None => None,
    };
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let before = get_row(&mut tx, id, true).await?;
    let enabled = input.enabled.unwrap_or(before.enabled);
    let (reason, mut reset) = match (before.enabled, enabled) {
        (false, true) => (None, true),
        (true, false) => (Some(format!("disabled by {}", p.subject)), false),
        _ => (before.disabled_reason.clone(), false),
    };
    // A new URL is a new receiver: the old one's failures do not count against it.
    reset |= url.as_deref().is_some_and(|u| u != before.url);
    let row = store::endpoint_update(
        &mut tx,
        id,
        url.as_deref().unwrap_or(&before.url),
        description.as_deref().unwrap_or(&before.description),
        types.as_deref().unwrap_or(&before.event_types),
        enabled,
        reason.as_deref(),
        reset,
    )
    .await?;
    if before.enabled && !enabled {
        store::deliveries_fail_pending(&mut tx, id, "the endpoint was disabled").await?;
    }
    let change = match (before.enabled, enabled) {
        (false, true) => "enabled",
        (true, false) => "disabled",
        _ => "updated",
    };
    changed(state, &mut tx, p, &row, change).await?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn delete(state: &AppState, p: &Principal, id: EndpointId) -> Result<(), AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let mut row = get_row(&mut tx, id, true).await?;
    store::endpoint_delete(&mut tx, id).await?;
    row.enabled = false;
    changed(state, &mut tx, p, &row, "deleted").await?;
    tx.commit().await?;
    Ok(())
}

pub async fn secret(state: &AppState, p: &Principal, id: EndpointId) -> Result<Secret, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    get_row(&mut tx, id, false).await?;
    let keys = signing_keys(state, &mut tx, tenant, id).await?;
    tx.commit().await?;
    let current = keys.into_iter().find(|(_, exp)| exp.is_none()).map(|(s, _)| s);
    Ok(Secret { secret: current.ok_or_else(|| AppError::Internal(anyhow::anyhow!("endpoint {id} has no secret")))? })
}

pub async fn rotate(
    state: &AppState,
    p: &Principal,
    id: EndpointId,
    input: RotateSecret,
) -> Result<Endpoint, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let grace = input.grace_secs.unwrap_or(state.settings.secret_grace.as_secs());
    if grace > 604_800 {
        return Err(AppError::invalid("grace_secs", "0 to 604800"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = get_row(&mut tx, id, true).await?;
    store::secrets_expire(&mut tx, id, Utc::now() + chrono::Duration::seconds(grace as i64)).await?;
    store_secret(state, &mut tx, tenant, id, input.secret.as_deref()).await?;
    changed(state, &mut tx, p, &row, "secret_rotated").await?;
    tx.commit().await?;
    Ok(row.into())
}
