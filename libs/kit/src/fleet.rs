//! Runs a set of services in one process on one port: `mirai dev` runs them all,
//! `mirai serve <name>...` some, and tests any set on port 0. Services still talk only
//! through JetStream. Shutdown is graceful: stop accepting, finish in-flight requests,
//! stop consumers after their current message, flush the outbox relays, then export the
//! spans still buffered (a SIGTERM loses no trace of the work it let finish).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{Router, middleware, routing::get};
use mirai_events::{Bus, consumer, jobs::Runner, relay::Relay};
use secrecy::ExposeSecret;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    auth::KeyStore,
    config::Config,
    db::{self, Db},
    http::{self, ReadyCheck},
    idempotency::{self, IdempotencyState},
    service::{ServiceCtx, ServiceDef, issuer},
};

/// A running fleet.
pub struct Fleet {
    pub addr: SocketAddr,
    pub public_url: String,
    pub bus: Bus,
    pub keys: KeyStore,
    /// Each service's context, for operator tasks (bootstrap, demo seed) and tests.
    pub services: Vec<ServiceCtx>,
    http_cancel: CancellationToken,
    work_cancel: CancellationToken,
    server: JoinHandle<()>,
    tasks: TaskTracker,
    grace: Duration,
    /// Held by the fleet that installed the process's OTLP exporter.
    exporter: Option<mirai_trace::ExporterGuard>,
}

/// How long shutdown waits for the last spans to reach the collector.
const EXPORT_GRACE: Duration = Duration::from_secs(5);

/// Applies every service's migrations (roles, schema, tables) and provisions the streams
/// they write and read, as the operator: the admin database URL and the admin NATS user.
pub async fn migrate(config: &Config, services: &[ServiceDef]) -> anyhow::Result<()> {
    for s in services {
        db::migrate(config.admin_url(), s.name, s.migrations, config.db_password(s.name).expose_secret())
            .await
            .with_context(|| format!("migrating {}", s.name))?;
    }
    provision_streams(config, services).await
}

/// Creates (or updates the limits of) every stream `services` write or read: their own,
/// those they consume, identity's (every key store reads it) and the dead letters.
pub async fn provision_streams(config: &Config, services: &[ServiceDef]) -> anyhow::Result<()> {
    let admin = Bus::connect_with(&config.admin_bus_options())
        .await
        .context("provisioning streams needs the admin NATS user (MIRAI_NATS_ADMIN_PASSWORD)")?;
    let mut contexts: Vec<&str> = vec!["identity", mirai_events::bus::DLQ_CONTEXT];
    for s in services {
        contexts.push(s.name);
        contexts.extend(s.consumers.iter().map(|(context, _)| *context));
        if !s.sends.is_empty() {
            contexts.push(mirai_events::bus::COMMANDS_CONTEXT);
        }
    }
    contexts.sort_unstable();
    contexts.dedup();
    for context in contexts {
        admin.provision_stream(context, &config.stream_limits_for(context)?).await?;
    }
    Ok(())
}

/// Rebuilds a service's read model from the event streams: in one transaction empties its
/// projection tables and its inbox rows for its consumers, then deletes those durable
/// consumers (as the NATS admin). A running instance's consumers fail, re-provision
/// themselves and replay from the start of their streams (a new durable consumer
/// delivers everything); a stopped one does the same when it starts. In this order,
/// whatever a running consumer commits in between keeps its inbox row and its rows, and
/// the replay skips it; nothing is emptied after the replay has passed it. Streams keep their
/// events for `MIRAI_STREAM_MAX_AGE`: a rebuild cannot reach further back.
pub async fn rebuild(config: &Config, def: &ServiceDef) -> anyhow::Result<()> {
    anyhow::ensure!(
        !def.projections.is_empty() && !def.consumers.is_empty(),
        "{} has no read model to rebuild (no PROJECTIONS or no CONSUMERS)",
        def.name
    );
    let schema = db::schema(def.name);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(config.admin_url())
        .await
        .context("DATABASE_URL: cannot connect to Postgres")?;
    let mut tx = sqlx::Connection::begin(&mut conn).await?;
    for table in def.projections {
        sqlx::query(&format!("TRUNCATE {schema}.{table}")).execute(&mut *tx).await?;
    }
    let names: Vec<&str> = def.consumers.iter().map(|(_, c)| *c).collect();
    sqlx::query(&format!("DELETE FROM {schema}.inbox WHERE consumer = ANY($1)")).bind(&names).execute(&mut *tx).await?;
    tx.commit().await?;
    let admin = Bus::connect_with(&config.admin_bus_options())
        .await
        .context("rebuilding needs the admin NATS user (MIRAI_NATS_ADMIN_PASSWORD)")?;
    for (context, consumer) in def.consumers {
        let stream = admin.stream(context).await?;
        if let Err(e) = stream.delete_consumer(consumer).await
            && !e.to_string().to_lowercase().contains("not found")
        {
            return Err(anyhow::anyhow!("deleting consumer {consumer}: {e}"));
        }
        tracing::info!(service = def.name, consumer, "consumer deleted: it replays from the start");
    }
    tracing::info!(service = def.name, tables = ?def.projections, "read model emptied");
    Ok(())
}

pub async fn start(config: Config, services: &[ServiceDef], run_migrations: bool) -> anyhow::Result<Fleet> {
    crate::telemetry::init_logging();
    let _ = crate::telemetry::prometheus();
    let exporter =
        mirai_trace::init_exporter(config.otlp_endpoint.as_deref(), &config.otel_service_name, config.otlp_protocol)
            .context("OTEL_EXPORTER_OTLP_ENDPOINT: cannot build the OTLP exporter")?;
    if exporter.is_some() {
        tracing::info!(endpoint = ?config.otlp_endpoint, protocol = ?config.otlp_protocol, "exporting traces");
    }
    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("MIRAI_HTTP_ADDR: cannot listen on {}", config.http_addr))?;
    let addr = listener.local_addr()?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    if run_migrations {
        migrate(&config, services).await?;
    }
    // Each service is its own NATS user; the key store reads and reports on the first's
    // connection (every service may read identity's keys and report key use).
    let mut buses = Vec::with_capacity(services.len());
    for def in services {
        buses.push(Bus::connect_with(&config.bus_options(def.name)).await?);
    }
    let bus = buses.first().cloned().context("no services to run")?;
    let config = Arc::new(config);
    if config.bus_keys_are_dev {
        tracing::warn!("MIRAI_BUS_VERIFY_KEYS is unset: trusting the dev-only bus key (never in production)");
    }
    let keys = KeyStore::new(&issuer(&public_url), &config.jwt_audience, config.bus_verifier.clone());
    let http_cancel = CancellationToken::new();
    let work_cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    tasks.spawn(keys.clone().follow(bus.clone(), work_cancel.clone()));
    tasks.spawn(keys.clone().report_usage(bus.clone(), config.apikey_usage_flush, work_cancel.clone()));

    let mut routers = Router::new();
    let mut ready: Vec<ReadyCheck> = Vec::new();
    let mut cors_anywhere: Vec<String> = Vec::new();
    let mut contexts = Vec::new();
    for (def, bus) in services.iter().zip(buses) {
        let pool = db::connect(&config, def.name).await?;
        let db = Db::new(pool, def.name, def.migrations);
        // In the chart, the migration Job that provisions the stream runs beside the pods:
        // a pod that starts first waits for it (the relay and consumers retry) instead of
        // crash-looping.
        if let Err(e) = bus.stream(def.name).await {
            tracing::warn!(service = def.name, error = %format!("{e:#}"), "stream not there yet; waiting for `mirai migrate`");
        }
        let jobs_wake = std::sync::Arc::new(tokio::sync::Notify::new());
        let mut relay = Relay::new(db.pool().clone(), bus.clone(), db.schema());
        relay.jobs_wake = Some(jobs_wake.clone());
        tasks.spawn(relay.run(work_cancel.clone()));
        let ctx = ServiceCtx {
            name: def.name,
            config: config.clone(),
            db: db.clone(),
            bus: bus.clone(),
            keys: keys.clone(),
            public_url: public_url.clone(),
            cancel: work_cancel.clone(),
            signer: if def.signs_events { Some(Arc::new(config.bus_signer(def.name)?)) } else { None },
        };
        contexts.push(ctx.clone());
        let started = (def.start)(ctx).await.with_context(|| format!("starting {}", def.name))?;
        for spec in started.consumers {
            anyhow::ensure!(
                def.consumers.contains(&(spec.context.as_str(), spec.name.as_str())),
                "{}: consumer {} of `{}` is not declared in Service::CONSUMERS (the list its NATS \
                 permissions are made from; then run `make nats-auth`)",
                def.name,
                spec.name,
                spec.context
            );
            // `run` provisions the consumer, retrying until the stream exists.
            tasks.spawn(consumer::run(db.pool().clone(), bus.clone(), spec, work_cancel.clone()));
        }
        for task in started.tasks {
            tasks.spawn(task);
        }
        let mut runner = crate::maintenance::install(Runner::new(db.pool().clone(), db.schema()));
        for (kind, handler) in started.jobs {
            runner.handlers_mut().insert(kind, handler);
        }
        runner.schedules.extend(started.schedules);
        runner.workers = started.job_workers;
        runner.wake = jobs_wake;
        tasks.spawn(runner.run(work_cancel.clone()));
        cors_anywhere.extend(started.cors_anywhere.iter().map(|p| format!("/api/v1/{}{p}", def.name)));
        let openapi = def.openapi_document();
        let service_router = started
            .router
            .route("/openapi.json", get(move || async move { axum::Json(openapi.clone()) }))
            .layer(middleware::from_fn_with_state(
                IdempotencyState { db: db.clone(), body_limit: config.body_limit },
                idempotency::layer,
            ))
            .route_layer(middleware::from_fn(http::capture_route));
        routers = routers.nest(&format!("/api/v1/{}", def.name), service_router);
        tasks.spawn(sample_pool(def.name, db.clone(), work_cancel.clone()));
        let check_db = db.clone();
        ready.push((
            format!("database ({})", def.name),
            Arc::new(move || {
                let db = check_db.clone();
                Box::pin(async move { db.ready().await })
            }),
        ));
    }
    // The bus is not part of readiness: while NATS is away writes still commit to the
    // outbox and drain on reconnect, so taking every pod out of its Service would turn a
    // buffered outage into a total one. Its health is a metric (and an alert).
    tasks.spawn(sample_bus(bus.clone(), work_cancel.clone()));
    let check_keys = keys.clone();
    ready.push((
        "key store".to_owned(),
        Arc::new(move || {
            let keys = check_keys.clone();
            Box::pin(async move {
                if !keys.caught_up() {
                    return Err("auth: key store still replaying identity's keys".to_owned());
                }
                Ok(())
            })
        }),
    ));

    let app = http::app(&config, routers, keys.clone(), ready, cors_anywhere);
    let server = tokio::spawn(crate::serve::serve(listener, app, http_cancel.clone(), config.http_read_timeout));
    tracing::info!(%addr, services = ?services.iter().map(|s| s.name).collect::<Vec<_>>(), "fleet listening");
    Ok(Fleet {
        addr,
        public_url,
        bus,
        keys,
        services: contexts,
        http_cancel,
        work_cancel,
        server,
        tasks,
        grace: config.shutdown_grace,
        exporter,
    })
}

impl Fleet {
    /// The running service's context.
    pub fn service(&self, name: &str) -> Option<&ServiceCtx> {
        self.services.iter().find(|c| c.name == name)
    }

    /// Graceful stop: HTTP first (in-flight requests finish), then consumers and relays,
    /// then the spans they ended are exported.
    pub async fn shutdown(self) {
        self.http_cancel.cancel();
        if tokio::time::timeout(self.grace, self.server).await.is_err() {
            tracing::warn!("http: in-flight requests outlived the grace period");
        }
        self.work_cancel.cancel();
        self.tasks.close();
        if tokio::time::timeout(self.grace, self.tasks.wait()).await.is_err() {
            tracing::warn!("background tasks outlived the grace period");
        }
        if let Some(exporter) = self.exporter {
            exporter.shutdown(EXPORT_GRACE).await;
        }
    }
}

/// Publishes the service's connection-pool use and job queue depth as gauges.
async fn sample_pool(service: &'static str, db: Db, cancel: CancellationToken) {
    loop {
        let pool = db.pool();
        let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
        metrics::gauge!("mirai_db_pool_connections", "service" => service, "state" => "idle").set(idle);
        metrics::gauge!("mirai_db_pool_connections", "service" => service, "state" => "used").set(size - idle);
        metrics::gauge!("mirai_db_pool_max", "service" => service).set(pool.options().get_max_connections() as f64);
        if let Ok(n) =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE state = 'pending' AND run_at <= now()")
                .fetch_one(pool)
                .await
        {
            metrics::gauge!("mirai_jobs_due", "service" => service).set(n as f64);
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Publishes whether the bus is connected (`mirai_nats_connected`, alerted on).
async fn sample_bus(bus: Bus, cancel: CancellationToken) {
    loop {
        let up = bus.client.connection_state() == async_nats::connection::State::Connected;
        metrics::gauge!("mirai_nats_connected").set(if up { 1.0 } else { 0.0 });
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
