//! A call through the gateway, in order: the caller may use the feature and the tenant
//! has it on (403 `ai-disabled` otherwise); the feature has a route; the input passes the
//! tenant's policy (blocked terms; the `safety.moderation` route's categories); the
//! estimate is reserved against the budgets (429, or the cheaper target past a soft
//! threshold); PII is replaced for cloud-bound targets; the targets are tried in order,
//! each with its timeout, retries with jitter on retryable errors and its circuit breaker
//! (503 when none answers); the answer passes the output policy (a model's refusal or a
//! blocked answer is a 422 the UI can show); the use is settled and the call audited
//! (`ai-gateway.call.completed.v1`) in one transaction.

use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

use axum::{http::StatusCode, response::sse::Event as SseEvent};
use chrono::Utc;
use futures::{Stream, StreamExt};
use mirai_contracts::{
    events::ai_gateway::{CallCompleted, CallDecision},
    ids::{CallId, TenantId},
};
use mirai_kit::{AppError, Principal};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{
    budget::{self, Verdict},
    config::{self, Policy, Target},
};
use crate::{
    AppState,
    breaker::Admit,
    prompts::Prompt,
    provider::{self, ChatRequest, Chunk, Endpoint, Message, ProviderError},
    safety::{self, Redactor},
    store,
};

/// Everything a call needs, read once at its start.
struct Begun {
    tenant: TenantId,
    feature: String,
    capability: &'static str,
    call_id: CallId,
    started: Instant,
    targets: Vec<Target>,
    degrade: Option<Target>,
    pinned: Option<String>,
    endpoints: Vec<(String, Endpoint, bool)>,
    policy: Policy,
    /// The moderation route's endpoint, model, and whether it is a cloud provider.
    moderation: Option<(Endpoint, String, bool)>,
    actor: String,
    trace_id: Option<String>,
}

/// What the audit record says about a finished (or refused) call.
#[derive(Default)]
struct Outcome {
    provider: Option<String>,
    model: Option<String>,
    tokens_in: i64,
    tokens_out: i64,
    cost: i64,
    reason: Option<String>,
    fallback: bool,
    redacted: bool,
    prompt_hash: Option<String>,
    prompt: Option<(String, String)>,
}

fn problem(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> AppError {
    AppError::client(status, slug, title, detail)
}

fn hash_messages(messages: &[Message]) -> String {
    let mut h = Sha256::new();
    for m in messages {
        h.update(serde_json::to_vec(m).unwrap_or_default());
        h.update(b"\n");
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

async fn begin(
    state: &AppState,
    principal: &Principal,
    feature: &str,
    capability: &'static str,
) -> Result<Begun, AppError> {
    super::check_feature(feature)?;
    let (flag, roles) = super::area(feature)?;
    let tenant = principal.own_tenant(roles)?;
    let mut b = Begun {
        tenant,
        feature: feature.to_owned(),
        capability,
        call_id: CallId::new(),
        started: Instant::now(),
        targets: Vec::new(),
        degrade: None,
        pinned: None,
        endpoints: Vec::new(),
        policy: Policy::default(),
        moderation: None,
        actor: principal.subject.clone(),
        trace_id: mirai_trace::current_traceparent().map(|t| t.trace_id),
    };
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    if !mirai_kit::features::enabled(&mut tx, flag).await? {
        drop(tx);
        audit(
            state,
            principal,
            &b,
            CallDecision::Blocked,
            Outcome { reason: Some("feature-disabled".into()), ..Outcome::default() },
        )
        .await?;
        return Err(mirai_kit::features::off(flag));
    }
    let route = store::route_get(&mut tx, feature).await?.ok_or_else(|| {
        problem(
            StatusCode::CONFLICT,
            "ai-no-route",
            "No model route",
            format!("no model route is set for `{feature}`; an admin sets one with PUT /routes/{feature}"),
        )
    })?;
    b.targets = route.targets.0;
    b.degrade = route.degrade.map(|d| d.0);
    b.pinned = route.prompt;
    b.endpoints = config::endpoints(state, &mut tx, tenant).await?;
    b.policy = config::policy_in(&mut tx).await?;
    if let Some(m) = store::route_get(&mut tx, super::MODERATION).await?
        && let Some(t) = m.targets.0.first()
        && let Some((_, ep, cloud)) = b.endpoints.iter().find(|(n, _, _)| *n == t.provider)
    {
        b.moderation = Some((ep.clone(), t.model.clone(), *cloud));
    }
    tx.commit().await?;
    Ok(b)
}

/// Writes the audit event (and, for a call that reserved, its settlement) in one
/// transaction.
async fn audit(
    state: &AppState,
    principal: &Principal,
    b: &Begun,
    decision: CallDecision,
    o: Outcome,
) -> Result<(), AppError> {
    let mut tx = state.ctx.db.tenant_tx(b.tenant.into()).await?;
    record(state, principal, &mut tx, b, decision, o).await?;
    tx.commit().await?;
    Ok(())
}

async fn record(
    state: &AppState,
    principal: &Principal,
    tx: &mut sqlx::PgConnection,
    b: &Begun,
    decision: CallDecision,
    o: Outcome,
) -> Result<(), AppError> {
    let event = CallCompleted {
        tenant_id: b.tenant,
        call_id: b.call_id,
        feature: b.feature.clone(),
        capability: b.capability.to_owned(),
        actor: b.actor.clone(),
        prompt_id: o.prompt.as_ref().map(|p| p.0.clone()),
        prompt_version: o.prompt.as_ref().map(|p| p.1.clone()),
        prompt_hash: o.prompt_hash.unwrap_or_else(|| hash_messages(&[])),
        provider: o.provider,
        model: o.model,
        tokens_in: o.tokens_in,
        tokens_out: o.tokens_out,
        cost_micros: o.cost,
        latency_ms: b.started.elapsed().as_millis() as i64,
        decision,
        reason: o.reason,
        fallback: o.fallback,
        redacted: o.redacted,
        trace_id: b.trace_id.clone(),
        completed_at: Utc::now(),
    };
    state.ctx.publish(tx, principal, event.into()).await
}

async fn settle_and_audit(
    state: &AppState,
    principal: &Principal,
    b: &Begun,
    decision: CallDecision,
    o: Outcome,
) -> Result<(), AppError> {
    let mut tx = state.ctx.db.tenant_tx(b.tenant.into()).await?;
    budget::settle(&mut tx, b.tenant, &b.feature, b.call_id.into(), o.tokens_in + o.tokens_out, o.cost).await?;
    record(state, principal, &mut tx, b, decision, o).await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant's input policy on `texts`: blocked terms, then moderation.
async fn guard(state: &AppState, b: &Begun, texts: &[&str], stage: &str) -> Result<(), (String, AppError)> {
    for t in texts {
        if let Some(term) = safety::blocked_term(t, &b.policy.blocked_terms) {
            let (slug, title) = blocked_problem(stage);
            return Err((
                format!("blocked-term:{stage}"),
                problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    slug,
                    title,
                    format!("the {stage} contains the blocked term `{term}`"),
                ),
            ));
        }
    }
    if stage == "answer" && !b.policy.moderate_output {
        return Ok(());
    }
    let Some((ep, model, cloud)) = &b.moderation else { return Ok(()) };
    let mut text = texts.join("\n\n");
    // The moderation provider is bound by the same redaction rule as the model.
    if *cloud && b.policy.redact_pii {
        text = Redactor::default().redact(&text);
    }
    let flagged = match provider::moderate(&state.http, ep, model, &text).await {
        Ok(f) => f,
        Err(ProviderError::Rejected { status, message }) => {
            return Err((
                "moderation-rejected".into(),
                problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "ai-moderation-rejected",
                    "Moderation refused the text",
                    format!("the tenant's moderation route answered {status}: {}", scrub(&message)),
                ),
            ));
        }
        Err(e) => {
            // Fail closed: a tenant that asked for moderation gets no unmoderated call.
            return Err((
                "moderation-unavailable".into(),
                AppError::Upstream {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    slug: "ai-unavailable",
                    title: "Moderation is unavailable",
                    detail: format!("the tenant's moderation route failed ({e}); the call was not made"),
                    retry_after_secs: Some(5),
                },
            ));
        }
    };
    let hits: Vec<&String> = flagged.iter().filter(|c| b.policy.blocked_categories.contains(c)).collect();
    if let Some(first) = hits.first() {
        let (slug, title) = blocked_problem(stage);
        let names: Vec<&str> = hits.iter().map(|s| s.as_str()).collect();
        return Err((
            format!("moderation:{first}"),
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                slug,
                title,
                format!("the {stage} was flagged for {}, which this tenant's policy blocks", names.join(", ")),
            ),
        ));
    }
    Ok(())
}

/// The tenant's input policy on `texts`; a refusal is audited as blocked and returned.
async fn check_input(
    state: &AppState,
    principal: &Principal,
    b: &Begun,
    texts: &[&str],
    hash: &str,
    prompt: Option<(String, String)>,
) -> Result<(), AppError> {
    if let Err((reason, e)) = guard(state, b, texts, "request").await {
        let o = Outcome { reason: Some(reason), prompt_hash: Some(hash.to_owned()), prompt, ..Outcome::default() };
        audit(state, principal, b, CallDecision::Blocked, o).await?;
        return Err(e);
    }
    Ok(())
}

fn blocked_problem(stage: &str) -> (&'static str, &'static str) {
    if stage == "answer" {
        ("ai-output-blocked", "The answer was blocked by policy")
    } else {
        ("ai-input-blocked", "The request was blocked by policy")
    }
}

/// Reserves the call's estimate; on a refusal the call is audited as blocked.
async fn reserve(
    state: &AppState,
    principal: &Principal,
    b: &Begun,
    tokens: i64,
    hash: &str,
) -> Result<Verdict, AppError> {
    let cost = b.targets.iter().chain(b.degrade.iter()).map(|t| t.cost(tokens, tokens)).max().unwrap_or(0);
    let ttl = b.endpoints.iter().map(|(_, e, _)| e.timeout.as_secs() as i64).max().unwrap_or(30)
        * (i64::from(state.settings.retries) + 1)
        * (b.targets.len() as i64)
        * 2
        + 60;
    let mut tx = state.ctx.db.tenant_tx(b.tenant.into()).await?;
    match budget::reserve(&mut tx, b.tenant, &b.feature, b.call_id.into(), tokens, cost, ttl).await {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            drop(tx);
            let o = Outcome { reason: Some("budget".into()), prompt_hash: Some(hash.to_owned()), ..Outcome::default() };
            audit(state, principal, b, CallDecision::Blocked, o).await?;
            Err(e)
        }
    }
}

/// The targets to try: the route's, or only its cheaper one once degraded.
fn plan(b: &Begun, verdict: &Verdict) -> (Vec<Target>, CallDecision, Option<String>) {
    match (verdict, &b.degrade) {
        (Verdict::Degraded(why), Some(d)) => (vec![d.clone()], CallDecision::Degraded, Some(why.clone())),
        _ => (b.targets.clone(), CallDecision::Allowed, None),
    }
}

/// The messages as a target receives them: redacted when it is a cloud provider and the
/// policy says so.
fn outgoing(b: &Begun, cloud: bool, messages: &[Message], redactor: &mut Redactor) -> Vec<Message> {
    if !(cloud && b.policy.redact_pii) {
        return messages.to_vec();
    }
    messages.iter().map(|m| Message { role: m.role, content: redactor.redact(&m.content) }).collect()
}

/// A vendor's message without anything that looks like a key (`sk-…`, long tokens): a
/// 401's text may quote part of the key it refused.
fn scrub(message: &str) -> String {
    static KEYISH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)\b(sk|pk|rk|key|api[_-]?key)[-_][A-Za-z0-9_*.-]{6,}|[A-Za-z0-9_-]{32,}")
            .expect("scrub pattern")
    });
    KEYISH.replace_all(message, "[redacted]").into_owned()
}

/// Why no target answered.
enum Failure {
    Open(Duration),
    Provider(ProviderError),
}

/// Runs `f` against one target with its breaker and retries.
async fn attempt<T, F, Fut>(state: &AppState, tenant: TenantId, name: &str, mut f: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let mut tries = 0u32;
    loop {
        if let Admit::Open(left) = state.breakers.admit(tenant, name) {
            return Err(Failure::Open(left));
        }
        match f().await {
            Ok(v) => {
                state.breakers.success(tenant, name);
                return Ok(v);
            }
            Err(e) => {
                // A rejection is an answer: the provider is up (and a half-open circuit closes).
                if e.retryable() {
                    state.breakers.failure(tenant, name);
                } else {
                    state.breakers.success(tenant, name);
                }
                if !e.retryable() || tries >= state.settings.retries {
                    return Err(Failure::Provider(e));
                }
                let cap = state.settings.retry_base.as_millis() as u64 * (1 << tries.min(6));
                let wait = rand::RngExt::random_range(&mut rand::rng(), 0..=cap.max(1));
                tracing::info!(provider = name, error = %e, wait_ms = wait, "retrying a provider call");
                tokio::time::sleep(Duration::from_millis(wait)).await;
                tries += 1;
            }
        }
    }
}

/// Turns the last failure into the caller's problem: 503 `ai-unavailable` for outages,
/// timeouts and open circuits (with when to retry), 502 `ai-upstream-rejected` when the
/// provider refused the request.
fn failed(last: Option<Failure>, tried: &[String]) -> (String, AppError) {
    let upstream = |status, slug, title, detail: String, retry: Option<u64>| AppError::Upstream {
        status,
        slug,
        title,
        detail,
        retry_after_secs: retry,
    };
    match last {
        Some(Failure::Provider(ProviderError::Rejected { status, message })) => (
            format!("rejected:{status}"),
            upstream(
                StatusCode::BAD_GATEWAY,
                "ai-upstream-rejected",
                "The model provider rejected the request",
                format!(
                    "{} answered {status}: {}",
                    tried.last().map(String::as_str).unwrap_or("the provider"),
                    scrub(&message)
                ),
                None,
            ),
        ),
        Some(Failure::Open(left)) => (
            "circuit-open".into(),
            upstream(
                StatusCode::SERVICE_UNAVAILABLE,
                "ai-unavailable",
                "The model provider is unavailable",
                format!("the circuit of every target ({}) is open after repeated failures", tried.join(", ")),
                Some(left.as_secs().max(1)),
            ),
        ),
        other => {
            let why = match other {
                Some(Failure::Provider(e)) => scrub(&e.to_string()),
                _ => "no target is configured".into(),
            };
            (
                "unavailable".into(),
                upstream(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ai-unavailable",
                    "The model provider is unavailable",
                    format!("no model answered (tried {}): {why}", tried.join(", ")),
                    Some(5),
                ),
            )
        }
    }
}

// ---- chat --------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatInput {
    /// The feature the call is for, e.g. `tutor.chat`.
    pub feature: String,
    /// 1 to 100 messages.
    pub messages: Vec<Message>,
    /// Most tokens to generate (default and cap: the gateway's settings).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// 0 to 2.
    #[serde(default)]
    pub temperature: Option<f32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatAnswer {
    #[schema(value_type = uuid::Uuid)]
    pub call_id: CallId,
    pub text: String,
    pub provider: String,
    pub model: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_micros: i64,
    /// `allowed` or `degraded`.
    pub decision: String,
    /// A fallback target answered.
    pub fallback: bool,
}

fn check_chat(state: &AppState, input: &ChatInput) -> Result<u32, AppError> {
    if input.messages.is_empty() || input.messages.len() > 100 {
        return Err(AppError::invalid("messages", "1 to 100 messages"));
    }
    let total: usize = input.messages.iter().map(|m| m.content.len()).sum();
    if total == 0 || total > 400_000 {
        return Err(AppError::invalid("messages", "1 byte to 400 KB of text in all"));
    }
    if input.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err(AppError::invalid("temperature", "0 to 2"));
    }
    let max = input.max_tokens.unwrap_or(state.settings.default_output_tokens);
    if max == 0 || max > state.settings.max_output_tokens {
        return Err(AppError::invalid("max_tokens", format!("1 to {}", state.settings.max_output_tokens)));
    }
    Ok(max)
}

fn estimate(messages: &[Message], max_tokens: u32) -> i64 {
    messages.iter().map(|m| safety::estimate_tokens(&m.content)).sum::<i64>() + i64::from(max_tokens)
}

/// One completion through the route, with fallback; the settled outcome and the answer.
async fn complete(
    state: &AppState,
    b: &Begun,
    targets: &[Target],
    messages: &[Message],
    max_tokens: u32,
    temperature: Option<f32>,
    schema: Option<&Value>,
) -> Result<(provider::Completion, Target, Vec<Message>, Redactor, bool), (Vec<String>, Option<Failure>)> {
    let mut tried = Vec::new();
    let mut last = None;
    for (i, t) in targets.iter().enumerate() {
        tried.push(format!("{}/{}", t.provider, t.model));
        let Some((_, ep, cloud)) = b.endpoints.iter().find(|(n, _, _)| *n == t.provider) else { continue };
        let mut redactor = Redactor::default();
        let sent = outgoing(b, *cloud, messages, &mut redactor);
        let req = ChatRequest {
            model: t.model.clone(),
            messages: sent.clone(),
            max_tokens,
            temperature,
            json_schema: schema.cloned(),
        };
        match attempt(state, b.tenant, &t.provider, || provider::chat(&state.http, ep, &req)).await {
            Ok(c) => return Ok((c, t.clone(), sent, redactor, i > 0)),
            Err(f) => {
                if let Failure::Provider(e) = &f {
                    tracing::warn!(provider = %t.provider, model = %t.model, error = %e, "target failed, trying the next");
                }
                last = Some(f);
            }
        }
    }
    Err((tried, last))
}

/// Runs a call on a task of its own (`RequestContext::detached`): a client that goes away
/// mid-call does not cancel it, so its reservation is always settled and the call audited,
/// and no transaction is held open (parked for an idempotent request) across the model.
async fn detached<T: Send + 'static>(
    f: impl std::future::Future<Output = Result<T, AppError>> + Send + 'static,
) -> Result<T, AppError> {
    mirai_kit::telemetry::RequestContext::detached(f)
        .await
        .unwrap_or_else(|e| Err(AppError::Internal(anyhow::anyhow!("the call's task failed: {e}"))))
}

pub async fn chat(state: &AppState, principal: &Principal, input: ChatInput) -> Result<ChatAnswer, AppError> {
    let (state, principal) = (state.clone(), principal.clone());
    detached(async move { chat_call(&state, &principal, input).await }).await
}

#[tracing::instrument(skip_all, fields(feature = %input.feature))]
async fn chat_call(state: &AppState, principal: &Principal, input: ChatInput) -> Result<ChatAnswer, AppError> {
    let b = begin(state, principal, &input.feature, "chat").await?;
    let max_tokens = check_chat(state, &input)?;
    let texts: Vec<&str> = input.messages.iter().map(|m| m.content.as_str()).collect();
    let hash = hash_messages(&input.messages);
    check_input(state, principal, &b, &texts, &hash, None).await?;
    let verdict = reserve(state, principal, &b, estimate(&input.messages, max_tokens), &hash).await?;
    let (targets, decision, why) = plan(&b, &verdict);
    let (c, t, sent, redactor, fallback) =
        match complete(state, &b, &targets, &input.messages, max_tokens, input.temperature, None).await {
            Ok(ok) => ok,
            Err((tried, last)) => {
                let (reason, err) = failed(last, &tried);
                let o = Outcome { reason: Some(reason.clone()), prompt_hash: Some(hash), ..Outcome::default() };
                settle_and_audit(state, principal, &b, CallDecision::Failed, o).await?;
                return Err(err);
            }
        };
    let mut o = Outcome {
        provider: Some(t.provider.clone()),
        model: Some(t.model.clone()),
        tokens_in: c.tokens_in,
        tokens_out: c.tokens_out,
        cost: t.cost(c.tokens_in, c.tokens_out),
        reason: why,
        fallback,
        redacted: redactor.redacted_anything(),
        prompt_hash: Some(hash_messages(&sent)),
        prompt: None,
    };
    if let Some(r) = &c.refusal {
        o.reason = Some("refused".into());
        settle_and_audit(state, principal, &b, CallDecision::Blocked, o).await?;
        return Err(problem(StatusCode::UNPROCESSABLE_ENTITY, "ai-refused", "The model declined", r.clone()));
    }
    let text = redactor.restore(&c.text);
    if let Err((reason, e)) = guard(state, &b, &[&text], "answer").await {
        o.reason = Some(reason);
        settle_and_audit(state, principal, &b, CallDecision::Blocked, o).await?;
        return Err(e);
    }
    let answer = ChatAnswer {
        call_id: b.call_id,
        text,
        provider: t.provider.clone(),
        model: t.model.clone(),
        tokens_in: o.tokens_in,
        tokens_out: o.tokens_out,
        cost_micros: o.cost,
        decision: if decision == CallDecision::Degraded { "degraded" } else { "allowed" }.into(),
        fallback,
    };
    settle_and_audit(state, principal, &b, decision, o).await?;
    Ok(answer)
}

// ---- chat over SSE -----------------------------------------------------------------

fn sse(name: &str, data: Value) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default().event(name).data(data.to_string()))
}

fn sse_problem(e: &AppError) -> Value {
    serde_json::to_value(e.to_problem()).unwrap_or_default()
}

/// Starts a streamed chat: everything up to the first provider byte happens before the
/// response (so a refusal is an ordinary problem); the answer then streams as SSE
/// `meta`, `delta`…, and `done` (or `error`) events. The stream is driven by a task of
/// its own, so the call is settled and audited even when the client goes away.
pub async fn chat_stream(
    state: &AppState,
    principal: &Principal,
    input: ChatInput,
) -> Result<impl Stream<Item = Result<SseEvent, Infallible>> + use<>, AppError> {
    let (state, principal) = (state.clone(), principal.clone());
    detached(async move { chat_stream_call(&state, &principal, input).await }).await
}

#[tracing::instrument(skip_all, fields(feature = %input.feature))]
async fn chat_stream_call(
    state: &AppState,
    principal: &Principal,
    input: ChatInput,
) -> Result<impl Stream<Item = Result<SseEvent, Infallible>> + use<>, AppError> {
    let b = begin(state, principal, &input.feature, "chat").await?;
    let max_tokens = check_chat(state, &input)?;
    let texts: Vec<&str> = input.messages.iter().map(|m| m.content.as_str()).collect();
    let hash = hash_messages(&input.messages);
    check_input(state, principal, &b, &texts, &hash, None).await?;
    let verdict = reserve(state, principal, &b, estimate(&input.messages, max_tokens), &hash).await?;
    let (targets, decision, why) = plan(&b, &verdict);

    // Open the stream on the first target that accepts it.
    let mut tried = Vec::new();
    let mut last = None;
    let mut opened = None;
    for (i, t) in targets.iter().enumerate() {
        tried.push(format!("{}/{}", t.provider, t.model));
        let Some((_, ep, cloud)) = b.endpoints.iter().find(|(n, _, _)| *n == t.provider) else { continue };
        let mut redactor = Redactor::default();
        let sent = outgoing(&b, *cloud, &input.messages, &mut redactor);
        let req = ChatRequest {
            model: t.model.clone(),
            messages: sent.clone(),
            max_tokens,
            temperature: input.temperature,
            json_schema: None,
        };
        let timeout = ep.timeout;
        let first = attempt(state, b.tenant, &t.provider, || async {
            let mut s = provider::chat_stream(&state.http, ep, &req).await?;
            // The first chunk decides whether this target works: until then we can fall back.
            match tokio::time::timeout(timeout, s.next()).await {
                Err(_) => Err(ProviderError::Retryable(format!("no first token within {} ms", timeout.as_millis()))),
                Ok(None) => Ok((s, None)),
                Ok(Some(Err(e))) => Err(e),
                Ok(Some(Ok(c))) => Ok((s, Some(c))),
            }
        })
        .await;
        match first {
            Ok((s, c)) => {
                opened = Some((s, c, t.clone(), sent, redactor, i > 0, timeout));
                break;
            }
            Err(f) => last = Some(f),
        }
    }
    let Some((mut upstream, first, t, sent, redactor, fallback, timeout)) = opened else {
        let (reason, err) = failed(last, &tried);
        let o = Outcome { reason: Some(reason.clone()), prompt_hash: Some(hash), ..Outcome::default() };
        settle_and_audit(state, principal, &b, CallDecision::Failed, o).await?;
        return Err(err);
    };

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<SseEvent, Infallible>>(64);
    let state = state.clone();
    let principal = principal.clone();
    // The stream's own task keeps the request's context and span, so its audit event
    // carries the request's trace like every other call's.
    let ctx = mirai_kit::telemetry::RequestContext::current();
    let span = tracing::Span::current();
    let task = async move {
        let meta = serde_json::json!({
            "call_id": b.call_id, "provider": t.provider, "model": t.model,
            "decision": if decision == CallDecision::Degraded { "degraded" } else { "allowed" }, "fallback": fallback,
        });
        let longest_term = b.policy.blocked_terms.iter().map(String::len).max().unwrap_or(0) + 4;
        let mut client = send(&tx, sse("meta", meta)).await;
        let mut restorer = redactor.stream();
        let mut text = String::new();
        let (mut tokens_in, mut tokens_out) = (None, None);
        let mut stop: Option<(String, AppError)> = None;
        let mut next = first;
        loop {
            let chunk = match next.take() {
                Some(c) => Some(Ok(c)),
                None => match tokio::time::timeout(timeout, upstream.next()).await {
                    Err(_) => Some(Err(ProviderError::Retryable(format!(
                        "the stream stalled for {} ms",
                        timeout.as_millis()
                    )))),
                    Ok(c) => c,
                },
            };
            match chunk {
                None => break,
                Some(Ok(Chunk::Text(t))) => {
                    let shown = restorer.push(&t);
                    // Only the new text and the longest term's length before it can hold a
                    // new match: no rescan of the whole answer per chunk.
                    let window_start = text.len().saturating_sub(longest_term);
                    let window_start = (0..=window_start).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                    text.push_str(&shown);
                    if let Some(term) = safety::blocked_term(&text[window_start..], &b.policy.blocked_terms) {
                        stop = Some((
                            "blocked-term:answer".into(),
                            problem(
                                StatusCode::UNPROCESSABLE_ENTITY,
                                "ai-output-blocked",
                                "The answer was blocked by policy",
                                format!("the answer contains the blocked term `{term}`"),
                            ),
                        ));
                        break;
                    }
                    if client && !shown.is_empty() {
                        client = send(&tx, sse("delta", serde_json::json!({ "text": shown }))).await;
                    }
                    if !client {
                        // Nobody reads any more: stop paying for tokens; settle what was used.
                        stop = Some((
                            "client-gone".into(),
                            problem(StatusCode::BAD_REQUEST, "client-gone", "The client went away", ""),
                        ));
                        break;
                    }
                }
                Some(Ok(Chunk::Usage { tokens_in: i, tokens_out: o })) => {
                    tokens_in = i.or(tokens_in);
                    tokens_out = o.or(tokens_out);
                }
                Some(Ok(Chunk::Refused(r))) => {
                    stop = Some((
                        "refused".into(),
                        problem(StatusCode::UNPROCESSABLE_ENTITY, "ai-refused", "The model declined", r),
                    ));
                    break;
                }
                Some(Err(e)) => {
                    stop = Some((
                        "stream-broken".into(),
                        AppError::Upstream {
                            status: StatusCode::BAD_GATEWAY,
                            slug: "ai-unavailable",
                            title: "The model provider is unavailable",
                            detail: format!("the answer broke off: {e}"),
                            retry_after_secs: Some(5),
                        },
                    ));
                    break;
                }
            }
        }
        if stop.is_none() {
            let rest = restorer.finish();
            text.push_str(&rest);
            if client && !rest.is_empty() {
                client = send(&tx, sse("delta", serde_json::json!({ "text": rest }))).await;
            }
            if let Err(blocked) = guard(&state, &b, &[&text], "answer").await {
                stop = Some(blocked);
            }
        }
        let tokens_in = tokens_in.unwrap_or_else(|| estimate(&sent, 0));
        let tokens_out = tokens_out.unwrap_or_else(|| safety::estimate_tokens(&text));
        let cost = t.cost(tokens_in, tokens_out);
        let (final_decision, reason) = match &stop {
            Some((r, e)) if e.status().is_server_error() => (CallDecision::Failed, Some(r.clone())),
            Some((r, _)) if r == "client-gone" => (decision, Some(r.clone())),
            Some((r, _)) => (CallDecision::Blocked, Some(r.clone())),
            None => (decision, why),
        };
        let o = Outcome {
            provider: Some(t.provider.clone()),
            model: Some(t.model.clone()),
            tokens_in,
            tokens_out,
            cost,
            reason,
            fallback,
            redacted: redactor.redacted_anything(),
            prompt_hash: Some(hash_messages(&sent)),
            prompt: None,
        };
        if let Err(e) = settle_and_audit(&state, &principal, &b, final_decision, o).await {
            tracing::error!(error = %e, call = %b.call_id, "a streamed call could not be settled");
        }
        if client {
            let _ = match stop {
                Some((_, e)) => tx.send(sse("error", sse_problem(&e))).await,
                None => {
                    tx.send(sse(
                        "done",
                        serde_json::json!({
                            "call_id": b.call_id, "tokens_in": tokens_in, "tokens_out": tokens_out, "cost_micros": cost,
                        }),
                    ))
                    .await
                }
            };
        }
    };
    let task = async move {
        match ctx {
            Some(ctx) => ctx.scope(task).await,
            None => task.await,
        }
    };
    tokio::spawn(tracing::Instrument::instrument(task, span));
    Ok(tokio_stream_from(rx))
}

/// Hands an event to the response; a client that has not read for 30 s is gone.
async fn send(
    tx: &tokio::sync::mpsc::Sender<Result<SseEvent, Infallible>>,
    event: Result<SseEvent, Infallible>,
) -> bool {
    matches!(tokio::time::timeout(Duration::from_secs(30), tx.send(event)).await, Ok(Ok(())))
}

fn tokio_stream_from<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl Stream<Item = T> + use<T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

// ---- structured generation ---------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateInput {
    /// The feature the call is for, e.g. `authoring.outline`.
    pub feature: String,
    /// `id@version` or `id` (its latest); optional when the feature's route pins one
    /// (the pin wins).
    #[serde(default)]
    pub prompt: Option<String>,
    /// The prompt's variables (its `input_schema`).
    #[schema(value_type = Object)]
    pub input: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Generation {
    #[schema(value_type = uuid::Uuid)]
    pub call_id: CallId,
    /// The answer, valid against the prompt's `output_schema`.
    #[schema(value_type = Object)]
    pub output: Value,
    pub prompt_id: String,
    pub prompt_version: String,
    /// `sha256:<hex>` of the messages sent (provenance).
    pub prompt_hash: String,
    pub provider: String,
    pub model: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_micros: i64,
    pub decision: String,
    pub fallback: bool,
}

/// The JSON object in a model's answer (tolerating a code fence around it).
fn parse_json(text: &str) -> Result<Value, String> {
    let t = text.trim();
    let t = t.strip_prefix("```json").or_else(|| t.strip_prefix("```")).unwrap_or(t);
    let t = t.strip_suffix("```").unwrap_or(t).trim();
    serde_json::from_str(t).map_err(|e| format!("not a JSON object: {e}"))
}

pub async fn generate(state: &AppState, principal: &Principal, input: GenerateInput) -> Result<Generation, AppError> {
    let (state, principal) = (state.clone(), principal.clone());
    detached(async move { generate_call(&state, &principal, input).await }).await
}

#[tracing::instrument(skip_all, fields(feature = %input.feature))]
async fn generate_call(state: &AppState, principal: &Principal, input: GenerateInput) -> Result<Generation, AppError> {
    let b = begin(state, principal, &input.feature, "generate").await?;
    let reference =
        b.pinned.clone().or(input.prompt.clone()).ok_or_else(|| {
            AppError::invalid("prompt", "name a registered prompt; the route of this feature pins none")
        })?;
    let prompt: &Prompt = crate::prompts::registry()
        .get(&reference)
        .ok_or_else(|| AppError::invalid("prompt", format!("`{reference}` is not a registered prompt")))?;
    let messages = prompt.render(&input.input)?;
    let max_tokens = prompt.max_tokens.min(state.settings.max_output_tokens);
    let hash = hash_messages(&messages);
    let pinfo = Some((prompt.id.clone(), prompt.version.clone()));
    let texts: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
    check_input(state, principal, &b, &texts, &hash, pinfo.clone()).await?;
    // Room for the one retry a bad answer gets.
    let verdict = reserve(state, principal, &b, estimate(&messages, max_tokens) * 2, &hash).await?;
    let (targets, decision, why) = plan(&b, &verdict);
    let mut o = Outcome { reason: why, prompt: pinfo, prompt_hash: Some(hash.clone()), ..Outcome::default() };
    let mut conversation = messages.clone();
    for round in 0..2 {
        let (c, t, sent, redactor, fallback) = match complete(
            state,
            &b,
            &targets,
            &conversation,
            max_tokens,
            Some(prompt.temperature),
            Some(&prompt.output_schema),
        )
        .await
        {
            Ok(ok) => ok,
            Err((tried, last)) => {
                let (reason, err) = failed(last, &tried);
                o.reason = Some(reason.clone());
                settle_and_audit(state, principal, &b, CallDecision::Failed, o).await?;
                return Err(err);
            }
        };
        o.provider = Some(t.provider.clone());
        o.model = Some(t.model.clone());
        o.tokens_in += c.tokens_in;
        o.tokens_out += c.tokens_out;
        o.cost += t.cost(c.tokens_in, c.tokens_out);
        o.fallback |= fallback;
        o.redacted |= redactor.redacted_anything();
        if round == 0 {
            o.prompt_hash = Some(hash_messages(&sent));
        }
        if let Some(r) = &c.refusal {
            o.reason = Some("refused".into());
            settle_and_audit(state, principal, &b, CallDecision::Blocked, o).await?;
            return Err(problem(StatusCode::UNPROCESSABLE_ENTITY, "ai-refused", "The model declined", r.clone()));
        }
        let problems = match parse_json(&c.text) {
            Ok(mut v) => {
                redactor.restore_json(&mut v);
                let problems = prompt.check_output(&input.input, &v);
                if problems.is_empty() {
                    let flat = v.to_string();
                    if let Err((reason, e)) = guard(state, &b, &[&flat], "answer").await {
                        o.reason = Some(reason);
                        settle_and_audit(state, principal, &b, CallDecision::Blocked, o).await?;
                        return Err(e);
                    }
                    let g = Generation {
                        call_id: b.call_id,
                        output: v,
                        prompt_id: prompt.id.clone(),
                        prompt_version: prompt.version.clone(),
                        prompt_hash: o.prompt_hash.clone().unwrap_or_default(),
                        provider: t.provider.clone(),
                        model: t.model.clone(),
                        tokens_in: o.tokens_in,
                        tokens_out: o.tokens_out,
                        cost_micros: o.cost,
                        decision: if decision == CallDecision::Degraded { "degraded" } else { "allowed" }.into(),
                        fallback: o.fallback,
                    };
                    settle_and_audit(state, principal, &b, decision, o).await?;
                    return Ok(g);
                }
                problems
            }
            Err(p) => vec![p],
        };
        // The paths only: a schema message quotes the (restored) value, which may be PII.
        let paths: Vec<&str> = problems.iter().map(|p| p.split(':').next().unwrap_or_default()).collect();
        tracing::info!(round, ?paths, "a generation did not meet its schema");
        if round == 1 {
            o.reason = Some("invalid-output".into());
            settle_and_audit(state, principal, &b, CallDecision::Failed, o).await?;
            return Err(AppError::Upstream {
                status: StatusCode::BAD_GATEWAY,
                slug: "ai-invalid-output",
                title: "The model's answer did not meet the prompt's schema",
                detail: format!("twice; the second time: {}", problems.join("; ")),
                retry_after_secs: None,
            });
        }
        // Once more, with what was wrong.
        conversation.push(Message { role: provider::Role::Assistant, content: c.text.clone() });
        conversation.push(Message {
            role: provider::Role::User,
            content: format!(
                "That answer is not valid: {}. Answer again with one JSON object that meets the schema.",
                problems.join("; ")
            ),
        });
    }
    unreachable!("the loop returns in its second round")
}

// ---- embeddings --------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsInput {
    /// e.g. `search.semantic`.
    pub feature: String,
    /// 1 to 256 texts, each up to 32 KB.
    pub input: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Embeddings {
    #[schema(value_type = uuid::Uuid)]
    pub call_id: CallId,
    pub provider: String,
    pub model: String,
    /// One vector per input, in order.
    pub data: Vec<Vec<f32>>,
    pub tokens: i64,
    pub cost_micros: i64,
}

#[tracing::instrument(skip_all, fields(feature = %input.feature))]
pub async fn embeddings(
    state: &AppState,
    principal: &Principal,
    input: EmbeddingsInput,
) -> Result<Embeddings, AppError> {
    let b = begin(state, principal, &input.feature, "embeddings").await?;
    if input.input.is_empty() || input.input.len() > 256 || input.input.iter().any(|t| t.is_empty() || t.len() > 32_768)
    {
        return Err(AppError::invalid("input", "1 to 256 texts of 1 byte to 32 KB"));
    }
    let as_messages: Vec<Message> =
        input.input.iter().map(|t| Message { role: provider::Role::User, content: t.clone() }).collect();
    let hash = hash_messages(&as_messages);
    let texts: Vec<&str> = input.input.iter().map(String::as_str).collect();
    check_input(state, principal, &b, &texts, &hash, None).await?;
    let verdict = reserve(state, principal, &b, estimate(&as_messages, 0), &hash).await?;
    let (targets, decision, why) = plan(&b, &verdict);
    let mut tried = Vec::new();
    let mut last = None;
    for (i, t) in targets.iter().enumerate() {
        tried.push(format!("{}/{}", t.provider, t.model));
        let Some((_, ep, cloud)) = b.endpoints.iter().find(|(n, _, _)| *n == t.provider) else { continue };
        let mut redactor = Redactor::default();
        let sent: Vec<String> =
            outgoing(&b, *cloud, &as_messages, &mut redactor).into_iter().map(|m| m.content).collect();
        match attempt(state, b.tenant, &t.provider, || provider::embed(&state.http, ep, &t.model, &sent)).await {
            Ok((data, tokens)) => {
                let cost = t.cost(tokens, 0);
                let o = Outcome {
                    provider: Some(t.provider.clone()),
                    model: Some(t.model.clone()),
                    tokens_in: tokens,
                    cost,
                    reason: why,
                    fallback: i > 0,
                    redacted: redactor.redacted_anything(),
                    prompt_hash: Some(hash),
                    ..Outcome::default()
                };
                settle_and_audit(state, principal, &b, decision, o).await?;
                return Ok(Embeddings {
                    call_id: b.call_id,
                    provider: t.provider.clone(),
                    model: t.model.clone(),
                    data,
                    tokens,
                    cost_micros: cost,
                });
            }
            Err(f) => last = Some(f),
        }
    }
    let (reason, err) = failed(last, &tried);
    let o = Outcome { reason: Some(reason.clone()), prompt_hash: Some(hash), ..Outcome::default() };
    settle_and_audit(state, principal, &b, CallDecision::Failed, o).await?;
    Err(err)
}
