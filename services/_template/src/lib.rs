//! template: the service to copy when adding one (CONTRIBUTING.md, "Add a service"). It
//! holds one tenant-scoped resource (notes), publishes one event through the outbox
//! (`template.note.created.v1`) and consumes one (`tenant.tenant.created.v1`, projected
//! into `known_tenants`). It is not part of the fleet; its tests build and run it.

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "template";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = &[("tenant", "template-tenants")];

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        Ok(Started::serve(AppState { ctx }).consume([events::tenants_consumer()]))
    }
}
