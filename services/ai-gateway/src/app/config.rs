//! A tenant's AI configuration (org or provider admins): provider credentials (the API key
//! sealed with AES-256-GCM under the tenant's data key, which is stored only wrapped by
//! the KMS; never returned, logged or put in an event), routes per feature, budgets and
//! the safety policy.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::TenantId;
use mirai_kit::{AppError, Principal, Role, kms};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{
    AppState,
    provider::{Endpoint, Kind},
    store,
};

const ADMINS: &[Role] = &[Role::OrgAdmin, Role::ProviderAdmin];

/// The built-in provider: the local embedding model.
pub const LOCAL: &str = "local";

/// One model behind a provider, with its prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A provider configuration of the tenant.
    pub provider: String,
    /// The vendor's model name, e.g. `gpt-4o-mini`, `claude-sonnet-4-5`, `gemini-2.5-flash`.
    pub model: String,
    /// Micro-units per 1,000 input tokens (0 for a free or local model).
    #[serde(default)]
    pub input_micros_per_1k: i64,
    /// Micro-units per 1,000 output tokens.
    #[serde(default)]
    pub output_micros_per_1k: i64,
}

impl Target {
    pub fn cost(&self, tokens_in: i64, tokens_out: i64) -> i64 {
        let micros = i128::from(tokens_in.max(0)) * i128::from(self.input_micros_per_1k)
            + i128::from(tokens_out.max(0)) * i128::from(self.output_micros_per_1k);
        i64::try_from((micros + 999) / 1000).unwrap_or(i64::MAX)
    }
}

pub type TargetList = Vec<Target>;

// ---- providers ---------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Provider {
    pub name: String,
    pub kind: Kind,
    pub base_url: String,
    /// Whether an API key is stored (it is never shown).
    pub has_key: bool,
    pub timeout_ms: i32,
    /// Payloads to a cloud provider are PII-redacted (when the policy says so).
    pub cloud: bool,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

fn provider_view(r: &store::ProviderRow) -> Provider {
    Provider {
        name: r.name.clone(),
        kind: Kind::parse(&r.kind).unwrap_or(Kind::Openai),
        base_url: r.base_url.clone(),
        has_key: r.key_ciphertext.is_some(),
        timeout_ms: r.timeout_ms,
        cloud: r.cloud,
        version: r.version,
        updated_by: r.updated_by.clone(),
        updated_at: r.updated_at,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    pub kind: Kind,
    /// `https://api.openai.com/v1`, `https://api.anthropic.com`,
    /// `https://generativelanguage.googleapis.com`, `http://ollama.internal:11434/v1`, ...
    pub base_url: String,
    /// The vendor API key; omit to keep the stored one (or for a keyless local server).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Per-attempt timeout, 100 to 600000 ms (default 30000).
    #[serde(default)]
    pub timeout_ms: Option<i32>,
    /// Whether data sent there leaves the platform (default true).
    #[serde(default)]
    pub cloud: Option<bool>,
}

fn check_name(name: &str) -> Result<(), AppError> {
    let ok = (1..=63).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(AppError::invalid("name", "1-63 of a-z, 0-9, `-`, `_`")) }
}

/// A vendor's model name, as it goes into a URL path (Gemini) or a JSON body: no path,
/// query or fragment characters, no `..`.
fn model_name_ok(model: &str) -> bool {
    let name = model.strip_prefix("models/").unwrap_or(model);
    (1..=200).contains(&name.len())
        && !name.contains("..")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:@".contains(&b))
}

fn key_aad(tenant: TenantId, name: &str) -> Vec<u8> {
    format!("mirai-ai-provider/{tenant}/{name}").into_bytes()
}

/// The tenant's data key, created (and wrapped by the KMS) on first use.
async fn data_key(state: &AppState, tx: &mut PgConnection, tenant: TenantId) -> Result<[u8; 32], AppError> {
    let context = tenant.as_uuid().as_bytes().to_vec();
    let (kek_id, wrapped) = match store::data_key_get(tx).await? {
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

#[tracing::instrument(skip_all, fields(provider = name))]
pub async fn put_provider(
    state: &AppState,
    principal: &Principal,
    name: &str,
    input: ProviderInput,
) -> Result<Provider, AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    check_name(name)?;
    if name == LOCAL || input.kind == Kind::Local {
        return Err(AppError::invalid(
            "kind",
            "the local embedding model is built in as provider `local`; it needs no configuration",
        ));
    }
    let base_url =
        mirai_kit::outbound::check_url("base_url", &input.base_url, state.settings.block_private_hosts, false)?;
    let timeout_ms = input.timeout_ms.unwrap_or(30_000);
    if !(100..=600_000).contains(&timeout_ms) {
        return Err(AppError::invalid("timeout_ms", "must be 100 to 600000"));
    }
    if let Some(k) = &input.api_key
        && (k.trim().is_empty() || k.len() > 4096 || k.chars().any(char::is_control))
    {
        return Err(AppError::invalid("api_key", "must be 1 to 4096 printable characters"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    // A stored key goes only where it was sent for: moving a provider elsewhere needs the
    // key again, so an admin session cannot redirect it to a host of its choosing.
    if input.api_key.is_none()
        && let Some(old) = store::provider_list(&mut tx).await?.into_iter().find(|p| p.name == name)
        && old.key_ciphertext.is_some()
        && (old.base_url != base_url || old.kind != input.kind.as_str())
    {
        return Err(AppError::invalid("api_key", "send the API key again when changing base_url or kind"));
    }
    let key = match &input.api_key {
        None => None,
        Some(k) => {
            let dek = data_key(state, &mut tx, tenant).await?;
            Some(kms::seal(&dek, k.trim().as_bytes(), &key_aad(tenant, name)).map_err(AppError::Internal)?)
        }
    };
    let row = store::provider_put(
        &mut tx,
        tenant,
        store::ProviderPut {
            name,
            kind: input.kind.as_str(),
            base_url: &base_url,
            key,
            timeout_ms,
            cloud: input.cloud.unwrap_or(true),
            by: &principal.subject,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(%tenant, provider = name, actor = %principal.subject, "ai provider configured");
    Ok(provider_view(&row))
}

pub async fn list_providers(state: &AppState, principal: &Principal) -> Result<Vec<Provider>, AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    Ok(store::provider_list(&mut tx).await?.iter().map(provider_view).collect())
}

pub async fn delete_provider(state: &AppState, principal: &Principal, name: &str) -> Result<(), AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    check_name(name)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let users = store::routes_using(&mut tx, name).await?;
    if !users.is_empty() {
        return Err(AppError::Conflict(format!("routes still send to `{name}`: {}", users.join(", "))));
    }
    if !store::provider_delete(&mut tx, name).await? {
        return Err(AppError::not_found("provider", name));
    }
    tx.commit().await?;
    Ok(())
}

/// The endpoints of the tenant's providers, keys opened, by name.
pub async fn endpoints(
    state: &AppState,
    tx: &mut PgConnection,
    tenant: TenantId,
) -> Result<Vec<(String, Endpoint, bool)>, AppError> {
    let rows = store::provider_list(tx).await?;
    let needs_key = rows.iter().any(|r| r.key_ciphertext.is_some());
    let dek = if needs_key { Some(data_key(state, tx, tenant).await?) } else { None };
    rows.into_iter()
        .map(|r| {
            let api_key = match (&r.key_nonce, &r.key_ciphertext, &dek) {
                (Some(n), Some(c), Some(dek)) => {
                    let plain = kms::open(dek, n, c, &key_aad(tenant, &r.name)).map_err(AppError::Internal)?;
                    Some(String::from_utf8(plain).map_err(|e| AppError::Internal(e.into()))?)
                }
                _ => None,
            };
            let kind = Kind::parse(&r.kind).ok_or_else(|| AppError::Internal(anyhow::anyhow!("kind {}", r.kind)))?;
            let ep = Endpoint {
                kind,
                base_url: r.base_url,
                api_key,
                timeout: std::time::Duration::from_millis(r.timeout_ms as u64),
            };
            Ok((r.name, ep, r.cloud))
        })
        .chain(std::iter::once(Ok((
            LOCAL.to_owned(),
            Endpoint {
                kind: Kind::Local,
                base_url: LOCAL.to_owned(),
                api_key: None,
                timeout: std::time::Duration::from_secs(60),
            },
            false,
        ))))
        .collect()
}

// ---- routes ------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Route {
    pub feature: String,
    /// Tried in order: the first is the model, the rest are fallbacks.
    pub targets: Vec<Target>,
    /// The cheaper target used once a budget passes its degrade threshold.
    pub degrade: Option<Target>,
    /// The pinned prompt, `id@version`.
    pub prompt: Option<String>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

fn route_view(r: store::RouteRow) -> Route {
    Route {
        feature: r.feature,
        targets: r.targets.0,
        degrade: r.degrade.map(|d| d.0),
        prompt: r.prompt,
        updated_by: r.updated_by,
        updated_at: r.updated_at,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteInput {
    /// 1 to 4 targets: the model, then its fallbacks.
    pub targets: Vec<Target>,
    #[serde(default)]
    pub degrade: Option<Target>,
    /// Pin a registered prompt, `id@version`.
    #[serde(default)]
    pub prompt: Option<String>,
}

pub async fn put_route(
    state: &AppState,
    principal: &Principal,
    feature: &str,
    input: RouteInput,
) -> Result<Route, AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    super::check_feature(feature)?;
    if feature != super::MODERATION {
        super::area(feature)?;
    }
    if input.targets.is_empty() || input.targets.len() > 4 {
        return Err(AppError::invalid("targets", "1 to 4 targets"));
    }
    if let Some(p) = &input.prompt {
        let pinned = p.contains('@') && crate::prompts::registry().get(p).is_some();
        if !pinned {
            return Err(AppError::invalid("prompt", format!("`{p}` is not a registered prompt `id@version`")));
        }
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let providers = store::provider_list(&mut tx).await?;
    for (i, t) in input.targets.iter().chain(input.degrade.iter()).enumerate() {
        let field = if i < input.targets.len() { format!("targets/{i}") } else { "degrade".to_owned() };
        if t.provider != LOCAL && !providers.iter().any(|p| p.name == t.provider) {
            return Err(AppError::invalid(&format!("{field}/provider"), format!("no provider `{}`", t.provider)));
        }
        if !model_name_ok(&t.model) {
            return Err(AppError::invalid(
                &format!("{field}/model"),
                "1-200 of A-Z, a-z, 0-9, `.`, `_`, `-`, `:`, `@` (optionally after `models/`)",
            ));
        }
        if !(0..=100_000_000).contains(&t.input_micros_per_1k) || !(0..=100_000_000).contains(&t.output_micros_per_1k) {
            return Err(AppError::invalid(&field, "prices are 0 to 100000000 micros per 1k tokens"));
        }
    }
    let row = store::route_put(
        &mut tx,
        tenant,
        feature,
        &input.targets,
        input.degrade.as_ref(),
        input.prompt.as_deref(),
        &principal.subject,
    )
    .await?;
    tx.commit().await?;
    Ok(route_view(row))
}

pub async fn list_routes(state: &AppState, principal: &Principal) -> Result<Vec<Route>, AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    Ok(store::route_list(&mut tx).await?.into_iter().map(route_view).collect())
}

pub async fn delete_route(state: &AppState, principal: &Principal, feature: &str) -> Result<(), AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    super::check_feature(feature)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    if !store::route_delete(&mut tx, feature).await? {
        return Err(AppError::not_found("route", feature));
    }
    tx.commit().await?;
    Ok(())
}

// ---- budgets -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Budget {
    /// `*` for the whole tenant, or a feature.
    pub scope: String,
    pub period: Period,
    pub max_tokens: Option<i64>,
    pub max_cost_micros: Option<i64>,
    /// Past this share of a limit, calls go to the route's cheaper target.
    pub degrade_at_percent: i32,
    /// Settled use in the current period.
    pub used_tokens: i64,
    pub used_cost_micros: i64,
    pub period_start: chrono::NaiveDate,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetInput {
    #[serde(default)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub max_cost_micros: Option<i64>,
    /// 1 to 100, default 80.
    #[serde(default)]
    pub degrade_at_percent: Option<i32>,
}

async fn budget_view(tx: &mut PgConnection, b: store::BudgetRow) -> Result<Budget, AppError> {
    let period = if b.period == "day" { Period::Day } else { Period::Month };
    let start = super::budget::period_start(period, Utc::now());
    let (used_tokens, used_cost_micros) = store::usage_of(tx, &b.scope, &b.period, start).await?;
    Ok(Budget {
        scope: b.scope,
        period,
        max_tokens: b.max_tokens,
        max_cost_micros: b.max_cost_micros,
        degrade_at_percent: b.degrade_at_percent,
        used_tokens,
        used_cost_micros,
        period_start: start,
        updated_by: b.updated_by,
        updated_at: b.updated_at,
    })
}

fn check_scope(scope: &str) -> Result<(), AppError> {
    if scope == "*" { Ok(()) } else { super::check_feature(scope) }
}

pub async fn put_budget(
    state: &AppState,
    principal: &Principal,
    scope: &str,
    period: Period,
    input: BudgetInput,
) -> Result<Budget, AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    check_scope(scope)?;
    if input.max_tokens.is_none() && input.max_cost_micros.is_none() {
        return Err(AppError::invalid("max_tokens", "set max_tokens, max_cost_micros or both"));
    }
    for (field, v) in [("max_tokens", input.max_tokens), ("max_cost_micros", input.max_cost_micros)] {
        if v.is_some_and(|v| !(1..=1_000_000_000_000_000).contains(&v)) {
            return Err(AppError::invalid(field, "must be 1 to 10^18"));
        }
    }
    let degrade = input.degrade_at_percent.unwrap_or(80);
    if !(1..=100).contains(&degrade) {
        return Err(AppError::invalid("degrade_at_percent", "must be 1 to 100"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::budget_put(
        &mut tx,
        tenant,
        &store::BudgetRow {
            scope: scope.to_owned(),
            period: period.as_str().to_owned(),
            max_tokens: input.max_tokens,
            max_cost_micros: input.max_cost_micros,
            degrade_at_percent: degrade,
            updated_by: principal.subject.clone(),
            updated_at: Utc::now(),
        },
    )
    .await?;
    let view = budget_view(&mut tx, row).await?;
    tx.commit().await?;
    Ok(view)
}

pub async fn list_budgets(state: &AppState, principal: &Principal) -> Result<Vec<Budget>, AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let mut out = Vec::new();
    for b in store::budget_list(&mut tx).await? {
        out.push(budget_view(&mut tx, b).await?);
    }
    Ok(out)
}

pub async fn delete_budget(
    state: &AppState,
    principal: &Principal,
    scope: &str,
    period: Period,
) -> Result<(), AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    check_scope(scope)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    if !store::budget_delete(&mut tx, scope, period.as_str()).await? {
        return Err(AppError::not_found("budget", format!("{scope}/{}", period.as_str())));
    }
    tx.commit().await?;
    Ok(())
}

// ---- policy ------------------------------------------------------------------------

/// Moderation categories (OpenAI's names) refused unless a tenant's policy says otherwise.
pub const DEFAULT_BLOCKED: &[&str] =
    &["sexual/minors", "self-harm/instructions", "hate/threatening", "violence/graphic", "illicit/violent"];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Policy {
    /// Moderation categories that block a call (input) or an answer (output).
    pub blocked_categories: Vec<String>,
    /// Words or phrases that block a call or an answer, matched whole, ignoring case.
    pub blocked_terms: Vec<String>,
    /// Replace PII with placeholders before a payload goes to a cloud provider.
    pub redact_pii: bool,
    /// Moderate answers too (when a `safety.moderation` route is set).
    pub moderate_output: bool,
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            blocked_categories: DEFAULT_BLOCKED.iter().map(|s| (*s).to_owned()).collect(),
            blocked_terms: Vec::new(),
            redact_pii: true,
            moderate_output: true,
            updated_by: None,
            updated_at: None,
        }
    }
}

fn policy_view(r: store::PolicyRow) -> Policy {
    Policy {
        blocked_categories: r.blocked_categories,
        blocked_terms: r.blocked_terms,
        redact_pii: r.redact_pii,
        moderate_output: r.moderate_output,
        updated_by: Some(r.updated_by),
        updated_at: Some(r.updated_at),
    }
}

pub async fn policy_in(tx: &mut PgConnection) -> Result<Policy, AppError> {
    Ok(store::policy_get(tx).await?.map(policy_view).unwrap_or_default())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub blocked_categories: Vec<String>,
    #[serde(default)]
    pub blocked_terms: Vec<String>,
    pub redact_pii: bool,
    pub moderate_output: bool,
}

pub async fn get_policy(state: &AppState, principal: &Principal) -> Result<Policy, AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    policy_in(&mut tx).await
}

pub async fn put_policy(state: &AppState, principal: &Principal, input: PolicyInput) -> Result<Policy, AppError> {
    let tenant = principal.own_tenant(ADMINS)?;
    let words = |field: &str, list: &[String], max: usize| -> Result<Vec<String>, AppError> {
        if list.len() > max {
            return Err(AppError::invalid(field, format!("at most {max}")));
        }
        let mut out: Vec<String> = list.iter().map(|s| s.trim().to_owned()).collect();
        if out.iter().any(|s| s.is_empty() || s.len() > 100 || s.chars().any(char::is_control)) {
            return Err(AppError::invalid(field, "each 1 to 100 printable characters"));
        }
        out.sort();
        out.dedup();
        Ok(out)
    };
    let row = store::PolicyRow {
        blocked_categories: words("blocked_categories", &input.blocked_categories, 50)?,
        blocked_terms: words("blocked_terms", &input.blocked_terms, 500)?,
        redact_pii: input.redact_pii,
        moderate_output: input.moderate_output,
        updated_by: principal.subject.clone(),
        updated_at: Utc::now(),
    };
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let saved = store::policy_put(&mut tx, tenant, &row).await?;
    tx.commit().await?;
    Ok(policy_view(saved))
}
