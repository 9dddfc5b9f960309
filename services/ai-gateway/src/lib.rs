//! ai-gateway: every model call in the fleet goes through here, so safety, cost,
//! provenance and audit are enforced once. A tenant configures providers (OpenAI-compatible
//! endpoints, Anthropic, Gemini; the API key sealed under the tenant's data key), routes a
//! feature (`authoring.outline`) to ordered targets with a cheaper degrade target, sets
//! budgets and a safety policy; callers ask for chat (JSON or SSE), structured generation
//! from a registered prompt, or embeddings. Each call is checked (feature flag, input
//! policy, budget reservation), redacted, sent with timeouts, retries, circuit breakers
//! and fallback, checked again (output policy), settled against the budget and audited as
//! `ai-gateway.call.completed.v1` in the same transaction. The vector store keeps the
//! lessons of published courses embedded by the local model (`mirai_embed`) for
//! similarity queries, and the text of the documents (media's PDFs, text and Markdown)
//! generations are grounded in.

use std::sync::Arc;

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
pub mod breaker;
mod events;
mod http;
pub mod prompts;
pub mod provider;
pub mod safety;
pub mod settings;
mod store;

pub const NAME: &str = "ai-gateway";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub kms: Arc<dyn mirai_kit::kms::Kms>,
    pub settings: settings::Settings,
    pub http: reqwest::Client,
    pub breakers: breaker::Breakers,
    /// Media's object store, read for the documents generations are grounded in.
    pub blobs: mirai_blobs::Blobs,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = &[
        ("tenant", "ai-gateway-flags"),
        ("authoring", "ai-gateway-courses"),
        ("media", "ai-gateway-media"),
        ("cmd", "ai-gateway-commands"),
    ];
    const PROJECTIONS: &'static [&'static str] = &["features", "chunks", "courses_seen", "documents"];

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let settings = settings::Settings::from_env()?;
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let breakers = breaker::Breakers::new(settings.breaker_failures, settings.breaker_cooldown);
        let blobs = mirai_blobs::Blobs::open(&ctx.config.blobs, &format!("{}/api/v1/media/blobs", ctx.public_url))?;
        let state = AppState { kms: mirai_kit::kms::for_service(NAME)?, ctx, settings, http, breakers, blobs };
        let commands = events::commands_consumer(&state);
        let generate = std::sync::Arc::new(app::generations::Run { state: state.clone() });
        Ok(Started::serve(state)
            .consume([events::flags_consumer(), events::courses_consumer(), events::media_consumer(), commands])
            .job(app::vectors::REEMBED_JOB, std::sync::Arc::new(app::vectors::Reembed))
            .job(app::generations::JOB, generate))
    }
}
