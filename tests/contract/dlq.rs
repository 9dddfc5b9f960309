//! Poison messages land in the dead-letter stream with their reason; later messages flow.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::{FutureExt, StreamExt, future::BoxFuture};
use mirai_events::{ConsumerSpec, Envelope, EventMeta, HandleError, Handler, consumer, outbox, relay::Relay};
use mirai_testkit::wait_until;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::outbox::{Effects, org_unit_created, probe};

/// Refuses events for units named "poison"; applies the rest.
struct Picky;

impl Handler for Picky {
    fn handle<'a>(&'a self, tx: &'a mut PgConnection, event: &'a Envelope) -> BoxFuture<'a, Result<(), HandleError>> {
        async move {
            if event.data["name"] == "poison" {
                return Err(HandleError::Permanent("unit name `poison` is refused".into()));
            }
            if event.data["name"] == "flaky" {
                return Err(HandleError::Transient(anyhow::anyhow!("dependency down")));
            }
            Effects.handle(tx, event).await
        }
        .boxed()
    }
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_with_reasons_and_later_ones_flow() {
    let p = probe().await;
    let subject = p.bus.subject("tenant.org_unit.created.v1");
    let cancel = CancellationToken::new();
    let spec = ConsumerSpec::new("probe-picky", "tenant", &["tenant.org_unit.>"], Picky)
        .max_deliver(3)
        .backoff(vec![Duration::from_millis(50)]);
    consumer::provision(&p.bus, &spec).await.unwrap();
    let task = tokio::spawn(consumer::run(p.pool.clone(), p.bus.clone(), spec, cancel.clone()));

    // Not JSON; JSON but not an envelope; an envelope whose data breaks its schema.
    for payload in [&b"\xff not json"[..], br#"{"hello":"world"}"#] {
        p.bus.js.publish(subject.clone(), payload.to_vec().into()).await.unwrap().await.unwrap();
    }
    let mut bad = org_unit_created(Uuid::now_v7(), 0).into_envelope("tenant", &EventMeta::default());
    bad.data["name"] = serde_json::json!(42);
    p.bus.js.publish(subject.clone(), serde_json::to_vec(&bad).unwrap().into()).await.unwrap().await.unwrap();

    // Through the outbox: one the handler refuses, one that always fails, then good ones.
    let tenant = Uuid::now_v7();
    let meta = EventMeta::default();
    let mut tx = p.pool.begin().await.unwrap();
    let mut poison = org_unit_created(tenant, 0);
    poison.data["name"] = "poison".into();
    outbox::enqueue(&mut tx, "tenant", &meta, poison).await.unwrap();
    let mut flaky = org_unit_created(tenant, 0);
    flaky.data["name"] = "flaky".into();
    outbox::enqueue(&mut tx, "tenant", &meta, flaky).await.unwrap();
    for i in 1..=5 {
        outbox::enqueue(&mut tx, "tenant", &meta, org_unit_created(tenant, i)).await.unwrap();
    }
    tx.commit().await.unwrap();
    Relay::new(p.pool.clone(), p.bus.clone(), "probe").publish_batch().await.unwrap();

    wait_until("good events flow past the poison", Duration::from_secs(10), || async {
        p.count("SELECT count(*) FROM effects").await == 5
    })
    .await;

    // The dead-letter stream holds all five bad ones, each with its reason.
    let dlq = p.bus.ensure_stream("dlq").await.unwrap();
    let reader = dlq
        .create_consumer(pull::OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await
        .unwrap();
    let mut messages = reader.messages().await.unwrap();
    let mut reasons = Vec::new();
    while reasons.len() < 5 {
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("5 dead letters")
            .unwrap()
            .unwrap();
        let h = msg.headers.clone().unwrap();
        assert_eq!(h.get("Mirai-Dlq-Consumer").unwrap().as_str(), "probe-picky");
        assert_eq!(h.get("Mirai-Dlq-Subject").unwrap().as_str(), "tenant.org_unit.created.v1");
        reasons.push(h.get("Mirai-Dlq-Reason").unwrap().as_str().to_owned());
    }
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    assert!(has("not JSON"), "{reasons:?}");
    assert!(has("invalid envelope"), "{reasons:?}");
    assert!(has("violates its schema"), "{reasons:?}");
    assert!(has("`poison` is refused"), "{reasons:?}");
    assert!(has("gave up after 3 deliveries: dependency down"), "{reasons:?}");
    cancel.cancel();
    task.await.unwrap();
    p.cleanup().await;
}
