//! The Postgres job runner: background work that must happen once across replicas
//! (reconciliation, reminders, expiries, clean-ups). Jobs are claimed with
//! `FOR UPDATE SKIP LOCKED` under a lease, run in a transaction that also marks them
//! done (with the tenant set when the job has one), retried with exponential backoff,
//! and marked dead with their last error after `max_attempts`. Schedules enqueue one
//! job per period, deduplicated by `(schedule, period)`, however many replicas run.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::HandleError;

#[derive(Debug, Clone, FromRow)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    pub tenant_id: Option<Uuid>,
    pub payload: Value,
    pub attempts: i32,
    pub max_attempts: i32,
}

/// Runs one kind of job inside the runner's transaction.
pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>>;
}

/// A recurring job: `kind` is enqueued every `every`.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub kind: String,
    pub every: Duration,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub tenant_id: Option<Uuid>,
    pub payload: Value,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i32,
    /// Enqueuing the same key twice creates one job.
    pub dedupe_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: &str, payload: Value) -> Self {
        Self { kind: kind.into(), tenant_id: None, payload, run_at: Utc::now(), max_attempts: 10, dedupe_key: None }
    }
}

/// Enqueues a job in the caller's transaction (so it exists iff the caller commits).
/// Returns false when the dedupe key already exists.
pub async fn enqueue(tx: &mut PgConnection, job: NewJob) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO jobs (id, kind, tenant_id, payload, run_at, max_attempts, dedupe_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(&job.kind)
    .bind(job.tenant_id)
    .bind(&job.payload)
    .bind(job.run_at)
    .bind(job.max_attempts)
    .bind(&job.dedupe_key)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 1 && job.run_at <= Utc::now() {
        // Wakes the runners (at commit) rather than waiting for their next poll.
        sqlx::query("SELECT pg_notify('mirai_jobs_' || current_schema(), '')").execute(tx).await?;
    }
    Ok(n == 1)
}

/// The runner for one service schema.
#[derive(Clone)]
pub struct Runner {
    pub pool: PgPool,
    pub schema: String,
    pub handlers: Arc<HashMap<String, Arc<dyn JobHandler>>>,
    pub schedules: Vec<Schedule>,
    /// How long a claimed job is leased before another replica may retry it.
    pub lease: Duration,
    /// Retry delay after the first failure; doubles per attempt (capped at 1 hour).
    pub backoff_base: Duration,
    pub idle_poll: Duration,
    /// Jobs run at once (each in its own transaction, so each holds a pooled connection
    /// while it runs); default 1.
    pub workers: usize,
    /// Wakes idle workers: a job enqueued for now NOTIFYs `mirai_jobs_<schema>` at its
    /// commit, and the service's outbox relay, which already LISTENs on its own
    /// connection, passes it on ([`channel`]); without it the workers poll.
    pub wake: Arc<tokio::sync::Notify>,
}

/// The channel a job enqueued for now is announced on.
pub fn channel(schema: &str) -> String {
    format!("mirai_jobs_{schema}")
}

impl Runner {
    pub fn new(pool: PgPool, schema: &str) -> Self {
        Self {
            pool,
            schema: schema.into(),
            handlers: Arc::default(),
            schedules: vec![],
            lease: Duration::from_secs(300),
            backoff_base: Duration::from_secs(1),
            idle_poll: Duration::from_millis(500),
            workers: 1,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub fn handler(mut self, kind: &str, h: impl JobHandler) -> Self {
        Arc::make_mut(&mut self.handlers).insert(kind.into(), Arc::new(h));
        self
    }

    /// The handler table, to add handlers built elsewhere.
    pub fn handlers_mut(&mut self) -> &mut HashMap<String, Arc<dyn JobHandler>> {
        Arc::make_mut(&mut self.handlers)
    }

    pub fn schedule(mut self, s: Schedule) -> Self {
        self.schedules.push(s);
        self
    }

    /// Registers the schedules, then runs due jobs until `cancel`, `workers` at a time
    /// (each claims its own with `SKIP LOCKED`).
    pub async fn run(self, cancel: CancellationToken) {
        if let Err(e) = self.register_schedules().await {
            tracing::error!(schema = %self.schema, error = %e, "job runner: cannot register schedules");
        }
        let workers = self.workers.max(1);
        futures::future::join_all((0..workers).map(|_| self.clone().work(cancel.clone()))).await;
    }

    async fn work(self, cancel: CancellationToken) {
        loop {
            if cancel.is_cancelled() {
                return;
            }
            let worked = match self.tick().await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(schema = %self.schema, error = %format!("{e:#}"), "job runner: tick failed");
                    false
                }
            };
            if worked {
                // There may be more: pass the wake-up on to another idle worker.
                self.wake.notify_one();
            } else {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.idle_poll) => {}
                }
            }
        }
    }

    async fn register_schedules(&self) -> Result<(), sqlx::Error> {
        for s in &self.schedules {
            sqlx::query(
                "INSERT INTO job_schedules (name, kind, every_secs, next_run_at) VALUES ($1, $2, $3, now()) \
                 ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, every_secs = EXCLUDED.every_secs",
            )
            .bind(&s.name)
            .bind(&s.kind)
            .bind(s.every.as_secs().max(1) as i32)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Enqueues due scheduled jobs and runs at most one job; true if it did anything.
    pub async fn tick(&self) -> anyhow::Result<bool> {
        let scheduled = self.enqueue_due_schedules().await?;
        let ran = self.run_one().await?;
        Ok(scheduled || ran)
    }

    async fn enqueue_due_schedules(&self) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let due: Vec<(String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT name, kind, next_run_at FROM job_schedules WHERE next_run_at <= now() \
             FOR UPDATE SKIP LOCKED",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (name, kind, at) in &due {
            let mut job = NewJob::new(kind, serde_json::json!({ "schedule": name }));
            job.dedupe_key = Some(format!("schedule:{name}:{}", at.timestamp()));
            enqueue(&mut tx, job).await?;
            // The next period after now (periods missed while everything was down collapse into one run).
            sqlx::query(
                "UPDATE job_schedules SET next_run_at = next_run_at + make_interval(secs => every_secs * \
                 (floor(extract(epoch FROM now() - next_run_at) / every_secs) + 1)) WHERE name = $1",
            )
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(!due.is_empty())
    }

    async fn run_one(&self) -> anyhow::Result<bool> {
        let kinds: Vec<String> = self.handlers.keys().cloned().collect();
        if kinds.is_empty() {
            return Ok(false);
        }
        let job: Option<Job> = sqlx::query_as(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = now() + make_interval(secs => $1), \
                 updated_at = now() \
             WHERE id = (SELECT id FROM jobs WHERE kind = ANY($2) AND run_at <= now() \
                           AND (state = 'pending' OR (state = 'running' AND locked_until < now())) \
                         ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, tenant_id, payload, attempts, max_attempts",
        )
        .bind(self.lease.as_secs_f64())
        .bind(&kinds)
        .fetch_optional(&self.pool)
        .await?;
        let Some(job) = job else { return Ok(false) };
        let handler = self.handlers.get(&job.kind).cloned().expect("claimed only known kinds");
        let started = std::time::Instant::now();
        let mut tx = self.pool.begin().await?;
        if job.tenant_id.is_some() {
            crate::tenancy::set_tenant(&mut tx, job.tenant_id).await?;
        }
        let outcome = handler.run(&mut tx, &job).await;
        let label = match outcome {
            Ok(()) => {
                sqlx::query("UPDATE jobs SET state = 'done', locked_until = NULL, last_error = NULL, updated_at = now() WHERE id = $1")
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                "done"
            }
            Err(e) => {
                tx.rollback().await?;
                let dead = matches!(e, HandleError::Permanent(_)) || job.attempts >= job.max_attempts;
                let delay = self.backoff_base.as_secs_f64() * 2f64.powi(job.attempts.saturating_sub(1).min(20));
                sqlx::query(
                    "UPDATE jobs SET state = $2, last_error = $3, locked_until = NULL, \
                         run_at = now() + make_interval(secs => $4), updated_at = now() WHERE id = $1",
                )
                .bind(job.id)
                .bind(if dead { "dead" } else { "pending" })
                .bind(e.to_string())
                .bind(delay.min(3600.0))
                .execute(&self.pool)
                .await?;
                if dead {
                    tracing::error!(schema = %self.schema, job = %job.id, kind = %job.kind, attempts = job.attempts, error = %e, "job is dead");
                    metrics::counter!("mirai_jobs_dead_total", "schema" => self.schema.clone(), "kind" => job.kind.clone()).increment(1);
                    "dead"
                } else {
                    tracing::warn!(schema = %self.schema, job = %job.id, kind = %job.kind, attempts = job.attempts,
                        retry_in_secs = delay.min(3600.0), error = %e, "job failed; retried");
                    "retried"
                }
            }
        };
        metrics::counter!("mirai_jobs_total", "schema" => self.schema.clone(), "kind" => job.kind.clone(), "outcome" => label).increment(1);
        metrics::histogram!("mirai_job_seconds", "schema" => self.schema.clone(), "kind" => job.kind.clone())
            .record(started.elapsed().as_secs_f64());
        Ok(true)
    }
}
