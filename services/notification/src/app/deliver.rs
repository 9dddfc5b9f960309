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

/// Queues one attempt of a delivery: the round and attempt it is for travel with it, so
/// the job does nothing if the delivery has moved on by the time it runs.
async fn enqueue(
    tx: &mut PgConnection,
    tenant: TenantId,
    delivery: DeliveryId,
    trigger: &str,
    at: DateTime<Utc>,
    round: i32,
    attempt: i32,
) -> Result<(), sqlx::Error> {
    let payload = json!({ "delivery_id": delivery, "trigger": trigger, "round": round, "attempt": attempt });
    let mut job = NewJob::new(JOB, payload);
    job.tenant_id = Some(tenant.into());
    job.run_at = at;
    job.max_attempts = 5;
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
            enqueue(tx, tenant, delivery, "scheduled", Utc::now(), 0, 0).await?;
        }
    }
    Ok(())
}

/// What one attempt got.
struct Answer {
    status: Option<i32>,
    body: Option<String>,
    error: Option<String>,
    /// `Retry-After` in seconds, on a 429 or 503.
    retry_after: Option<u64>,
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

    fn refused(error: &str) -> Self {
        Answer { status: None, body: None, error: Some(error.to_owned()), retry_after: None }
    }
}

/// Text Postgres can store: no NUL.
fn storable(s: &str) -> String {
    s.replace('\0', "")
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
            // Never the URL (its query may carry the receiver's token) in the log.
            Answer::refused(&format!("{kind}: {}", e.without_url()))
        }
        Ok(mut res) => {
            let status = res.status().as_u16() as i32;
            let retry_after = matches!(status, 429 | 503)
                .then(|| res.headers().get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok())
                .flatten();
            let mut kept = Vec::new();
            while kept.len() < BODY_KEPT {
                match res.chunk().await {
                    Ok(Some(c)) => kept.extend_from_slice(&c),
                    _ => break,
                }
            }
            kept.truncate(BODY_KEPT);
            let error = (300..400).contains(&status).then(|| "redirects are not followed".to_owned());
            Answer { status: Some(status), body: Some(storable(&String::from_utf8_lossy(&kept))), error, retry_after }
        }
    }
}

/// The wait before retry `n` (1-based): the schedule's, 10 % jitter either way so
/// retries after an outage do not all fire at once, stretched to the receiver's
/// `Retry-After` (at most a day).
fn wait_before(schedule: &[std::time::Duration], n: usize, retry_after: Option<u64>) -> Option<chrono::Duration> {
    let base = schedule.get(n - 1)?.as_secs_f64();
    let jitter = 0.9 + 0.2 * rand::random::<f64>();
    let secs = (base * jitter).max(retry_after.unwrap_or(0).min(86_400) as f64);
    Some(chrono::Duration::milliseconds((secs * 1000.0) as i64))
}

/// What a job is for.
struct Ticket {
    delivery: DeliveryId,
    tenant: TenantId,
    trigger: String,
    round: i32,
    attempt: i32,
}

impl Ticket {
    fn of(job: &Job) -> Result<Self, HandleError> {
        let bad = |e: String| HandleError::Permanent(e);
        let delivery =
            serde_json::from_value(job.payload["delivery_id"].clone()).map_err(|e| bad(format!("delivery_id: {e}")))?;
        let tenant = job.tenant_id.map(TenantId::from).ok_or_else(|| bad("a delivery job has a tenant".into()))?;
        Ok(Self {
            delivery,
            tenant,
            trigger: job.payload["trigger"].as_str().unwrap_or("scheduled").to_owned(),
            round: job.payload["round"].as_i64().unwrap_or(0) as i32,
            attempt: job.payload["attempt"].as_i64().unwrap_or(0) as i32,
        })
    }

    fn manual(&self) -> bool {
        self.trigger == "manual"
    }

    /// Whether a scheduled (or replayed) attempt is still the delivery's next one.
    fn current(&self, d: &DeliveryRow) -> bool {
        self.manual() || (d.status == "pending" && d.round == self.round && d.attempts == self.attempt)
    }
}

/// Runs one attempt of a delivery. No transaction is open while the receiver answers:
/// what to send is read in one short transaction, the outcome recorded in another, the
/// endpoint then the delivery locked in that order (as every writer of both does).
pub struct Deliver {
    pub state: AppState,
}

impl Deliver {
    async fn attempt(&self, t: &Ticket) -> Result<(), HandleError> {
        let transient = |e: AppError| HandleError::Transient(anyhow::anyhow!("{e}"));
        let db = &self.state.ctx.db;
        // 1. What to send.
        let (d, endpoint, message, keys) = {
            let mut tx = db.tenant_tx(t.tenant.into()).await?;
            let Some(d) = store::delivery_get(&mut tx, t.delivery, false).await? else {
                return Ok(()); // its endpoint was deleted
            };
            if !t.current(&d) {
                return Ok(()); // a stale or duplicate job
            }
            let Some(endpoint) = store::endpoint_get(&mut tx, d.endpoint_id, false).await? else {
                return Ok(());
            };
            if !endpoint.enabled {
                if !t.manual() {
                    store::delivery_set(
                        &mut tx,
                        d.id,
                        "failed",
                        d.attempts,
                        None,
                        d.last_status,
                        Some("the endpoint is disabled"),
                    )
                    .await?;
                    tx.commit().await?;
                }
                return Ok(());
            }
            let Some(message) = store::message_get(&mut tx, d.message_id).await? else {
                return Err(HandleError::Permanent(format!("delivery {} has no message", d.id)));
            };
            let keys =
                endpoints::signing_keys(&self.state, &mut tx, t.tenant, d.endpoint_id).await.map_err(transient)?;
            tx.commit().await?;
            let keys: Vec<Vec<u8>> = keys.iter().filter_map(|(s, _)| sign::key_of(s).ok()).collect();
            (d, endpoint, message, keys)
        };
        // 2. The attempt, no transaction open.
        let body = serde_json::to_vec(&message.body).map_err(|e| HandleError::Permanent(e.to_string()))?;
        let at = Utc::now();
        let started = Instant::now();
        let answer = if keys.is_empty() {
            Answer::refused("the endpoint has no signing secret")
        } else {
            post(&self.state, &endpoint.url, &message.id.to_string(), &keys, &body).await
        };
        let ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        tracing::info!(delivery = %d.id, endpoint = %d.endpoint_id, ok = answer.ok(), status = ?answer.status, ms, "webhook attempt");
        // 3. The outcome.
        let mut tx = db.tenant_tx(t.tenant.into()).await?;
        let Some(_) = store::endpoint_for_outcome(&mut tx, d.endpoint_id).await? else {
            return Ok(());
        };
        let Some(d) = store::delivery_get(&mut tx, t.delivery, true).await? else {
            return Ok(());
        };
        let error = answer.error.as_deref().map(storable);
        store::attempt_insert(
            &mut tx,
            t.tenant,
            d.id,
            &t.trigger,
            at,
            answer.status,
            answer.body.as_deref(),
            error.as_deref(),
            ms,
        )
        .await?;
        let why = storable(&answer.summary());
        // A failure counts against the endpoint first: one it disables ends this delivery.
        let disabled =
            !answer.ok() && self.failing(&mut tx, t.tenant, d.endpoint_id, &why, answer.status == Some(410)).await?;
        if !t.current(&d) {
            // The delivery moved on while this attempt ran (a replay, a disable): the
            // attempt is in the log, the delivery keeps its new course.
        } else if answer.ok() {
            let attempts = d.attempts + i32::from(!t.manual());
            store::delivery_set(&mut tx, d.id, "succeeded", attempts, None, answer.status, None).await?;
            store::endpoint_succeeded(&mut tx, d.endpoint_id).await?;
        } else if t.manual() {
            // One more try by hand: the delivery's own schedule (or outcome) stands.
            store::delivery_set(&mut tx, d.id, &d.status, d.attempts, d.next_attempt_at, answer.status, Some(&why))
                .await?;
        } else if disabled {
            let why = format!("{why}; the endpoint was disabled");
            store::delivery_set(&mut tx, d.id, "failed", d.attempts + 1, None, answer.status, Some(&why)).await?;
        } else {
            let attempts = d.attempts + 1;
            match wait_before(&self.state.settings.retry_schedule, attempts as usize, answer.retry_after) {
                Some(wait) => {
                    let next = Utc::now() + wait;
                    store::delivery_set(&mut tx, d.id, "pending", attempts, Some(next), answer.status, Some(&why))
                        .await?;
                    enqueue(&mut tx, t.tenant, d.id, "scheduled", next, d.round, attempts).await?;
                }
                None => {
                    store::delivery_set(&mut tx, d.id, "failed", attempts, None, answer.status, Some(&why)).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Counts a failure against the endpoint; disables it once it has failed long enough
    /// (or at once on `410 Gone`, as the receiver asks). True if this disabled it.
    async fn failing(
        &self,
        tx: &mut PgConnection,
        tenant: TenantId,
        endpoint: EndpointId,
        why: &str,
        gone: bool,
    ) -> Result<bool, HandleError> {
        let (count, since) = store::endpoint_failed(tx, endpoint).await?;
        let s = &self.state.settings;
        let hours = (Utc::now() - since).num_hours();
        let (min, after, reason) = if gone {
            (0, 0.0, "the receiver answered 410 Gone".to_owned())
        } else {
            let reason = format!("every delivery failed for {hours} hours, {count} attempts (last: {why})");
            (s.disable_min_failures, s.disable_after.as_secs_f64(), reason)
        };
        let reason: String = reason.chars().take(500).collect();
        let Some(_) = store::endpoint_disable_if_failing(tx, endpoint, min, after, &reason).await? else {
            return Ok(false);
        };
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
        self.state
            .ctx
            .emit(tx, &meta, [event.into()])
            .await
            .map_err(|e| HandleError::Transient(anyhow::anyhow!("{e}")))?;
        Ok(true)
    }

    /// The job's last try failed too: the delivery fails, visibly, rather than waiting.
    async fn give_up(&self, t: &Ticket, e: &HandleError) {
        let result: Result<(), AppError> = async {
            let mut tx = self.state.ctx.db.tenant_tx(t.tenant.into()).await?;
            if let Some(d) = store::delivery_get(&mut tx, t.delivery, true).await?
                && !t.manual()
                && t.current(&d)
            {
                let why = storable(&format!("gave up: {e}"));
                store::delivery_set(&mut tx, d.id, "failed", d.attempts, None, d.last_status, Some(&why)).await?;
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(delivery = %t.delivery, error = %e, "cannot mark a delivery failed");
        }
    }

    async fn run(&self, job: &Job) -> Result<(), HandleError> {
        let t = Ticket::of(job)?;
        let outcome = self.attempt(&t).await;
        if let Err(e) = &outcome
            && (matches!(e, HandleError::Permanent(_)) || job.attempts >= job.max_attempts)
        {
            self.give_up(&t, e).await;
        }
        outcome
    }
}

impl JobHandler for Deliver {
    fn run<'a>(
        &'a self,
        _tx: &'a mut PgConnection,
        job: &'a Job,
    ) -> futures::future::BoxFuture<'a, Result<(), HandleError>> {
        // The runner's transaction stays unused: the attempt keeps none open while the
        // receiver answers.
        Box::pin(Deliver::run(self, job))
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
    /// Replays so far (each starts the retry schedule again).
    pub round: i32,
    /// Scheduled attempts made in this round (attempts by hand are in `log` only).
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
        round: r.round,
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
    enqueue(&mut tx, tenant, id, "manual", Utc::now(), d.round, d.attempts).await?;
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
/// later), and a new round (the retry schedule from its start) for the failed ones and
/// for pending ones whose attempt is long overdue. Up to 5000 messages per call.
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
    let messages = store::message_ids_after(&mut tx, input.after, &e.event_types, MAX).await?;
    let overdue = Utc::now() - chrono::Duration::minutes(15);
    let mut queued = 0;
    for (message, _) in &messages {
        let (id, new) = store::delivery_insert(&mut tx, tenant, endpoint, *message).await?;
        let round = if new {
            Some(0)
        } else {
            match store::delivery_get(&mut tx, id, true).await? {
                Some(d)
                    if d.status == "failed"
                        || (d.status == "pending" && d.next_attempt_at.is_some_and(|n| n < overdue)) =>
                {
                    Some(store::delivery_new_round(&mut tx, id).await?)
                }
                _ => None,
            }
        };
        if let Some(round) = round {
            enqueue(&mut tx, tenant, id, "replay", Utc::now(), round, 0).await?;
            queued += 1;
        }
    }
    tx.commit().await?;
    let last_seq = messages.last().map_or(input.after, |m| m.1);
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
    if !(1..=100).contains(&limit) {
        return Err(AppError::invalid("limit", "1 to 100"));
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
