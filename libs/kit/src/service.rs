//! What a service is to the fleet. A service declares three things by implementing
//! [`Service`] on its state: its name, its routes (relative to `/api/v1/<name>`) and how
//! it starts. The kit derives the rest from the name: the URL prefix, the migrations
//! (`migrations/<name>/`), the OpenAPI document with full paths, the database role and
//! schema, and the outbox relay and job runner. `Started` collects what runs.

use std::{future::Future, sync::Arc};

use axum::Router;
use futures::future::BoxFuture;
use mirai_events::{
    Bus, ConsumerSpec, EventMeta, NewEvent,
    jobs::{JobHandler, Schedule},
    outbox,
};
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use crate::{auth::KeyStore, config::Config, db::Db, db::Migration};

/// A bounded context, as the binary knows it.
#[derive(Clone, Copy)]
pub struct ServiceDef {
    pub name: &'static str,
    /// Its durable consumers as (context read, consumer name): its NATS permissions.
    pub consumers: &'static [(&'static str, &'static str)],
    /// Core-NATS subjects the service subscribes to outside any stream.
    pub subscribes: &'static [&'static str],
    /// The commands it sends (`cmd.<context>.<command>.vN`, through its outbox).
    pub sends: &'static [&'static str],
    /// Whether the service signs its events with a bus-signing key (identity).
    pub signs_events: bool,
    /// The tables its consumers project into: `mirai rebuild <service>` empties them and
    /// replays the consumers from the start of their streams.
    pub projections: &'static [&'static str],
    pub migrations: &'static [Migration],
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    pub start: fn(ServiceCtx) -> BoxFuture<'static, anyhow::Result<Started>>,
}

/// A service, implemented by its handlers' shared state.
///
/// ```ignore
/// impl Service for AppState {
///     const NAME: &'static str = "tenant";
///     fn routes() -> OpenApiRouter<Self> { http::routes() }
///     async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
///         let state = AppState { kms: kms::for_service(Self::NAME)?, ctx };
///         Ok(Started::serve(state).consume(events::erasure_consumers()))
///     }
/// }
/// ```
pub trait Service: Clone + Send + Sync + Sized + 'static {
    /// Names the URL prefix `/api/v1/<NAME>`, `migrations/<NAME>/`, the Postgres schema
    /// and role, the stream and the Helm, Kong and dashboard entries.
    const NAME: &'static str;

    /// The service's durable consumers, as (context whose stream it reads, consumer name),
    /// e.g. `&[("tenant", "identity-memberships")]`. Its NATS user may pull from, ack and
    /// dead-letter for exactly these consumers (and read identity's keys), so no service
    /// can drain or retune another's; the fleet refuses to start an undeclared consumer.
    const CONSUMERS: &'static [(&'static str, &'static str)] = &[];

    /// Core-NATS subjects (outside every stream) the service subscribes to.
    const SUBSCRIBES: &'static [&'static str] = &[];

    /// The commands it sends another service (`cmd.<context>.<command>.vN`): written to its
    /// outbox like events, published on the commands' work-queue stream, which only the
    /// receiving service consumes. Its NATS user may publish exactly these subjects.
    const SENDS: &'static [&'static str] = &[];

    /// The tables its consumers project into and nothing else writes (a read model):
    /// `mirai rebuild <service>` empties them and replays every consumer from the start
    /// of its stream (`fleet::rebuild`).
    const PROJECTIONS: &'static [&'static str] = &[];

    /// Whether the service's events carry a signature every key store checks: only the
    /// service whose events mint credentials (identity) sets it (ADR 0006).
    const SIGNS_EVENTS: bool = false;

    /// The routes relative to `/api/v1/<NAME>`, carrying the document's info and tags
    /// (`OpenApiRouter::with_openapi(ApiDoc::openapi())`).
    fn routes() -> OpenApiRouter<Self>;

    /// Builds the state and says what runs: `Started::serve(state).consume(..).task(..)`.
    fn start(ctx: ServiceCtx) -> impl Future<Output = anyhow::Result<Started>> + Send;

    /// The axum router serving `routes()`; override to add service-wide layers.
    fn router(self) -> Router {
        Self::routes().split_for_parts().0.with_state(self)
    }
}

impl ServiceDef {
    /// The definition the fleet runs, derived from the service's name.
    pub fn of<S: Service>() -> Self {
        Self {
            name: S::NAME,
            consumers: S::CONSUMERS,
            subscribes: S::SUBSCRIBES,
            sends: S::SENDS,
            signs_events: S::SIGNS_EVENTS,
            projections: S::PROJECTIONS,
            migrations: crate::db::migrations(S::NAME),
            openapi: || {
                let mut doc = S::routes().into_openapi();
                let prefix = format!("/api/v1/{}", S::NAME);
                doc.paths.paths = std::mem::take(&mut doc.paths.paths)
                    .into_iter()
                    .map(|(path, item)| (format!("{prefix}{path}"), item))
                    .collect();
                doc
            },
            start: |ctx| Box::pin(S::start(ctx)),
        }
    }

    /// The service's OpenAPI document as served at `/api/v1/<name>/openapi.json` and
    /// committed under `schemas/openapi/`.
    pub fn openapi_document(&self) -> serde_json::Value {
        crate::openapi::finish((self.openapi)())
    }
}

impl std::fmt::Debug for ServiceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDef").field("name", &self.name).finish()
    }
}

/// Everything a service gets from the fleet.
#[derive(Clone)]
pub struct ServiceCtx {
    pub name: &'static str,
    pub config: Arc<Config>,
    pub db: Db,
    pub bus: Bus,
    pub keys: KeyStore,
    /// The base URL clients reach the fleet at (issuer, links).
    pub public_url: String,
    /// Fires when background work must stop.
    pub cancel: CancellationToken,
    /// Signs the service's events (`Service::SIGNS_EVENTS`).
    pub signer: Option<Arc<crate::auth::bus_signing::BusSigner>>,
}

impl ServiceCtx {
    /// The identity issuer, `<public url>/api/v1/identity`.
    pub fn issuer(&self) -> String {
        issuer(&self.public_url)
    }

    /// Writes `events` to this service's outbox inside `tx`.
    pub async fn emit(
        &self,
        tx: &mut sqlx::PgConnection,
        meta: &EventMeta,
        events: impl IntoIterator<Item = NewEvent>,
    ) -> Result<(), crate::AppError> {
        let signer = self.signer.as_deref().map(|s| s as &dyn outbox::EnvelopeSigner);
        outbox::enqueue_all_signed(tx, self.name, meta, events, signer).await?;
        Ok(())
    }

    /// Writes one event that `principal` caused to this service's outbox inside `tx`.
    pub async fn publish(
        &self,
        tx: &mut sqlx::PgConnection,
        principal: &crate::Principal,
        event: NewEvent,
    ) -> Result<(), crate::AppError> {
        self.emit(tx, &principal.event_meta(), [event]).await
    }
}

pub fn issuer(public_url: &str) -> String {
    format!("{}/api/v1/identity", public_url.trim_end_matches('/'))
}

/// What a started service hands back to the fleet.
pub struct Started {
    /// Routes relative to `/api/v1/<service>`.
    pub router: Router,
    pub consumers: Vec<ConsumerSpec>,
    /// Long-running tasks; each must return once `ServiceCtx::cancel` fires.
    pub tasks: Vec<BoxFuture<'static, ()>>,
    /// Job handlers by kind, run by the service's job runner.
    pub jobs: Vec<(String, Arc<dyn JobHandler>)>,
    pub schedules: Vec<Schedule>,
    /// Path prefixes (relative to `/api/v1/<service>`) any web origin may call: APIs for
    /// content hosted anywhere that authenticates with an explicit `Authorization`
    /// header, never cookies (the xAPI endpoints). Other paths follow `MIRAI_CORS_ORIGINS`.
    pub cors_anywhere: Vec<&'static str>,
    /// Jobs the service's runner runs at once (default 1): each holds a pooled
    /// connection while it runs, so keep it below the pool size.
    pub job_workers: usize,
}

impl Started {
    pub fn new(router: Router) -> Self {
        Self {
            router,
            consumers: vec![],
            tasks: vec![],
            jobs: vec![],
            schedules: vec![],
            cors_anywhere: vec![],
            job_workers: 1,
        }
    }

    /// Runs up to `n` jobs at once (jobs that wait on the network: webhook deliveries).
    pub fn job_workers(mut self, n: usize) -> Self {
        self.job_workers = n.max(1);
        self
    }

    /// Serves `S::router(state)`.
    pub fn serve<S: Service>(state: S) -> Self {
        Self::new(state.router())
    }

    /// Runs these consumers (durable, batched, exactly-once into the service's schema).
    pub fn consume(mut self, specs: impl IntoIterator<Item = ConsumerSpec>) -> Self {
        self.consumers.extend(specs);
        self
    }

    /// Runs a long-lived task; it must return once `ServiceCtx::cancel` fires.
    pub fn task(mut self, task: impl Future<Output = ()> + Send + 'static) -> Self {
        self.tasks.push(Box::pin(task));
        self
    }

    /// Handles jobs of `kind` in the service's job runner.
    pub fn job(mut self, kind: impl Into<String>, handler: Arc<dyn JobHandler>) -> Self {
        self.jobs.push((kind.into(), handler));
        self
    }

    /// Enqueues a job on a schedule.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedules.push(schedule);
        self
    }

    /// Lets any web origin call paths under this prefix (see `cors_anywhere`).
    pub fn cors_anywhere(mut self, prefix: &'static str) -> Self {
        self.cors_anywhere.push(prefix);
        self
    }
}
