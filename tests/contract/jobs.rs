//! The Postgres job runner: once across replicas, retries with backoff, dead letters,
//! schedules that fire once per period however many replicas run them.

use std::time::Duration;

use futures::{FutureExt, future::BoxFuture};
use mirai_events::{
    HandleError,
    jobs::{Job, JobHandler, NewJob, Runner, Schedule, enqueue},
};
use mirai_testkit::wait_until;
use serde_json::json;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::outbox::probe;

/// Records each run; fails while `payload.fail_until` > attempts, or always if `poison`.
struct Recorder;

impl JobHandler for Recorder {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        async move {
            if job.payload["poison"] == true {
                return Err(HandleError::Permanent("poisoned payload".into()));
            }
            if job.payload["fail_until"].as_i64().is_some_and(|n| i64::from(job.attempts) < n) {
                return Err(HandleError::Transient(anyhow::anyhow!("attempt {} failed", job.attempts)));
            }
            sqlx::query(
                "INSERT INTO job_effects (job_id, runs, tenant) VALUES ($1, 1, current_setting('app.tenant_id', true)) \
                 ON CONFLICT (job_id) DO UPDATE SET runs = job_effects.runs + 1",
            )
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
            Ok(())
        }
        .boxed()
    }
}

fn runner(pool: sqlx::PgPool) -> Runner {
    let mut r = Runner::new(pool, "probe").handler("test.record", Recorder);
    r.backoff_base = Duration::from_millis(20);
    r.idle_poll = Duration::from_millis(20);
    r
}

#[tokio::test]
async fn jobs_run_once_across_replicas_retry_and_die() {
    let p = probe().await;
    let tenant = Uuid::now_v7();
    let mut tx = p.pool.begin().await.unwrap();
    for i in 0..200 {
        let mut job = NewJob::new("test.record", json!({ "i": i }));
        if i == 0 {
            job.tenant_id = Some(tenant);
        }
        assert!(enqueue(&mut tx, job).await.unwrap());
    }
    let mut flaky = NewJob::new("test.record", json!({ "fail_until": 3 }));
    flaky.dedupe_key = Some("flaky".into());
    assert!(enqueue(&mut tx, flaky.clone()).await.unwrap());
    assert!(!enqueue(&mut tx, flaky).await.unwrap(), "a dedupe key enqueues once");
    let mut hopeless = NewJob::new("test.record", json!({ "fail_until": 99 }));
    hopeless.max_attempts = 3;
    enqueue(&mut tx, hopeless).await.unwrap();
    enqueue(&mut tx, NewJob::new("test.record", json!({ "poison": true }))).await.unwrap();
    tx.commit().await.unwrap();

    let cancel = CancellationToken::new();
    let replicas: Vec<_> = (0..2).map(|_| tokio::spawn(runner(p.pool.clone()).run(cancel.clone()))).collect();
    wait_until("every job settles", Duration::from_secs(30), || async {
        p.count("SELECT count(*) FROM jobs WHERE state IN ('pending', 'running')").await == 0
    })
    .await;
    cancel.cancel();
    for r in replicas {
        r.await.unwrap();
    }
    assert_eq!(p.count("SELECT count(*) FROM job_effects").await, 201, "200 plain jobs + the flaky one");
    assert_eq!(p.count("SELECT count(*) FROM job_effects WHERE runs <> 1").await, 0, "each ran exactly once");
    assert_eq!(
        p.count("SELECT attempts::bigint FROM jobs WHERE dedupe_key = 'flaky'").await,
        3,
        "succeeded on the third attempt"
    );
    assert_eq!(p.count("SELECT count(*) FROM jobs WHERE state = 'dead'").await, 2);
    let (err,): (String,) = sqlx::query_as("SELECT last_error FROM jobs WHERE state = 'dead' AND attempts = 3")
        .fetch_one(&p.pool)
        .await
        .unwrap();
    assert!(err.contains("attempt 3 failed"), "{err}");
    let (err,): (String,) = sqlx::query_as("SELECT last_error FROM jobs WHERE state = 'dead' AND attempts = 1")
        .fetch_one(&p.pool)
        .await
        .unwrap();
    assert!(err.contains("poisoned payload"), "permanent failures die at once: {err}");
    let (t,): (String,) = sqlx::query_as(
        "SELECT e.tenant FROM job_effects e JOIN jobs j ON j.id = e.job_id WHERE j.tenant_id IS NOT NULL",
    )
    .fetch_one(&p.pool)
    .await
    .unwrap();
    assert_eq!(t, tenant.to_string(), "a tenant job runs under its tenant");
    p.cleanup().await;
}

#[tokio::test]
async fn a_schedule_fires_once_per_period_across_replicas() {
    let p = probe().await;
    let cancel = CancellationToken::new();
    let every = Schedule { name: "tick".into(), kind: "test.record".into(), every: Duration::from_secs(1) };
    let replicas: Vec<_> =
        (0..3).map(|_| tokio::spawn(runner(p.pool.clone()).schedule(every.clone()).run(cancel.clone()))).collect();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    cancel.cancel();
    for r in replicas {
        r.await.unwrap();
    }
    let jobs = p.count("SELECT count(*) FROM jobs WHERE payload->>'schedule' = 'tick'").await;
    assert!((2..=4).contains(&jobs), "one job per one-second period over 2.5 s across 3 replicas, got {jobs}");
    assert_eq!(p.count("SELECT count(DISTINCT dedupe_key) FROM jobs").await, jobs);
    p.cleanup().await;
}

#[tokio::test]
async fn housekeeping_expires_idempotency_keys_of_every_tenant() {
    let app = crate::spawn_fleet().await;
    let pool = app.fleet().service("identity").unwrap().db.pool().clone();
    let mut admin =
        <PgConnection as sqlx::Connection>::connect(&mirai_testkit::url_for_db(&app.database)).await.unwrap();
    for (tenant, age) in [
        (Some(Uuid::now_v7()), "3 days"),
        (Some(Uuid::now_v7()), "3 days"),
        (None, "3 days"),
        (Some(Uuid::now_v7()), "1 hour"),
    ] {
        sqlx::query(&format!(
            "INSERT INTO identity.idempotency_keys (tenant_id, principal, key, fingerprint, state, created_at) \
             VALUES ($1, $2, 'k', 'f', 'done', now() - interval '{age}')"
        ))
        .bind(tenant)
        .bind(Uuid::now_v7().to_string())
        .execute(&mut admin)
        .await
        .unwrap();
    }
    let mut job = NewJob::new(mirai_kit::maintenance::KIND, json!({}));
    job.dedupe_key = Some("test-cleanup".into());
    let mut tx = pool.begin().await.unwrap();
    enqueue(&mut tx, job).await.unwrap();
    tx.commit().await.unwrap();
    // The fleet's own runner may claim the job first: wait until one of them finished it.
    let runner = mirai_kit::maintenance::install(Runner::new(pool.clone(), "identity"));
    wait_until("the cleanup job is done", Duration::from_secs(10), || async {
        runner.tick().await.unwrap();
        sqlx::query_scalar::<_, bool>("SELECT state = 'done' FROM jobs WHERE dedupe_key = 'test-cleanup'")
            .fetch_one(&pool)
            .await
            .unwrap()
    })
    .await;
    let left: Vec<(String,)> =
        sqlx::query_as("SELECT created_at::text FROM identity.idempotency_keys").fetch_all(&mut admin).await.unwrap();
    assert_eq!(left.len(), 1, "only the fresh key survives, whatever its tenant: {left:?}");
    app.stop().await;
}
