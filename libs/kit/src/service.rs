//! What a service is to the fleet: its name, migrations, OpenAPI, and a start function
//! that returns its routes, consumers and background tasks.

use std::sync::Arc;

use axum::Router;
use futures::future::BoxFuture;
use mirai_events::{
    Bus, ConsumerSpec, EventMeta, NewEvent,
    jobs::{JobHandler, Schedule},
    outbox,
};
use tokio_util::sync::CancellationToken;

use crate::{auth::KeyStore, config::Config, db::Db, db::Migration};

/// A bounded context, as the binary knows it.
#[derive(Clone, Copy)]
pub struct ServiceDef {
    pub name: &'static str,
    pub migrations: &'static [Migration],
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    pub start: fn(ServiceCtx) -> BoxFuture<'static, anyhow::Result<Started>>,
}

impl ServiceDef {
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
        outbox::enqueue_all(tx, self.name, meta, events).await?;
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
}

impl Started {
    pub fn new(router: Router) -> Self {
        Self { router, consumers: vec![], tasks: vec![], jobs: vec![], schedules: vec![], cors_anywhere: vec![] }
    }
}
