//! search: find published courses and lessons. Documents are projected from authoring's
//! events (a course and each of its lessons, with their text); queries run full text in
//! the document's language (stemming per locale), tolerate typos (trigrams), highlight
//! what matched, and complete prefixes. Every query sees the caller's tenant and what is
//! public, nothing else. Postgres is the engine (`store.rs` is the port a semantic or
//! OpenSearch engine plugs in behind).

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "search";

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
    const CONSUMERS: &'static [(&'static str, &'static str)] = &[("authoring", "search-courses")];
    const PROJECTIONS: &'static [&'static str] = &["documents", "courses_seen"];

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        Ok(Started::serve(AppState { ctx }).consume([events::consumer()]))
    }
}
