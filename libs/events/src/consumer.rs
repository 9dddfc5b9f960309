//! The consumer runtime: a durable pull consumer per (service, purpose). Each message is
//! validated against its contract, handled in one transaction together with an inbox row
//! (exactly-once effect), retried with backoff on transient failure, and sent to the
//! dead-letter stream with its reason when it is poison or out of deliveries.

use std::{sync::Arc, time::Duration};

use async_nats::{
    HeaderMap,
    jetstream::{self, AckKind, consumer::pull},
};
use futures::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use mirai_trace::{Span, SpanKind, TraceParent};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Bus, Envelope, bus::DLQ_CONTEXT};

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The event can never be applied (bad data for this consumer): dead-letter it now.
    #[error("permanent: {0}")]
    Permanent(String),
    /// It may work later (database down, dependency not yet projected): retry.
    #[error("transient: {0:#}")]
    Transient(#[from] anyhow::Error),
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        HandleError::Transient(e.into())
    }
}

impl Envelope {
    /// The payload as `T`, for a handler: data it cannot read never will be, so it is
    /// permanent (dead-lettered with the reason).
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, HandleError> {
        self.data_as().map_err(|e| HandleError::Permanent(format!("{}: {e}", self.kind)))
    }

    /// The envelope's tenant is what the handler's RLS context was set to; the payload's
    /// tenant must agree.
    pub fn require_tenant(&self, tenant: uuid::Uuid) -> Result<(), HandleError> {
        if self.tenantid != Some(tenant) {
            return Err(HandleError::Permanent("envelope tenantid does not match the payload's tenant_id".into()));
        }
        Ok(())
    }
}

/// Applies one event inside the runtime's transaction (tenant context already set).
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, event: &'a Envelope) -> BoxFuture<'a, Result<(), HandleError>>;
}

/// A durable consumer: which stream and subjects, who handles them, how hard to retry.
#[derive(Clone)]
pub struct ConsumerSpec {
    /// Durable name, `<service>-<purpose>`; also the inbox key and the DLQ subject.
    pub name: String,
    /// The producing context whose stream is read, e.g. `tenant`.
    pub context: String,
    /// Logical filter subjects, e.g. `tenant.membership.>`.
    pub subjects: Vec<String>,
    pub handler: Arc<dyn Handler>,
    pub max_deliver: i64,
    pub backoff: Vec<Duration>,
    /// Messages handled at once. Handlers of state-carrying events apply revisions, so
    /// order across aggregates does not matter; set 1 for a strictly sequential consumer.
    pub concurrency: usize,
}

impl ConsumerSpec {
    pub fn new(name: &str, context: &str, subjects: &[&str], handler: impl Handler) -> Self {
        Self {
            name: name.to_owned(),
            context: context.to_owned(),
            subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
            handler: Arc::new(handler),
            max_deliver: 5,
            concurrency: 8,
            backoff: vec![
                Duration::from_millis(200),
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
        }
    }

    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    pub fn max_deliver(mut self, n: i64) -> Self {
        self.max_deliver = n;
        self
    }

    pub fn backoff(mut self, b: Vec<Duration>) -> Self {
        self.backoff = b;
        self
    }
}

/// Runs one consumer until `cancel` fires; the message in hand is finished first.
pub async fn run(pool: PgPool, bus: Bus, spec: ConsumerSpec, cancel: CancellationToken) {
    loop {
        match run_once(&pool, &bus, &spec, &cancel).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(consumer = %spec.name, error = %format!("{e:#}"), "consumer stopped; restarting");
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Provisions the consumer (idempotent) and returns it.
pub async fn provision(bus: &Bus, spec: &ConsumerSpec) -> anyhow::Result<jetstream::consumer::Consumer<pull::Config>> {
    let stream = bus.ensure_stream(&spec.context).await?;
    bus.ensure_stream(DLQ_CONTEXT).await?;
    let consumer = stream
        .get_or_create_consumer(
            &spec.name,
            pull::Config {
                durable_name: Some(spec.name.clone()),
                filter_subjects: spec.subjects.iter().map(|s| bus.subject(s)).collect(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_deliver: spec.max_deliver,
                max_ack_pending: 1000,
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer)
}

async fn run_once(pool: &PgPool, bus: &Bus, spec: &ConsumerSpec, cancel: &CancellationToken) -> anyhow::Result<()> {
    let consumer = provision(bus, spec).await?;
    let mut messages = consumer.messages().await?;
    // Up to `concurrency` messages are handled at once; each is still one transaction
    // with its inbox row. On cancel, messages in hand are finished before returning.
    let mut in_flight = FuturesUnordered::new();
    let result = loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break Ok(()),
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                if let Err(e) = done {
                    break Err(e);
                }
            }
            next = messages.next(), if in_flight.len() < spec.concurrency.max(1) => {
                let msg = match next {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => break Err(e.into()),
                    None => break Err(anyhow::anyhow!("message stream ended")),
                };
                in_flight.push(async move { process(pool, bus, spec, &msg).await });
            }
        }
    };
    while let Some(done) = in_flight.next().await {
        done?;
    }
    result
}

async fn process(pool: &PgPool, bus: &Bus, spec: &ConsumerSpec, msg: &jetstream::Message) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let (delivered, pending) = msg.info().map(|i| (i.delivered, i.pending)).unwrap_or((1, 0));
    metrics::gauge!("mirai_consumer_pending", "consumer" => spec.name.clone()).set(pending as f64);
    let envelope = match decode(&msg.payload) {
        Ok(e) => e,
        Err(reason) => {
            dead_letter(bus, spec, msg, &reason, delivered).await?;
            return ack(msg, AckKind::Term).await;
        }
    };
    // The handler's span continues the trace of the request that produced the event.
    let parent = envelope.traceparent.as_deref().and_then(TraceParent::parse);
    let mut span = Span::start(format!("consume {}", envelope.kind), SpanKind::Consumer, parent.as_ref());
    span.attr("messaging.system", "nats");
    span.attr("messaging.destination.name", envelope.kind.clone());
    span.attr("messaging.consumer.group.name", spec.name.clone());
    span.attr("messaging.message.id", envelope.id.to_string());
    let log_span = tracing::info_span!("consume", trace_id = %span.context.trace_id, event_id = %envelope.id, consumer = %spec.name);
    let outcome = apply(pool, spec, &envelope).instrument(log_span).await;
    span.error = outcome.is_err();
    span.finish();
    let label = match &outcome {
        Ok(true) => "handled",
        Ok(false) => "duplicate",
        Err(HandleError::Permanent(_)) => "dead_lettered",
        Err(HandleError::Transient(_)) if delivered >= spec.max_deliver => "dead_lettered",
        Err(HandleError::Transient(_)) => "retried",
    };
    metrics::counter!("mirai_consumer_messages_total", "consumer" => spec.name.clone(), "outcome" => label)
        .increment(1);
    metrics::histogram!("mirai_consumer_handler_seconds", "consumer" => spec.name.clone())
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(_) => {
            let lag = (chrono::Utc::now() - envelope.time).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("mirai_consumer_event_lag_seconds", "consumer" => spec.name.clone()).record(lag);
            ack(msg, AckKind::Ack).await
        }
        Err(HandleError::Permanent(reason)) => {
            dead_letter(bus, spec, msg, &reason, delivered).await?;
            ack(msg, AckKind::Term).await
        }
        Err(HandleError::Transient(e)) if delivered >= spec.max_deliver => {
            let reason = format!("gave up after {delivered} deliveries: {e:#}");
            dead_letter(bus, spec, msg, &reason, delivered).await?;
            ack(msg, AckKind::Term).await
        }
        Err(HandleError::Transient(e)) => {
            let idx = (delivered.max(1) as usize - 1).min(spec.backoff.len().saturating_sub(1));
            let delay = spec.backoff.get(idx).copied();
            tracing::info!(consumer = %spec.name, event_id = %envelope.id, delivered, error = %format!("{e:#}"), "handler failed; will retry");
            ack(msg, AckKind::Nak(delay)).await
        }
    }
}

/// Parses and validates an envelope; the error is the dead-letter reason.
fn decode(payload: &[u8]) -> Result<Envelope, String> {
    let value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    mirai_contracts::validate_envelope(&value).map_err(|e| format!("invalid envelope: {e}"))?;
    let envelope: Envelope = serde_json::from_value(value).map_err(|e| format!("invalid envelope: {e}"))?;
    mirai_contracts::validate(&envelope.kind, &envelope.data).map_err(|e| e.to_string())?;
    Ok(envelope)
}

/// Applies the event once: Ok(false) when the inbox says it was already handled.
async fn apply(pool: &PgPool, spec: &ConsumerSpec, envelope: &Envelope) -> Result<bool, HandleError> {
    let mut tx = pool.begin().await?;
    if let Some(t) = envelope.tenantid {
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(t.to_string()).execute(&mut *tx).await?;
    }
    let fresh = sqlx::query("INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(&spec.name)
        .bind(envelope.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    spec.handler.handle(&mut tx, envelope).await?;
    tx.commit().await?;
    Ok(true)
}

async fn dead_letter(
    bus: &Bus,
    spec: &ConsumerSpec,
    msg: &jetstream::Message,
    reason: &str,
    delivered: i64,
) -> anyhow::Result<()> {
    let mut headers = HeaderMap::new();
    headers.insert("Mirai-Dlq-Reason", sanitize(reason).as_str());
    headers.insert("Mirai-Dlq-Consumer", spec.name.as_str());
    headers.insert("Mirai-Dlq-Subject", bus.logical(msg.subject.as_str()));
    headers.insert("Mirai-Dlq-Deliveries", delivered.to_string().as_str());
    if let Some(id) = msg.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")) {
        headers.insert("Mirai-Dlq-Event-Id", id.as_str());
    }
    tracing::warn!(consumer = %spec.name, reason, "event dead-lettered");
    metrics::counter!("mirai_dead_letters_total", "consumer" => spec.name.clone()).increment(1);
    bus.js
        .publish_with_headers(bus.subject(&format!("{DLQ_CONTEXT}.{}", spec.name)), headers, msg.payload.clone())
        .await?
        .await?;
    Ok(())
}

/// Header values are one line of visible text.
fn sanitize(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    one_line.chars().take(1000).collect()
}

async fn ack(msg: &jetstream::Message, kind: AckKind) -> anyhow::Result<()> {
    msg.ack_with(kind).await.map_err(|e| anyhow::anyhow!("ack failed: {e}"))
}
