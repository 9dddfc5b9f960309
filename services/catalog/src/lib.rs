//! catalog: what can be taken. A read model of published course versions, projected from
//! authoring's events: the public catalog (courses their provider marked public) and a
//! tenant's own (its courses visible to the tenant). Filters, sort, cursor pages, ETags.

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "catalog";

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
    const CONSUMERS: &'static [(&'static str, &'static str)] = &[("authoring", "catalog-courses")];
    const PROJECTIONS: &'static [&'static str] = &["entries", "courses_seen"];

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        Ok(Started::serve(AppState { ctx }).consume([events::consumer()]))
    }
}
