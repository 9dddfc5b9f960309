//! Deliveries. Each deliverable event of a tenant is recorded once as a message (the
//! Standard Webhooks body: `type`, `timestamp`, `data`) and, in the same transaction, a
//! delivery and a job for each enabled endpoint that wants its type. The job POSTs the
//! body signed with every valid secret (`webhook-id` is the message id, the same on
//! every attempt, so a receiver dedupes on it; `webhook-timestamp` is the attempt's),
//! records the attempt (status, the first KiB of the answer, the error, the time), and on
//! anything but a 2xx schedules the next attempt on the retry schedule (a new job at its
//! time), until the schedule is spent and the delivery has failed. An endpoint whose
//! attempts have all failed for `DISABLE_AFTER_SECS` is disabled (an event says so).
//! A redelivery by hand is one more attempt; a replay queues what an endpoint has not
//! received since a message.

use std::time::Instant;

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::notification::EndpointChanged,
    ids::{DeliveryId, EndpointId, TenantId},
};
use mirai_events::{
    Envelope, EventMeta, HandleError,
    jobs::{self, Job, JobHandler, NewJob},
};
use mirai_kit::{
    AppError, Principal,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ADMINS, endpoints};
use crate::{
    AppState, sign,
    store::{self, AttemptRow, DeliveryRow},
};

pub const JOB: &str = "notification.deliver";

/// How much of an answer the log keeps.
const BODY_KEPT: usize = 1024;

/// The Standard Webhooks body of an event.
pub fn body_of(e: &Envelope) -> serde_json::Value {
    json!({ "type": e.kind, "timestamp": e.time, "data": e.data })
}

async fn enqueue(
    tx: &mut PgConnection,
    tenant: TenantId,
    delivery: DeliveryId,
    trigger: &str,
    at: DateTime<Utc>,
    key: String,
) -> Result<(), sqlx::Error> {
    let mut job = NewJob::new(JOB, json!({ "delivery_id": delivery, "trigger": trigger }));
    job.tenant_id = Some(tenant.into());
    job.run_at = at;
    job.max_attempts = 5;
    job.dedupe_key = Some(key);
    jobs::enqueue(tx, job).await.map(drop)
}

/// Records a tenant's event as a message and queues its deliveries (in the consumer's
/// transaction: exactly once).
pub async fn fan_out(tx: &mut PgConnection, e: &Envelope) -> Result<(), sqlx::Error> {
    let Some(tenant) = e.tenantid.map(TenantId::from) else {
        return Ok(());
    };
    if !store::message_insert(tx, e.id, tenant, &e.kind, &body_of(e)).await? {
        return Ok(());
    }
    for endpoint in store::endpoints_for(tx, &e.kind).await? {
        let (delivery, new) = store::delivery_insert(tx, tenant, endpoint, e.id).await?;
        if new {
            enqueue(tx, tenant, delivery, "scheduled", Utc::now(), format!("{JOB}:{delivery}:0")).await?;
        }
    }
    Ok(())
}

/// What one attempt got.
struct Answer {
    status: Option<i32>,
    body: Option<String>,
    error: Option<String>,
}

impl Answer {
    fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    fn summary(&self) -> String {
        match (self.status, &self.error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

async fn post(state: &AppState, url: &str, id: &str, keys: &[Vec<u8>], body: &[u8]) -> Answer {
    let ts = Utc::now().timestamp();
    let res = state
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sign::header(keys, id, ts, body))
        .body(body.to_vec())
        .send()
        .await;
    match res {
        Err(e) => {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            Answer { status: None, body: None, error: Some(format!("{kind}: {e}")) }
        }
        Ok(mut res) => {
            let status = res.status().as_u16() as i32;
            let mut kept = Vec::new();
            while kept.len() < BODY_KEPT {
                match res.chunk().await {
                    Ok(Some(c)) => kept.extend_from_slice(&c),
                    _ => break,
                }
            }
            kept.truncate(BODY_KEPT);
            let error = (300..400).contains(&status).then(|| "redirects are not followed".to_owned());
            Answer { status: Some(status), body: Some(String::from_utf8_lossy(&kept).into_owned()), error }
        }
    }
}

/// Runs one attempt of a delivery.
pub struct Deliver {
    pub state: AppState,
}

impl Deliver {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let id: DeliveryId = serde_json::from_value(job.payload["delivery_id"].clone())
            .map_err(|e| HandleError::Permanent(format!("delivery_id: {e}")))?;
        let trigger = job.payload["trigger"].as_str().unwrap_or("scheduled").to_owned();
        let Some(d) = store::delivery_get(tx, id, true).await? else {
            return Ok(()); // its endpoint was deleted
        };
        let manual = trigger == "manual";
        if !manual && d.status != "pending" {
            return Ok(());
        }
        let Some(endpoint) = store::endpoint_get(tx, d.endpoint_id, true).await? else {
            return Ok(());
        };
        if !endpoint.enabled {
            if !manual {
                store::delivery_set(
                    tx,
                    id,
                    "failed",
                    d.attempts,
                    None,
                    d.last_status,
                    Some("the endpoint is disabled"),
                )
                .await?;
            }
            return Ok(());
        }
        let Some(message) = store::message_get(tx, d.message_id).await? else {
            return Err(HandleError::Permanent(format!("delivery {id} has no message")));
        };
        let keys = endpoints::signing_keys(&self.state, tx, d.tenant_id, d.endpoint_id)
            .await
            .map_err(|e| HandleError::Transient(anyhow::anyhow!("{e}")))?;
        let keys: Vec<Vec<u8>> = keys.iter().filter_map(|(s, _)| sign::key_of(s).ok()).collect();
        let body = serde_json::to_vec(&message.body).map_err(|e| HandleError::Permanent(e.to_string()))?;
        let at = Utc::now();
        let started = Instant::now();
        let answer = post(&self.state, &endpoint.url, &message.id.to_string(), &keys, &body).await;
        let ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        store::attempt_insert(
            tx,
            d.tenant_id,
            id,
            &trigger,
            at,
            answer.status,
            answer.body.as_deref(),
            answer.error.as_deref(),
            ms,
        )
        .await?;
        let metric = if answer.ok() { "succeeded" } else { "failed" };
        tracing::info!(delivery = %id, endpoint = %d.endpoint_id, outcome = metric, status = ?answer.status, ms, "webhook attempt");
        if answer.ok() {
            let attempts = d.attempts + i32::from(!manual);
            store::delivery_set(tx, id, "succeeded", attempts, None, answer.status, None).await?;
            store::endpoint_succeeded(tx, d.endpoint_id).await?;
            return Ok(());
        }
        let why = answer.summary();
        if manual {
            // One more try by hand: the delivery's own schedule (or outcome) stands.
            store::delivery_set(tx, id, &d.status, d.attempts, d.next_attempt_at, answer.status, Some(&why)).await?;
        } else {
            let attempts = d.attempts + 1;
            match self.state.settings.retry_schedule.get(attempts as usize - 1) {
                Some(wait) => {
                    let next = Utc::now() + chrono::Duration::from_std(*wait).unwrap_or_default();
                    store::delivery_set(tx, id, "pending", attempts, Some(next), answer.status, Some(&why)).await?;
                    enqueue(tx, d.tenant_id, id, "scheduled", next, format!("{JOB}:{id}:{attempts}")).await?;
                }
                None => {
                    store::delivery_set(tx, id, "failed", attempts, None, answer.status, Some(&why)).await?;
                }
            }
        }
        self.failing(tx, d.tenant_id, d.endpoint_id, &why).await
    }

    /// Counts a failure against the endpoint; disables it once it has failed long enough.
    async fn failing(
        &self,
        tx: &mut PgConnection,
        tenant: TenantId,
        endpoint: EndpointId,
        why: &str,
    ) -> Result<(), HandleError> {
        let (count, since) = store::endpoint_failed(tx, endpoint).await?;
        let s = &self.state.settings;
        let long = Utc::now() - since >= chrono::Duration::from_std(s.disable_after).unwrap_or_default();
        if count < s.disable_min_failures || !long {
            return Ok(());
        }
        let Some(row) = store::endpoint_get(tx, endpoint, false).await? else {
            return Ok(());
        };
        let hours = (Utc::now() - since).num_hours();
        let reason = format!("every delivery failed for {hours} hours, {count} attempts (last: {why})");
        let reason: String = reason.chars().take(500).collect();
        store::endpoint_update(tx, endpoint, &row.url, &row.description, &row.event_types, false, Some(&reason), false)
            .await?;
        store::deliveries_fail_pending(tx, endpoint, "the endpoint was disabled after sustained failure").await?;
        tracing::warn!(%endpoint, %reason, "webhook endpoint disabled");
        let event = EndpointChanged {
            tenant_id: tenant,
            endpoint_id: endpoint,
            change: "disabled".into(),
            enabled: false,
            reason: Some(reason),
            actor: "notification".into(),
            at: Utc::now(),
        };
        let meta = EventMeta { actor: Some("notification".into()), ..EventMeta::default() };
        self.state.ctx.emit(tx, &meta, [event.into()]).await.map_err(|e| HandleError::Transient(anyhow::anyhow!("{e}")))
    }
}

impl JobHandler for Deliver {
    fn run<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        job: &'a Job,
    ) -> futures::future::BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Deliver::run(self, tx, job))
    }
}

// ---- the log, by hand ----------------------------------------------------------------

/// One delivery of one message to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    #[schema(value_type = uuid::Uuid)]
    pub id: DeliveryId,
    #[schema(value_type = uuid::Uuid)]
    pub endpoint_id: EndpointId,
    /// The message (`webhook-id`), the same on every attempt.
    pub message_id: Uuid,
    pub event_type: String,
    /// `pending` (an attempt is scheduled), `succeeded` or `failed` (the schedule is
    /// spent, or the endpoint was disabled).
    pub status: String,
    /// Scheduled attempts made (attempts by hand are in `log` only).
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last answer's HTTP status.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every attempt, oldest first (on a single delivery's read only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Vec<Attempt>>,
}

/// One attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    pub id: Uuid,
    /// `scheduled`, `manual` or `replay`.
    pub trigger: String,
    pub at: DateTime<Utc>,
    pub response_status: Option<i32>,
    /// The first KiB of the answer.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

impl From<AttemptRow> for Attempt {
    fn from(a: AttemptRow) -> Self {
        Self {
            id: a.id,
            trigger: a.trigger,
            at: a.at,
            response_status: a.response_status,
            response_body: a.response_body,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

fn delivery(r: DeliveryRow, log: Option<Vec<Attempt>>) -> Delivery {
    Delivery {
        id: r.id,
        endpoint_id: r.endpoint_id,
        message_id: r.message_id,
        event_type: r.event_type,
        status: r.status,
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        last_status: r.last_status,
        last_error: r.last_error,
        created_at: r.created_at,
        updated_at: r.updated_at,
        log,
    }
}

async fn endpoint_of(tx: &mut PgConnection, id: EndpointId) -> Result<store::EndpointRow, AppError> {
    store::endpoint_get(tx, id, false).await?.ok_or_else(|| AppError::not_found("endpoint", id))
}

async fn delivery_of(tx: &mut PgConnection, endpoint: EndpointId, id: DeliveryId) -> Result<DeliveryRow, AppError> {
    store::delivery_get(tx, id, false)
        .await?
        .filter(|d| d.endpoint_id == endpoint)
        .ok_or_else(|| AppError::not_found("delivery", id))
}

/// An endpoint's deliveries, newest first (`status` filters).
pub async fn list(
    state: &AppState,
    p: &Principal,
    endpoint: EndpointId,
    status: Option<String>,
    page: PageParams,
) -> Result<Page<Delivery>, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    if let Some(s) = &status
        && !["pending", "succeeded", "failed"].contains(&s.as_str())
    {
        return Err(AppError::invalid("status", "`pending`, `succeeded` or `failed`"));
    }
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    endpoint_of(&mut tx, endpoint).await?;
    let rows = store::deliveries_list(&mut tx, endpoint, status.as_deref(), page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(|r| delivery(r, None)).collect(), next_cursor: page.next_cursor })
}

/// One delivery with its attempts.
pub async fn get(state: &AppState, p: &Principal, endpoint: EndpointId, id: DeliveryId) -> Result<Delivery, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let d = delivery_of(&mut tx, endpoint, id).await?;
    let log = store::attempts_of(&mut tx, id).await?.into_iter().map(Into::into).collect();
    tx.commit().await?;
    Ok(delivery(d, Some(log)))
}

/// Sends a delivery once more, now (202: the attempt is queued; its outcome is in the
/// log). A disabled endpoint must be enabled first (409).
pub async fn redeliver(
    state: &AppState,
    p: &Principal,
    endpoint: EndpointId,
    id: DeliveryId,
) -> Result<Delivery, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let e = endpoint_of(&mut tx, endpoint).await?;
    if !e.enabled {
        return Err(AppError::Conflict(format!("endpoint {endpoint} is disabled; enable it first")));
    }
    let d = delivery_of(&mut tx, endpoint, id).await?;
    enqueue(&mut tx, tenant, id, "manual", Utc::now(), format!("{JOB}:{id}:manual:{}", Uuid::now_v7())).await?;
    tx.commit().await?;
    Ok(delivery(d, None))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    /// Replay the messages after this one's `seq` (`GET …/messages`); 0: from the first.
    pub after: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// Deliveries queued: messages the endpoint never got and ones that failed.
    pub queued: i64,
    /// The last message looked at; replay again after it if `more`.
    pub last_seq: i64,
    pub more: bool,
}

/// Queues, for one endpoint, every message after a cursor that it wants and has not
/// received: new deliveries for the ones it never got (it was disabled, or created
/// later), and the failed ones again. Up to 5000 messages per call.
pub async fn replay(
    state: &AppState,
    p: &Principal,
    endpoint: EndpointId,
    input: ReplayInput,
) -> Result<Replayed, AppError> {
    const MAX: i64 = 5000;
    let tenant = p.own_tenant(ADMINS)?;
    if input.after < 0 {
        return Err(AppError::invalid("after", "a message's seq, or 0"));
    }
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let e = endpoint_of(&mut tx, endpoint).await?;
    if !e.enabled {
        return Err(AppError::Conflict(format!("endpoint {endpoint} is disabled; enable it first")));
    }
    let messages = store::messages_after(&mut tx, input.after, &e.event_types, MAX).await?;
    let mut queued = 0;
    for m in &messages {
        let (id, new) = store::delivery_insert(&mut tx, tenant, endpoint, m.id).await?;
        let again = if new {
            true
        } else {
            let d = store::delivery_get(&mut tx, id, true).await?;
            match d {
                Some(d) if d.status == "failed" => {
                    store::delivery_set(
                        &mut tx,
                        id,
                        "pending",
                        0,
                        Some(Utc::now()),
                        d.last_status,
                        d.last_error.as_deref(),
                    )
                    .await?;
                    true
                }
                _ => false,
            }
        };
        if again {
            enqueue(&mut tx, tenant, id, "replay", Utc::now(), format!("{JOB}:{id}:replay:{}", Uuid::now_v7())).await?;
            queued += 1;
        }
    }
    tx.commit().await?;
    let last_seq = messages.last().map_or(input.after, |m| m.seq);
    Ok(Replayed { queued, last_seq, more: messages.len() as i64 == MAX })
}

/// One message in the tenant's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: Uuid,
    /// Its place in the tenant's log: the replay cursor.
    pub seq: i64,
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    /// The body every endpoint receives.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Messages {
    pub data: Vec<Message>,
    /// Pass as `after` for the next page; null at the end.
    pub next_after: Option<i64>,
}

/// The tenant's messages after a cursor, oldest first.
pub async fn messages(
    state: &AppState,
    p: &Principal,
    after: i64,
    event_type: Option<String>,
    limit: Option<i64>,
) -> Result<Messages, AppError> {
    let tenant = p.own_tenant(ADMINS)?;
    let limit = limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid("limit", "1 to 200"));
    }
    let types: Vec<String> = event_type.into_iter().collect();
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::messages_after(&mut tx, after.max(0), &types, limit + 1).await?;
    tx.commit().await?;
    let more = rows.len() as i64 > limit;
    let data: Vec<Message> = rows
        .into_iter()
        .take(limit as usize)
        .map(|m| Message { id: m.id, seq: m.seq, event_type: m.event_type, created_at: m.created_at, body: m.body })
        .collect();
    let next_after = if more { data.last().map(|m| m.seq) } else { None };
    Ok(Messages { data, next_after })
}
