//! search: find published courses and lessons. Documents are projected from authoring's
//! events (a course and each of its lessons, with their text); queries run full text in
//! the document's language (stemming per locale), tolerate typos (trigrams), highlight
//! what matched, and complete prefixes. Every query sees the caller's tenant and what is
//! public, nothing else. Postgres is the default engine; OpenSearch plugs in behind the
//! same port (`engine`). Semantic and hybrid ranking (reciprocal-rank fusion of the
//! lexical hits and the nearest vectors of the local embedding model) are on where the
//! tenant has `ai.semantic_search` on.

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
pub mod engine;
mod events;
mod http;
pub mod store;

pub const NAME: &str = "search";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub engine: engine::Engine,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] =
        &[("authoring", "search-courses"), ("tenant", "search-flags")];
    const PROJECTIONS: &'static [&'static str] =
        &["documents", "courses_seen", "index_epoch", "words", "lexicon", "vectors", "features"];

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let engine = engine::Engine::from_env()?;
        if let engine::Engine::OpenSearch(os) = &engine {
            os.ensure().await?;
        }
        let state = AppState { ctx, engine };
        let consumer = events::consumer(&state);
        Ok(Started::serve(state).consume([consumer, events::flags_consumer()]))
    }
}
