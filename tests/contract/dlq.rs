//! Poison messages land in the dead-letter stream with their reason; later messages flow.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use mirai_contracts::events::tenant::OrgUnitCreated;
use mirai_events::{Batch, ConsumerSpec, Cx, EventMeta, HandleError, consumer, outbox, relay::Relay};
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

/// A batch handler: refuses a run holding a unit named "poison"; otherwise records each
/// event's effect (with the tenant the runtime set) in one statement, and the run's size.
async fn picky_batch(b: Batch<'_>, units: Vec<OrgUnitCreated>) -> Result<(), HandleError> {
    if units.iter().any(|u| u.name == "poison") {
        return Err(HandleError::Permanent("unit name `poison` is refused".into()));
    }
    assert_eq!(units.len(), b.envelopes.len(), "one envelope per event");
    assert!(units.iter().all(|u| u.tenant_id == units[0].tenant_id), "a run has one tenant");
    let ids: Vec<Uuid> = b.envelopes.iter().map(|e| e.id).collect();
    sqlx::query(
        "INSERT INTO effects (event_id, applied, tenant_id) \
         SELECT id, 1, current_setting('app.tenant_id', true)::uuid FROM unnest($1::uuid[]) AS id \
         ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1",
    )
    .bind(&ids)
    .execute(&mut *b.tx)
    .await?;
    // The run's size, keyed by its first event (the probe's job_effects table, reused).
    sqlx::query("INSERT INTO job_effects (job_id, runs, tenant) VALUES ($1, $2, 'run')")
        .bind(ids[0])
        .bind(ids.len() as i32)
        .execute(&mut *b.tx)
        .await?;
    Ok(())
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

/// The same with a batch handler (`on_batch`), over two tenants. A clean batch of 100
/// (40 of A, 20 of B, 40 of A) reaches the handler as runs of consecutive events of one
/// tenant (set for RLS); then in a batch with a poison message the poison run rolls the
/// batch back, the replay hands runs of one, and again 99 apply exactly once under their
/// own tenant while only the poison message is dead-lettered.
#[tokio::test]
async fn a_batch_handler_gets_runs_per_tenant_and_a_poison_costs_only_itself() {
    let p = probe().await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let meta = EventMeta::default();
    let relay = Relay::new(p.pool.clone(), p.bus.clone(), "probe");
    let enqueue = |poison: Option<usize>| {
        let pool = p.pool.clone();
        let meta = meta.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            let events = (0..100).map(|i| {
                let tenant = if (40..60).contains(&i) { b } else { a };
                let mut e = org_unit_created(tenant, i);
                if Some(i) == poison {
                    e.data["name"] = "poison".into();
                }
                e
            });
            let envelopes = outbox::enqueue_all(&mut tx, "tenant", &meta, events).await.unwrap();
            tx.commit().await.unwrap();
            envelopes
        }
    };
    let clean = enqueue(None).await;
    // Published before the consumer starts, so its first pull holds the whole batch.
    assert_eq!(relay.publish_batch().await.unwrap(), 100);

    let cancel = CancellationToken::new();
    let spec =
        ConsumerSpec::new("probe-runs").on_batch(picky_batch).batch(100).backoff(vec![Duration::from_millis(50)]);
    consumer::provision(&p.bus, &spec).await.unwrap();
    let task = tokio::spawn(consumer::run(p.pool.clone(), p.bus.clone(), spec, cancel.clone()));
    wait_until("100 effects", Duration::from_secs(20), || async {
        p.count("SELECT count(*) FROM effects").await == 100
    })
    .await;
    assert_eq!(p.count("SELECT sum(runs) FROM job_effects").await, 100, "every event in exactly one run");
    assert!(p.count("SELECT count(*) FROM job_effects").await >= 3, "tenants A, B, A make at least three runs");
    assert!(
        p.count("SELECT max(runs)::bigint FROM job_effects").await > 1,
        "consecutive events of a tenant run together"
    );

    let poisoned = enqueue(Some(80)).await;
    assert_eq!(relay.publish_batch().await.unwrap(), 100);
    wait_until("199 effects", Duration::from_secs(20), || async {
        p.count("SELECT count(*) FROM effects").await == 199
    })
    .await;
    let mut dlq = p.bus.ensure_stream("dlq").await.unwrap();
    let reasons = dead_letter_reasons(&dlq, "probe-runs", 1).await;
    assert!(reasons[0].contains("`poison` is refused"), "{reasons:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(p.count("SELECT count(*) FROM effects").await, 199);
    assert_eq!(p.count("SELECT count(*) FROM effects WHERE applied <> 1").await, 0, "each applied exactly once");
    for e in clean.iter().chain(poisoned.iter().enumerate().filter(|(i, _)| *i != 80).map(|(_, e)| e)) {
        let tenant: Option<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM effects WHERE event_id = $1")
            .bind(e.id)
            .fetch_one(&p.pool)
            .await
            .unwrap();
        assert_eq!(tenant, e.tenantid, "applied under its own tenant");
    }
    assert_eq!(p.count("SELECT count(*) FROM inbox WHERE consumer = 'probe-runs'").await, 199);
    assert_eq!(dlq.info().await.unwrap().state.messages, 1, "only the poison message is dead-lettered");
    cancel.cancel();
    task.await.unwrap();
    p.cleanup().await;
}
