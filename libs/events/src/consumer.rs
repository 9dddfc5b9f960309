//! The consumer runtime: a durable pull consumer per (service, purpose) whose handlers are
//! plain async functions of a typed payload (`libs/contracts`). Messages are validated
//! against their contract and applied in batches: up to `batch` pending messages in one
//! transaction with one multi-row inbox insert (exactly-once effect), acked after commit.
//! When any handler in a batch fails, the batch is rolled back and replayed one message
//! at a time, so only the poison message is retried (with backoff) or dead-lettered with
//! its reason, and the rest still apply exactly once.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use async_nats::{
    HeaderMap,
    jetstream::{self, AckKind, consumer::pull},
};
use futures::StreamExt;
use mirai_trace::TraceParent;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

pub use crate::handler::{Batch, Cx, HandleError, On, OnBatch};
pub use crate::spec::{ConsumerSpec, Observer};
use crate::{Bus, Envelope, bus::DLQ_CONTEXT, tenancy::set_tenant};

/// Runs one consumer until `cancel` fires; the batch in hand is finished first.
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
    anyhow::ensure!(!spec.routes.is_empty(), "consumer {} has no handlers", spec.name);
    let stream = bus.stream(&spec.context).await?;
    bus.stream(DLQ_CONTEXT).await?;
    let consumer = stream
        .get_or_create_consumer(
            &spec.name,
            pull::Config {
                durable_name: Some(spec.name.clone()),
                // The type, and the type keyed by aggregate (compacted contexts' subjects).
                filter_subjects: spec
                    .subjects()
                    .iter()
                    .flat_map(|s| [bus.subject(s), bus.subject(&format!("{s}.>"))])
                    .collect(),
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
    // Whatever has arrived, up to `batch`, is one batch: a quiet stream gives batches of
    // one (lowest latency), a busy one full batches (one commit for many events).
    let mut batches = consumer.messages().await?.ready_chunks(spec.batch.max(1));
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Ok(()),
            next = batches.next() => {
                let Some(items) = next else { anyhow::bail!("message stream ended") };
                let mut messages = Vec::with_capacity(items.len());
                let mut failure = None;
                for item in items {
                    match item {
                        Ok(m) => messages.push(m),
                        Err(e) => failure = Some(e),
                    }
                }
                handle_batch(pool, bus, spec, messages).await?;
                if let Some(e) = failure {
                    return Err(e.into());
                }
            }
        }
    }
}

/// A decoded message ready for its handler.
struct Decoded {
    msg: jetstream::Message,
    envelope: Envelope,
    delivered: i64,
}

async fn handle_batch(
    pool: &PgPool,
    bus: &Bus,
    spec: &ConsumerSpec,
    messages: Vec<jetstream::Message>,
) -> anyhow::Result<()> {
    let mut good = Vec::with_capacity(messages.len());
    for msg in messages {
        let (delivered, pending) = msg.info().map(|i| (i.delivered, i.pending)).unwrap_or((1, 0));
        metrics::gauge!("mirai_consumer_pending", "consumer" => spec.name.clone()).set(pending as f64);
        match decode(&msg.payload) {
            Ok(envelope) => good.push(Decoded { msg, envelope, delivered }),
            Err(reason) => {
                dead_letter(bus, spec, &msg, &reason, delivered).await?;
                ack(&msg, AckKind::Term).await?;
            }
        }
    }
    // Redeliveries go one at a time: they failed before, and their delivery count decides
    // their backoff and when they are dead-lettered.
    let (batchable, retries): (Vec<_>, Vec<_>) = good.into_iter().partition(|d| d.delivered <= 1);
    if batchable.len() > 1 {
        let started = Instant::now();
        let outcome = apply_batch(pool, spec, &batchable).await;
        match outcome {
            Ok(fresh) => {
                metrics::histogram!("mirai_consumer_batch_seconds", "consumer" => spec.name.clone())
                    .record(started.elapsed().as_secs_f64());
                metrics::histogram!("mirai_consumer_batch_size", "consumer" => spec.name.clone())
                    .record(batchable.len() as f64);
                for d in &batchable {
                    let handled = fresh.contains(&d.envelope.id);
                    settled(spec, &d.envelope, if handled { "handled" } else { "duplicate" }, handled);
                    ack(&d.msg, AckKind::Ack).await?;
                }
            }
            Err(e) => {
                tracing::info!(consumer = %spec.name, size = batchable.len(), error = %e,
                    "batch failed; replaying it one message at a time");
                for d in &batchable {
                    process(pool, bus, spec, d).await?;
                }
            }
        }
    } else {
        for d in &batchable {
            process(pool, bus, spec, d).await?;
        }
    }
    for d in &retries {
        process(pool, bus, spec, d).await?;
    }
    Ok(())
}

/// Applies a batch in one transaction; returns the ids that were new to the inbox.
async fn apply_batch(pool: &PgPool, spec: &ConsumerSpec, batch: &[Decoded]) -> Result<HashSet<Uuid>, HandleError> {
    let mut tx = pool.begin().await?;
    let ids: Vec<Uuid> = batch.iter().map(|d| d.envelope.id).collect();
    let mut fresh: HashSet<Uuid> = sqlx::query_scalar(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(&spec.name)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let applied = fresh.clone();
    // A repeated id within the batch is applied once.
    let pending: Vec<&Decoded> = batch.iter().filter(|d| fresh.remove(&d.envelope.id)).collect();
    let mut tenant: Option<Option<Uuid>> = None;
    let mut spans: Vec<tracing::Span> = Vec::with_capacity(pending.len());
    let mut i = 0;
    while i < pending.len() {
        let first = &pending[i].envelope;
        if tenant != Some(first.tenantid) {
            set_tenant(&mut tx, first.tenantid).await?;
            tenant = Some(first.tenantid);
        }
        // A batch route takes the run of consecutive events of its subject and tenant;
        // any other route takes one event. Either way events apply in stream order.
        let batches = spec.routes.get(first.kind.as_str()).is_some_and(|r| r.batches());
        let len = if batches {
            pending[i..]
                .iter()
                .take_while(|d| d.envelope.kind == first.kind && d.envelope.tenantid == first.tenantid)
                .count()
        } else {
            1
        };
        let run = &pending[i..i + len];
        let span = if batches { run_span(spec, run) } else { consume_span(spec, run[0]) };
        let started = Instant::now();
        let envelopes: Vec<&Envelope> = run.iter().map(|d| &d.envelope).collect();
        let outcome = spec.dispatch(&mut tx, &envelopes).instrument(span.clone()).await;
        if let Err(e) = outcome {
            // The whole batch rolls back; `handle_batch` replays it one message at a time.
            mirai_trace::set_error(&span, &e);
            spans.iter().for_each(|s| mirai_trace::set_error(s, &"rolled back with its batch"));
            return Err(e);
        }
        metrics::histogram!("mirai_consumer_handler_seconds", "consumer" => spec.name.clone())
            .record(started.elapsed().as_secs_f64());
        spans.push(span);
        i += len;
    }
    if let Err(e) = tx.commit().await {
        spans.iter().for_each(|s| mirai_trace::set_error(s, &e));
        return Err(e.into());
    }
    Ok(applied)
}

/// Handles one message in a transaction of its own, with retry and dead-lettering.
async fn process(pool: &PgPool, bus: &Bus, spec: &ConsumerSpec, d: &Decoded) -> anyhow::Result<()> {
    let started = Instant::now();
    let span = consume_span(spec, d);
    let outcome = apply_one(pool, spec, &d.envelope).instrument(span.clone()).await;
    if let Err(e) = &outcome {
        mirai_trace::set_error(&span, e);
    }
    drop(span);
    metrics::histogram!("mirai_consumer_handler_seconds", "consumer" => spec.name.clone())
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(fresh) => {
            settled(spec, &d.envelope, if fresh { "handled" } else { "duplicate" }, fresh);
            ack(&d.msg, AckKind::Ack).await
        }
        Err(HandleError::Permanent(reason)) => {
            settled(spec, &d.envelope, "dead_lettered", false);
            dead_letter(bus, spec, &d.msg, &reason, d.delivered).await?;
            ack(&d.msg, AckKind::Term).await
        }
        Err(HandleError::Transient(e)) if d.delivered >= spec.max_deliver => {
            settled(spec, &d.envelope, "dead_lettered", false);
            let reason = format!("gave up after {} deliveries: {e:#}", d.delivered);
            dead_letter(bus, spec, &d.msg, &reason, d.delivered).await?;
            ack(&d.msg, AckKind::Term).await
        }
        Err(HandleError::Transient(e)) => {
            settled(spec, &d.envelope, "retried", false);
            let idx = (d.delivered.max(1) as usize - 1).min(spec.backoff.len().saturating_sub(1));
            let delay = spec.backoff.get(idx).copied();
            tracing::info!(consumer = %spec.name, event_id = %d.envelope.id, delivered = d.delivered,
                error = %format!("{e:#}"), "handler failed; will retry");
            ack(&d.msg, AckKind::Nak(delay)).await
        }
    }
}

/// Applies the event once: Ok(false) when the inbox says it was already handled.
async fn apply_one(pool: &PgPool, spec: &ConsumerSpec, envelope: &Envelope) -> Result<bool, HandleError> {
    let mut tx = pool.begin().await?;
    set_tenant(&mut tx, envelope.tenantid).await?;
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
    spec.dispatch(&mut tx, &[envelope]).await?;
    tx.commit().await?;
    Ok(true)
}

/// The trace context a message continues: the relay's producer span (the NATS
/// `traceparent` header), else the span its envelope names.
fn parent_of(d: &Decoded) -> Option<TraceParent> {
    let header = d.msg.headers.as_ref().and_then(|h| h.get("traceparent")).and_then(|v| TraceParent::parse(v.as_str()));
    header.or_else(|| d.envelope.traceparent.as_deref().and_then(TraceParent::parse))
}

/// The handler's span: a consumer span under the relay's producer span (the NATS
/// `traceparent` header) or, for a message without one, under the span the envelope
/// names, so one trace runs request → publish → consume.
fn consume_span(spec: &ConsumerSpec, d: &Decoded) -> tracing::Span {
    let envelope = &d.envelope;
    let name = format!("consume {}", envelope.kind);
    let span = tracing::info_span!(
        "consume",
        otel.name = name.as_str(),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.destination.name = envelope.kind.as_str(),
        messaging.consumer.group.name = spec.name.as_str(),
        messaging.message.id = %envelope.id,
        messaging.batch.message_count = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        event_id = %envelope.id,
        consumer = spec.name.as_str(),
    );
    if let Some(parent) = parent_of(d) {
        mirai_trace::continue_trace(&span, &parent);
    }
    if let Some(own) = mirai_trace::traceparent(&span) {
        span.record("trace_id", own.trace_id.as_str());
    }
    span
}

/// The span of a run handed to a batch handler: it continues the first message's trace
/// and links the others' (OpenTelemetry's messaging conventions for batch processing).
fn run_span(spec: &ConsumerSpec, run: &[&Decoded]) -> tracing::Span {
    let span = consume_span(spec, run[0]);
    span.record("messaging.batch.message_count", run.len() as i64);
    for d in &run[1..] {
        if let Some(parent) = parent_of(d) {
            mirai_trace::link(&span, &parent);
        }
    }
    span
}

/// Counts the outcome; for an applied event, records its lag and tells the observer.
fn settled(spec: &ConsumerSpec, envelope: &Envelope, outcome: &'static str, applied: bool) {
    metrics::counter!("mirai_consumer_messages_total", "consumer" => spec.name.clone(), "outcome" => outcome)
        .increment(1);
    if applied {
        let lag = (chrono::Utc::now() - envelope.time).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!("mirai_consumer_event_lag_seconds", "consumer" => spec.name.clone()).record(lag);
        if let Some(observe) = &spec.observer {
            observe(envelope);
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
