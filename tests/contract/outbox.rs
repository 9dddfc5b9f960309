//! The outbox under a relay crash: 1,000 events, the relay killed mid-flight several
//! times and a published batch "forgotten" (as if the relay died between the broker's
//! ack and its commit); every event's effect happens exactly once at the consumer.

use std::time::Duration;

use mirai_contracts::events::tenant::OrgUnitCreated;
use mirai_events::{ConsumerSpec, Cx, EventMeta, HandleError, NewEvent, consumer, outbox, relay::Relay};
use mirai_kit::{Migration, db};
use mirai_testkit::{config, drop_database, nats_prefix, scratch_database, wait_until};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const PROBE: &[Migration] = &[Migration {
    version: 1,
    name: "effects",
    sql: "CREATE TABLE effects (event_id uuid PRIMARY KEY, applied int NOT NULL, tenant_id uuid);
          CREATE TABLE job_effects (job_id uuid PRIMARY KEY, runs int NOT NULL, tenant text);",
}];

/// Records each event's effect; a second application would show as applied = 2.
pub async fn record_effect(cx: Cx<'_>, _: OrgUnitCreated) -> Result<(), HandleError> {
    let tenant: Option<String> =
        sqlx::query_scalar("SELECT current_setting('app.tenant_id', true)").fetch_one(&mut *cx.tx).await?;
    sqlx::query(
        "INSERT INTO effects (event_id, applied, tenant_id) VALUES ($1, 1, $2::uuid) \
         ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1",
    )
    .bind(cx.envelope.id)
    .bind(tenant)
    .execute(&mut *cx.tx)
    .await?;
    Ok(())
}

pub fn org_unit_created(tenant: Uuid, n: usize) -> NewEvent {
    OrgUnitCreated {
        org_unit_id: Uuid::now_v7().into(),
        tenant_id: tenant.into(),
        parent_id: None,
        name: format!("unit {n}"),
    }
    .into()
}

pub struct Probe {
    pub database: String,
    pub pool: PgPool,
    pub bus: mirai_events::Bus,
}

pub async fn probe() -> Probe {
    let database = scratch_database(&[("probe", PROBE)]).await.unwrap();
    let cfg = config(&database, &nats_prefix());
    let pool = db::connect(&cfg, "probe").await.unwrap();
    let bus = mirai_events::Bus::connect_with(&cfg.admin_bus_options()).await.unwrap();
    bus.ensure_stream("tenant").await.unwrap();
    bus.ensure_stream(mirai_events::bus::DLQ_CONTEXT).await.unwrap();
    Probe { database, pool, bus }
}

impl Probe {
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    pub async fn cleanup(self) {
        let _ = self.bus.delete_prefixed_streams().await;
        self.pool.close().await;
        drop_database(&self.database).await;
    }
}

#[tokio::test]
async fn thousand_events_across_relay_crashes_take_effect_exactly_once() {
    let p = probe().await;
    let tenant = Uuid::now_v7();
    let meta = EventMeta { actor: Some("system:test".into()), ..Default::default() };
    for batch in 0..10 {
        let mut tx = p.pool.begin().await.unwrap();
        for i in 0..100 {
            outbox::enqueue(&mut tx, "tenant", &meta, org_unit_created(tenant, batch * 100 + i)).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let cancel = CancellationToken::new();
    let spec = ConsumerSpec::new("probe-effects").on(record_effect);
    consumer::provision(&p.bus, &spec).await.unwrap();
    let consumer_task = tokio::spawn(consumer::run(p.pool.clone(), p.bus.clone(), spec, cancel.clone()));

    let mut relay = Relay::new(p.pool.clone(), p.bus.clone(), "probe");
    relay.batch = 50;
    // Crash the relay mid-flight, again and again, until it has published everything.
    for round in 0.. {
        let task = tokio::spawn(relay.clone().run(CancellationToken::new()));
        tokio::time::sleep(Duration::from_millis(15 + (round % 4) * 10)).await;
        task.abort();
        let _ = task.await;
        let published = p.count("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL").await;
        if round == 2 {
            // The relay died after the broker acked a batch but before its commit.
            sqlx::query("UPDATE outbox SET published_at = NULL WHERE seq IN (SELECT seq FROM outbox WHERE published_at IS NOT NULL ORDER BY seq LIMIT 100)")
                .execute(&p.pool)
                .await
                .unwrap();
        }
        if published == 1000 && round > 2 {
            break;
        }
        assert!(round < 500, "relay never finished");
    }
    // A duplicate delivery that slips past the broker's dedupe window: the inbox stops it.
    let any: serde_json::Value =
        sqlx::query_scalar("SELECT payload FROM outbox ORDER BY seq LIMIT 1").fetch_one(&p.pool).await.unwrap();
    p.bus
        .js
        .publish(p.bus.subject("tenant.org_unit.created.v1"), serde_json::to_vec(&any).unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();

    wait_until("all 1,000 effects", Duration::from_secs(30), || async {
        p.count("SELECT count(*) FROM effects").await == 1000
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(p.count("SELECT count(*) FROM effects WHERE applied <> 1").await, 0, "no effect applied twice");
    assert_eq!(
        p.count("SELECT count(*) FROM effects WHERE tenant_id IS DISTINCT FROM (SELECT tenant_id FROM outbox LIMIT 1)")
            .await,
        0,
        "handlers run under the event's tenant"
    );
    assert_eq!(p.count("SELECT count(*) FROM inbox").await, 1000);
    cancel.cancel();
    consumer_task.await.unwrap();
    p.cleanup().await;
}

/// A trace context stored with stray whitespace or garbage never reaches a NATS header
/// verbatim (async-nats refuses CR/LF in header values by panicking): the relay
/// publishes the parsed context, rebuilt, or none.
#[tokio::test]
async fn stored_trace_contexts_reach_nats_only_as_parsed() {
    use async_nats::jetstream::consumer::{DeliverPolicy, pull};
    use futures::StreamExt;

    let p = probe().await;
    let tenant = Uuid::now_v7();
    let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut tx = p.pool.begin().await.unwrap();
    for tp in [format!("{good}\r\n"), "garbage\r\nX-Injected: 1".to_owned()] {
        let meta = EventMeta { traceparent: Some(tp), ..Default::default() };
        outbox::enqueue(&mut tx, "tenant", &meta, org_unit_created(tenant, 0)).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(Relay::new(p.pool.clone(), p.bus.clone(), "probe").publish_batch().await.unwrap(), 2);

    let stream = p.bus.ensure_stream("tenant").await.unwrap();
    let reader = stream
        .create_consumer(pull::OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await
        .unwrap();
    let mut messages = reader.messages().await.unwrap();
    let mut headers = Vec::new();
    for _ in 0..2 {
        let msg =
            tokio::time::timeout(std::time::Duration::from_secs(10), messages.next()).await.unwrap().unwrap().unwrap();
        let h = msg.headers.clone().unwrap();
        assert!(h.get("X-Injected").is_none());
        headers.push(h.get("traceparent").map(|v| v.as_str().to_owned()));
    }
    let first = headers[0].clone().expect("the parsable context travels");
    assert!(first.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && !first.contains(['\r', '\n']), "{first}");
    assert_eq!(headers[1], None, "garbage is dropped, not forwarded");
    p.cleanup().await;
}
