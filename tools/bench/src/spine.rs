//! The event spine (outbox → relay → JetStream → batched consumer with inbox row) beside
//! raw JetStream (publish with `Nats-Msg-Id`, 100 in flight → pull consumer → ack),
//! measured in the same run: events/s at 10k and 100k events, and publish-to-handled
//! p50/p99 at a steady 1k events/s.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_nats::{HeaderMap, jetstream};
use futures::{StreamExt, stream::FuturesUnordered};
use mirai_contracts::{events::tenant::OrgUnitCreated, ids::TenantId};
use mirai_events::{Batch, ConsumerSpec, Cx, EventMeta, HandleError, NewEvent, consumer, outbox, relay::Relay};
use mirai_kit::{Migration, db};
use mirai_testkit::{config, drop_database, nats_prefix, scratch_database};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::pct;

const PROBE: &[Migration] =
    &[Migration { version: 1, name: "bench", sql: "CREATE TABLE handled (event_id uuid PRIMARY KEY);" }];

/// What the bench's consumer does per event: one row, as a projection would write.
async fn on_created(cx: Cx<'_>, _: OrgUnitCreated) -> Result<(), HandleError> {
    sqlx::query("INSERT INTO handled (event_id) VALUES ($1)").bind(cx.envelope.id).execute(&mut *cx.tx).await?;
    Ok(())
}

/// The same projection written by a batch handler: one multi-row insert per run.
async fn on_created_batch(b: Batch<'_>, _: Vec<OrgUnitCreated>) -> Result<(), HandleError> {
    let ids: Vec<Uuid> = b.envelopes.iter().map(|e| e.id).collect();
    sqlx::query("INSERT INTO handled (event_id) SELECT unnest($1::uuid[])").bind(&ids).execute(&mut *b.tx).await?;
    Ok(())
}

fn org_unit(tenant: TenantId, i: usize) -> NewEvent {
    OrgUnitCreated { org_unit_id: Uuid::now_v7().into(), tenant_id: tenant, parent_id: None, name: format!("unit {i}") }
        .into()
}

/// Commit instants by event id, and the commit-to-handled latencies seen so far.
#[derive(Default)]
struct Clock {
    committed: Mutex<HashMap<Uuid, Instant>>,
    lags: Mutex<Vec<f64>>,
    handled: AtomicUsize,
}

struct Run {
    events_per_sec: f64,
    p50: f64,
    p99: f64,
}

/// `n` events through the spine; at `rate` events/s in commits of 10 when given,
/// otherwise as fast as the producer commits (100 events per transaction). The consumer
/// writes its projection row per event (`on`) or per run (`on_batch`) as `batched` says.
async fn spine(n: usize, rate: Option<u32>, batched: bool) -> anyhow::Result<Run> {
    let database = scratch_database(&[("bench", PROBE)]).await?;
    let cfg = config(&database, &nats_prefix());
    let pool = db::connect(&cfg, "bench").await?;
    let bus = mirai_events::Bus::connect_with(&cfg.admin_bus_options()).await?;
    let clock = Arc::new(Clock::default());
    let cancel = CancellationToken::new();
    let seen = clock.clone();
    let spec = if batched {
        ConsumerSpec::new("bench-spine").on_batch(on_created_batch)
    } else {
        ConsumerSpec::new("bench-spine").on(on_created)
    };
    let spec = spec.observe(move |e| {
        if let Some(t) = seen.committed.lock().unwrap().get(&e.id) {
            seen.lags.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
        }
        seen.handled.fetch_add(1, Ordering::Relaxed);
    });
    bus.ensure_stream(&spec.context).await?;
    bus.ensure_stream(mirai_events::bus::DLQ_CONTEXT).await?;
    consumer::provision(&bus, &spec).await?;
    let c = tokio::spawn(consumer::run(pool.clone(), bus.clone(), spec, cancel.clone()));
    let r = tokio::spawn(Relay::new(pool.clone(), bus.clone(), "bench").run(cancel.clone()));
    let tenant = TenantId::new();
    let meta = EventMeta::default();
    let per_tx = if rate.is_some() { 10 } else { 100 };
    let mut tick = rate.map(|r| tokio::time::interval(Duration::from_secs_f64(per_tx as f64 / r as f64)));
    let start = Instant::now();
    let mut sent = 0;
    while sent < n {
        if let Some(t) = tick.as_mut() {
            t.tick().await;
        }
        let k = per_tx.min(n - sent);
        let mut tx = pool.begin().await?;
        let envelopes =
            outbox::enqueue_all(&mut tx, "bench", &meta, (0..k).map(|i| org_unit(tenant, sent + i))).await?;
        tx.commit().await?;
        let now = Instant::now();
        clock.committed.lock().unwrap().extend(envelopes.iter().map(|e| (e.id, now)));
        sent += k;
    }
    while clock.handled.load(Ordering::Relaxed) < n {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(600),
            "spine: only {} of {n} handled",
            clock.handled.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let total = start.elapsed();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM handled").fetch_one(&pool).await?;
    anyhow::ensure!(rows as usize == n, "spine: {rows} rows for {n} events");
    cancel.cancel();
    let _ = tokio::join!(c, r);
    let _ = bus.delete_prefixed_streams().await;
    pool.close().await;
    drop_database(&database).await;
    let mut lags = clock.lags.lock().unwrap().clone();
    lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok(Run { events_per_sec: n as f64 / total.as_secs_f64(), p50: pct(&lags, 0.5), p99: pct(&lags, 0.99) })
}

/// `n` messages through bare JetStream: published with `Nats-Msg-Id` (100 acks in flight,
/// or at `rate`/s), consumed by a durable pull consumer that acks each one.
async fn raw(n: usize, rate: Option<u32>) -> anyhow::Result<Run> {
    let prefix = nats_prefix();
    let bus = mirai_events::Bus::connect_with(&config("unused", &prefix).admin_bus_options()).await?;
    let stream = bus.ensure_stream("raw").await?;
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("raw".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 1000,
            ..Default::default()
        })
        .await?;
    let clock = Arc::new(Clock::default());
    let seen = clock.clone();
    let drain = tokio::spawn(async move {
        let mut messages = consumer.messages().await?;
        while seen.handled.load(Ordering::Relaxed) < n {
            let msg = messages
                .next()
                .await
                .ok_or_else(|| anyhow::anyhow!("raw: stream ended"))?
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            msg.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            // The message's id leads its payload.
            let id = msg.payload.get(..16).and_then(|b| Uuid::from_slice(b).ok());
            if let Some(t) = id.and_then(|id| seen.committed.lock().unwrap().get(&id).copied()) {
                seen.lags.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
            }
            seen.handled.fetch_add(1, Ordering::Relaxed);
        }
        anyhow::Ok(())
    });
    let subject = bus.subject("raw.message.sent.v1");
    let padding = vec![b'x'; 400];
    let per_tick = 10;
    let mut tick = rate.map(|r| tokio::time::interval(Duration::from_secs_f64(per_tick as f64 / r as f64)));
    let start = Instant::now();
    let mut acks = FuturesUnordered::new();
    for i in 0..n {
        if let Some(t) = tick.as_mut().filter(|_| i % per_tick == 0) {
            t.tick().await;
        }
        let id = Uuid::now_v7();
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.to_string().as_str());
        let mut body = id.as_bytes().to_vec();
        body.extend_from_slice(&padding);
        clock.committed.lock().unwrap().insert(id, Instant::now());
        acks.push(bus.js.publish_with_headers(subject.clone(), headers, body.into()).await?.into_future());
        while acks.len() >= 100 {
            acks.next().await.expect("in flight")?;
        }
    }
    while let Some(a) = acks.next().await {
        a?;
    }
    drain.await??;
    let total = start.elapsed();
    let _ = bus.delete_prefixed_streams().await;
    let mut lags = clock.lags.lock().unwrap().clone();
    lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok(Run { events_per_sec: n as f64 / total.as_secs_f64(), p50: pct(&lags, 0.5), p99: pct(&lags, 0.99) })
}

/// The spine's rows of the report, each beside raw JetStream and the ratio.
pub async fn rows() -> anyhow::Result<Vec<String>> {
    let mut rows = vec![];
    for n in [10_000, 100_000] {
        let bare = raw(n, None).await?;
        for (batched, handler) in [(false, "a row per event (`on`)"), (true, "a multi-row insert per run (`on_batch`)")]
        {
            let ours = spine(n, None, batched).await?;
            rows.push(format!(
                "| spine end to end (commit → handled with inbox row), {n} events, handler writes {handler} | {:.0} events/s; raw JetStream {:.0} msgs/s; ratio {:.2} | |",
                ours.events_per_sec,
                bare.events_per_sec,
                ours.events_per_sec / bare.events_per_sec
            ));
            eprintln!("{}", rows.last().unwrap());
        }
    }
    let bare = raw(5_000, Some(1_000)).await?;
    let ours = spine(5_000, Some(1_000), false).await?;
    rows.push(format!(
        "| spine at a steady 1k events/s, 5,000 events | | commit → handled p50 {:.2} ms, p99 {:.2} ms; raw JetStream publish → acked p50 {:.2} ms, p99 {:.2} ms; p99 ratio {:.1} |",
        ours.p50,
        ours.p99,
        bare.p50,
        bare.p99,
        ours.p99 / bare.p99
    ));
    eprintln!("{}", rows.last().unwrap());
    Ok(rows)
}
