//! Poison messages land in the dead-letter stream with their reason; later messages flow.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use mirai_contracts::events::tenant::OrgUnitCreated;
use mirai_events::{ConsumerSpec, Cx, EventMeta, HandleError, consumer, outbox, relay::Relay};
use mirai_testkit::wait_until;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::outbox::{org_unit_created, probe, record_effect};

/// Refuses events for units named "poison"; applies the rest.
async fn picky(cx: Cx<'_>, unit: OrgUnitCreated) -> Result<(), HandleError> {
    match unit.name.as_str() {
        "poison" => Err(HandleError::Permanent("unit name `poison` is refused".into())),
        "flaky" => Err(HandleError::Transient(anyhow::anyhow!("dependency down"))),
        _ => record_effect(cx, unit).await,
    }
}

/// The dead letters' reason headers, once `n` of them have arrived.
async fn dead_letter_reasons(dlq: &Stream, consumer: &str, n: usize) -> Vec<String> {
    let reader = dlq
        .create_consumer(pull::OrderedConfig { deliver_policy: DeliverPolicy::All, ..Default::default() })
        .await
        .unwrap();
    let mut messages = reader.messages().await.unwrap();
    let mut reasons = Vec::new();
    while reasons.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap_or_else(|_| panic!("{n} dead letters, got {reasons:?}"))
            .unwrap()
            .unwrap();
        let h = msg.headers.clone().unwrap();
        assert_eq!(h.get("Mirai-Dlq-Consumer").unwrap().as_str(), consumer);
        assert_eq!(h.get("Mirai-Dlq-Subject").unwrap().as_str(), "tenant.org_unit.created.v1");
        reasons.push(h.get("Mirai-Dlq-Reason").unwrap().as_str().to_owned());
    }
    reasons
}

#[tokio::test]
async fn poison_messages_are_dead_lettered_with_reasons_and_later_ones_flow() {
    let p = probe().await;
    let subject = p.bus.subject("tenant.org_unit.created.v1");
    let cancel = CancellationToken::new();
    let spec = ConsumerSpec::new("probe-picky").on(picky).max_deliver(3).backoff(vec![Duration::from_millis(50)]);
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
    let reasons = dead_letter_reasons(&dlq, "probe-picky", 5).await;
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

/// One transaction per batch, and a poison message in the middle of a batch of 100: the
/// batch is rolled back and replayed one message at a time, so 99 apply exactly once and
/// the poison one is dead-lettered with its reason.
#[tokio::test]
async fn a_poison_message_in_a_batch_of_100_costs_only_itself() {
    let p = probe().await;
    let tenant = Uuid::now_v7();
    let meta = EventMeta::default();
    let mut tx = p.pool.begin().await.unwrap();
    let events = (0..100).map(|i| {
        let mut e = org_unit_created(tenant, i);
        if i == 50 {
            e.data["name"] = "poison".into();
        }
        e
    });
    outbox::enqueue_all(&mut tx, "tenant", &meta, events).await.unwrap();
    tx.commit().await.unwrap();
    // Published before the consumer starts, so its first pull holds the whole batch.
    assert_eq!(Relay::new(p.pool.clone(), p.bus.clone(), "probe").publish_batch().await.unwrap(), 100);

    let cancel = CancellationToken::new();
    let spec = ConsumerSpec::new("probe-batch").on(picky).batch(100).backoff(vec![Duration::from_millis(50)]);
    consumer::provision(&p.bus, &spec).await.unwrap();
    let task = tokio::spawn(consumer::run(p.pool.clone(), p.bus.clone(), spec, cancel.clone()));

    wait_until("99 effects", Duration::from_secs(20), || async { p.count("SELECT count(*) FROM effects").await == 99 })
        .await;
    let mut dlq = p.bus.ensure_stream("dlq").await.unwrap();
    let reasons = dead_letter_reasons(&dlq, "probe-batch", 1).await;
    assert!(reasons[0].contains("`poison` is refused"), "{reasons:?}");
    // Let any stray redelivery land before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(p.count("SELECT count(*) FROM effects").await, 99);
    assert_eq!(p.count("SELECT count(*) FROM effects WHERE applied <> 1").await, 0, "each applied exactly once");
    assert_eq!(
        p.count("SELECT count(*) FROM inbox WHERE consumer = 'probe-batch'").await,
        99,
        "the poison has no inbox row"
    );
    assert_eq!(dlq.info().await.unwrap().state.messages, 1, "only the poison message is dead-lettered");
    cancel.cancel();
    task.await.unwrap();
    p.cleanup().await;
}
