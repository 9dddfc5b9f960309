//! The outbox relay: publishes committed outbox rows to JetStream with `Nats-Msg-Id` = the
//! event id (so a republish after a crash is deduplicated by the stream), then marks them
//! published. Safe with many replicas (`FOR UPDATE SKIP LOCKED`); woken by LISTEN/NOTIFY
//! with polling as the fallback. Each event whose row carries a trace context is published
//! under a producer span continuing it, and the NATS `traceparent` header names that span.

use std::time::Duration;

use async_nats::{HeaderMap, jetstream::context::PublishAckFuture};
use chrono::{DateTime, Utc};
use mirai_trace::TraceParent;
use sqlx::{PgPool, Row, postgres::PgListener};
use tokio_util::sync::CancellationToken;

use crate::Bus;

/// The NOTIFY channel the outbox trigger signals for a schema.
pub fn channel(schema: &str) -> String {
    format!("mirai_outbox_{schema}")
}

#[derive(Clone)]
pub struct Relay {
    pub pool: PgPool,
    pub bus: Bus,
    pub schema: String,
    pub batch: i64,
    pub poll: Duration,
    /// The job runner's wake-up: the relay's LISTEN connection also hears
    /// `mirai_jobs_<schema>` and passes it on, so a service holds one listener, not two.
    pub jobs_wake: Option<std::sync::Arc<tokio::sync::Notify>>,
}

impl Relay {
    pub fn new(pool: PgPool, bus: Bus, schema: &str) -> Self {
        Self { pool, bus, schema: schema.to_owned(), batch: 500, poll: Duration::from_secs(1), jobs_wake: None }
    }

    /// Runs until `cancel` fires, then flushes what is pending (bounded) and returns.
    pub async fn run(self, cancel: CancellationToken) {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(mut l) => match l
                .listen_all([channel(&self.schema), crate::jobs::channel(&self.schema)].iter().map(String::as_str))
                .await
            {
                Ok(()) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay: LISTEN failed, polling only");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay: no listener connection, polling only");
                None
            }
        };
        let mut failures = 0u32;
        // The pending gauge is a count over the outbox: once a second is enough for a
        // dashboard, and under load the relay comes here after every partial batch.
        let mut gauge_at = tokio::time::Instant::now() - Duration::from_secs(1);
        loop {
            if cancel.is_cancelled() {
                break;
            }
            match self.publish_batch().await {
                Ok(n) if n as i64 >= self.batch => {
                    failures = 0;
                    continue;
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %format!("{e:#}"), schema = %self.schema, "outbox relay: publish failed");
                    let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    continue;
                }
            }
            if gauge_at.elapsed() >= Duration::from_secs(1) {
                self.record_pending().await;
                gauge_at = tokio::time::Instant::now();
            }
            let jobs = crate::jobs::channel(&self.schema);
            let wait = async {
                match listener.as_mut() {
                    Some(l) => {
                        let deadline = tokio::time::Instant::now() + self.poll;
                        // A job's wake-up is passed on; the relay waits on for its own.
                        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, l.recv()).await {
                            if n.channel() != jobs {
                                break;
                            }
                            if let Some(w) = &self.jobs_wake {
                                // One worker, or the next to wait if all are busy (a permit is
                                // kept); a worker that finds a job wakes the next.
                                w.notify_one();
                            }
                        }
                    }
                    None => tokio::time::sleep(self.poll).await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = wait => {}
            }
        }
        // Flush: publish what committed before shutdown, within a bound.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < deadline {
            match self.publish_batch().await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Publishes one batch; returns how many rows it published.
    pub async fn publish_batch(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT seq, id, subject, payload::text AS payload, traceparent, created_at FROM outbox \
             WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut acks: Vec<(PublishAckFuture, Option<tracing::Span>)> = Vec::with_capacity(rows.len());
        let mut seqs = Vec::with_capacity(rows.len());
        let mut oldest: Option<DateTime<Utc>> = None;
        for row in &rows {
            let seq: i64 = row.get("seq");
            let id: uuid::Uuid = row.get("id");
            let subject: String = row.get("subject");
            let payload: String = row.get("payload");
            let created: DateTime<Utc> = row.get("created_at");
            oldest = Some(oldest.map_or(created, |o| o.min(created)));
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.to_string().as_str());
            // Untraced rows get no span: the relay's cost per event stays a header or two.
            // Only a context that parses travels on: the header is rebuilt from it, so no
            // stored text (a stray newline, say) ever reaches a NATS header verbatim.
            let row_trace = row.get::<Option<String>, _>("traceparent").as_deref().and_then(TraceParent::parse);
            let span = row_trace.as_ref().map(|p| publish_span(&subject, id, p));
            if let Some(tp) = span.as_ref().and_then(mirai_trace::traceparent).or(row_trace) {
                headers.insert("traceparent", tp.header().as_str());
            }
            let ack = self.bus.js.publish_with_headers(self.bus.subject(&subject), headers, payload.into()).await?;
            acks.push((ack, span));
            seqs.push(seq);
        }
        // Each producer span ends once the stream has acknowledged its event.
        for (ack, span) in acks {
            if let Err(e) = ack.await {
                if let Some(span) = &span {
                    mirai_trace::set_error(span, &e);
                }
                return Err(e.into());
            }
        }
        sqlx::query("UPDATE outbox SET published_at = now() WHERE seq = ANY($1)").bind(&seqs).execute(&mut *tx).await?;
        tx.commit().await?;
        let n = seqs.len();
        metrics::counter!("mirai_outbox_published_total", "schema" => self.schema.clone()).increment(n as u64);
        if let Some(o) = oldest {
            let lag = (Utc::now() - o).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("mirai_outbox_publish_lag_seconds", "schema" => self.schema.clone()).record(lag);
        }
        Ok(n)
    }

    async fn record_pending(&self) {
        if let Ok(n) = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&self.pool)
            .await
        {
            metrics::gauge!("mirai_outbox_pending", "schema" => self.schema.clone()).set(n as f64);
        }
    }
}

/// A producer span for one event, continuing the trace its outbox row carries.
fn publish_span(subject: &str, id: uuid::Uuid, parent: &TraceParent) -> tracing::Span {
    let name = format!("publish {subject}");
    let span = tracing::info_span!(
        "publish",
        otel.name = name.as_str(),
        otel.kind = "producer",
        messaging.system = "nats",
        messaging.destination.name = subject,
        messaging.message.id = %id,
    );
    mirai_trace::continue_trace(&span, parent);
    span
}
