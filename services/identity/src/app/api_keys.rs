//! Per-tenant API keys: the secret is shown once and stored as its SHA-256 (a 256-bit
//! random secret needs no slow hash); every service learns the key from its events.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::identity::{ApiKeyCreated, ApiKeyRevoked},
    ids::TenantId,
};
use mirai_kit::{
    AppError, Principal, Role,
    auth::CredentialKind,
    pagination::{Cursor, Page, PageParams},
};
use serde::Serialize;
use uuid::Uuid;

use crate::{AppState, crypto, store::api_keys as store};

/// The scopes an API key may carry (xAPI's plus the platform's).
pub const KNOWN_SCOPES: &[&str] =
    &["statements/write", "statements/read", "statements/read/mine", "state", "define", "profile", "all/read", "all"];

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// The key id (`mk_…`); also the HTTP Basic user name and OAuth `client_id`.
    pub id: String,
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    pub name: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<store::ApiKeyRow> for ApiKey {
    fn from(r: store::ApiKeyRow) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            name: r.name,
            roles: r.roles,
            scopes: r.scopes,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// A created key with its secret, returned exactly once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The full credential for `Authorization: Bearer`; not retrievable again.
    pub secret: String,
    /// The secret part alone, the HTTP Basic password (user name = `id`).
    pub basic_password: String,
}

pub struct NewApiKey {
    pub name: String,
    pub roles: Option<Vec<Role>>,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[tracing::instrument(skip_all, fields(tenant = tracing::field::Empty, key = tracing::field::Empty))]
pub async fn create(state: &AppState, principal: &Principal, input: NewApiKey) -> Result<CreatedApiKey, AppError> {
    let tenant = TenantId::from(principal.tenant()?);
    tracing::Span::current().record("tenant", tracing::field::display(tenant));
    principal.require_any(&[Role::OrgAdmin, Role::ProviderAdmin])?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::invalid("name", "must be 1 to 100 characters"));
    }
    let roles = match input.roles {
        None => principal.roles.iter().copied().filter(|r| *r != Role::PlatformAdmin).collect(),
        Some(rs) => {
            if let Some(r) = rs.iter().find(|r| !principal.has_role(**r) || **r == Role::PlatformAdmin) {
                return Err(AppError::invalid(
                    "roles",
                    format!("cannot grant `{}`, which you do not hold", r.as_str()),
                ));
            }
            rs
        }
    };
    if let Some(s) = input.scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(AppError::invalid("scopes", format!("unknown scope `{s}`")));
    }
    // A scoped credential (an API key, a client token) delegates at most what it holds:
    // a key limited to reading statements cannot mint one that writes them.
    if principal.kind != CredentialKind::User && !principal.has_scope("all") {
        if input.scopes.is_empty() && !principal.scopes.is_empty() {
            return Err(AppError::invalid("scopes", "a scoped credential must name the scopes it delegates"));
        }
        if let Some(s) = input.scopes.iter().find(|s| !principal.has_scope(s)) {
            return Err(AppError::invalid(
                "scopes",
                format!("cannot grant `{s}`, which this credential does not hold"),
            ));
        }
    }
    if input.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(AppError::invalid("expires_at", "must be in the future"));
    }
    let id = format!("mk_{}", Uuid::now_v7().simple());
    tracing::Span::current().record("key", id.as_str());
    let secret = crypto::random_token(32);
    let mut roles: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
    roles.sort();
    roles.dedup();
    let row = store::ApiKeyRow {
        id: id.clone(),
        tenant_id: tenant,
        name: name.to_owned(),
        secret_sha256: crypto::sha256_hex(&secret),
        roles,
        scopes: input.scopes,
        expires_at: input.expires_at,
        revoked_at: None,
        last_used_at: None,
        created_by: principal.subject.clone(),
        revision: 1,
        created_at: Utc::now(),
    };
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    // A key minting a key: lock its row (a concurrent revocation holds it, so the two are
    // serialized) and refuse if it is revoked, so no child is born during a revocation
    // that the revocation's sweep of descendants would miss.
    if let Some(creator) =
        principal.subject.strip_prefix("apikey:").or_else(|| principal.subject.strip_prefix("client:"))
        && !store::api_key_live_for_share(&mut tx, creator).await?
    {
        return Err(AppError::Unauthenticated("the API key has been revoked".into()));
    }
    let row = store::api_key_insert(&mut tx, &row).await?;
    let event = ApiKeyCreated {
        key_id: row.id.clone(),
        tenant_id: tenant,
        name: row.name.clone(),
        secret_sha256: row.secret_sha256.clone(),
        roles: row.roles.clone(),
        scopes: row.scopes.clone(),
        expires_at: row.expires_at,
        created_by: row.created_by.clone(),
        revision: row.revision,
    };
    state.ctx.publish(&mut tx, principal, event.into()).await?;
    tx.commit().await?;
    Ok(CreatedApiKey { secret: format!("{id}_{secret}"), basic_password: secret, key: row.into() })
}

#[tracing::instrument(skip_all, fields(tenant = tracing::field::Empty))]
pub async fn list(state: &AppState, principal: &Principal, page: &PageParams) -> Result<Page<ApiKey>, AppError> {
    let tenant = principal.tenant()?;
    tracing::Span::current().record("tenant", tracing::field::display(tenant));
    principal.require_any(&[Role::OrgAdmin, Role::ProviderAdmin])?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let rows = store::api_key_list(&mut tx, page.cursor()?, limit).await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows.into_iter().map(ApiKey::from).collect(), limit, |k| Cursor {
        created_at: k.created_at,
        id: Uuid::parse_str(k.id.trim_start_matches("mk_")).unwrap_or_default(),
    }))
}

#[tracing::instrument(skip_all, fields(tenant = tracing::field::Empty, key = %id))]
pub async fn get(state: &AppState, principal: &Principal, id: &str) -> Result<ApiKey, AppError> {
    let tenant = principal.tenant()?;
    tracing::Span::current().record("tenant", tracing::field::display(tenant));
    principal.require_any(&[Role::OrgAdmin, Role::ProviderAdmin])?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let row = store::api_key_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("api key", id))?;
    Ok(row.into())
}

/// Revokes the key (idempotent: revoking a revoked key returns it unchanged).
#[tracing::instrument(skip_all, fields(tenant = tracing::field::Empty, key = %id))]
pub async fn revoke(state: &AppState, principal: &Principal, id: &str) -> Result<ApiKey, AppError> {
    let tenant = principal.tenant()?;
    tracing::Span::current().record("tenant", tracing::field::display(tenant));
    principal.require_any(&[Role::OrgAdmin, Role::ProviderAdmin])?;
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let (row, newly) = match store::api_key_revoke(&mut tx, id).await? {
        Some(row) => (row, true),
        None => (store::api_key_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("api key", id))?, false),
    };
    // Keys this key created (directly, through its client tokens, or further down) die
    // with it: a leaked key cannot leave a live descendant behind. Revoking an already
    // revoked key sweeps again (keys revoked before descendants were swept).
    let descendants = store::api_key_revoke_descendants(&mut tx, id).await?;
    if !newly && descendants.is_empty() {
        return Ok(row.into());
    }
    let mut events = Vec::with_capacity(1 + descendants.len());
    for r in std::iter::once(&row).filter(|_| newly).chain(&descendants) {
        // The revoking UPDATE sets `revoked_at = now()`, so the row always carries it.
        let revoked_at = r.revoked_at.ok_or_else(|| anyhow::anyhow!("revoked api key {} has no revoked_at", r.id))?;
        events.push(
            ApiKeyRevoked {
                key_id: r.id.clone(),
                tenant_id: tenant.into(),
                revoked_at,
                revoked_by: principal.subject.clone(),
                revision: r.revision,
            }
            .into(),
        );
    }
    state.ctx.emit(&mut tx, &principal.event_meta(), events).await?;
    tx.commit().await?;
    if !descendants.is_empty() {
        tracing::info!(descendants = descendants.len(), "api key revoked with the keys it created");
    }
    Ok(row.into())
}

/// Applies API-key use reported by every instance (core NATS, queue group: one identity
/// replica takes each report) until `cancel`.
pub async fn record_usage(state: AppState, cancel: tokio_util::sync::CancellationToken) {
    use futures::StreamExt;
    use mirai_kit::auth::keystore::{APIKEY_USAGE_SUBJECT, ApiKeyUsage};
    let bus = state.ctx.bus.clone();
    let mut sub = match bus.client.queue_subscribe(bus.subject(APIKEY_USAGE_SUBJECT), "identity-usage".into()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "api key usage: cannot subscribe");
            return;
        }
    };
    loop {
        let msg = tokio::select! {
            _ = cancel.cancelled() => return,
            m = sub.next() => m,
        };
        let Some(msg) = msg else { return };
        let Ok(used) = serde_json::from_slice::<Vec<ApiKeyUsage>>(&msg.payload) else {
            continue;
        };
        for u in used {
            let result = async {
                let mut tx = state.ctx.db.tenant_tx(u.tenant_id).await?;
                store::api_key_touch(&mut tx, &u.key_id, u.at).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, key = %u.key_id, "api key usage: not recorded");
            }
        }
    }
}
