//! ai-gateway's HTTP surface under `/api/v1/ai-gateway`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod calls;
mod config;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai ai-gateway", version = "1.0.0", description = "The one door to AI models: chat (JSON or SSE), structured generation from registered prompts, embeddings; per-tenant providers, routes with fallback, budgets, safety policy; every call audited as `ai-gateway.call.completed.v1`."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "calls", description = "Model calls through the gateway."),
         (name = "configuration", description = "A tenant's providers, routes, budgets and safety policy (org and provider admins)."),
         (name = "prompts", description = "The prompt registry.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(calls::router()).merge(config::router())
}
