//! delivery: the player. A learner with an active enrollment launches a course version,
//! reads its outline and lessons, resumes where they left off and completes lessons; each
//! meaningful step becomes xAPI statements published through the outbox
//! (`delivery.statements.recorded.v1`), which the LRS stores with the player as their
//! authority. Course versions come from authoring's events and who may launch what from
//! enrollment's. A learner may also take a course offline: a bundle encrypted to one of
//! their devices and signed by the platform (`app::offline`, ADR 0014). A lesson holding
//! an imported SCORM package plays in the SCORM runtime (`app::runtime`, `scorm`, ADR 0015);
//! one holding a cmi5 AU launches it with an xAPI endpoint of its own (`app::cmi5`, ADR 0016).

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
pub mod scorm;
mod store;

pub const NAME: &str = "delivery";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    /// The platform's bundle signing key and the offline licenses' terms.
    pub bundles: std::sync::Arc<app::offline::BundleKeys>,
    /// The object store content keeps packages in: the runtime serves their files.
    pub blobs: mirai_blobs::Blobs,
    /// Where player pages are served (`MIRAI_DELIVERY__RUNTIME_URL`): in production an
    /// origin of their own, apart from the API's and the web app's, since a package's
    /// pages run scripts there (ADR 0015). Default: the public URL.
    pub runtime_url: String,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = events::CONSUMERS;

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let bundles = std::sync::Arc::new(app::offline::BundleKeys::from_env()?);
        let blobs = mirai_blobs::Blobs::open(&ctx.config.blobs, &format!("{}/api/v1/media/blobs", ctx.public_url))?;
        let runtime_url = mirai_kit::Config::service_var(NAME, "RUNTIME_URL").unwrap_or_else(|| ctx.public_url.clone());
        if runtime_url == ctx.public_url {
            tracing::warn!(
                "MIRAI_DELIVERY__RUNTIME_URL is unset: SCORM packages play on the API's origin (set an origin of their own in production)"
            );
        }
        let state = AppState { ctx, bundles, blobs, runtime_url };
        let consumers = events::consumers(&state);
        Ok(Started::serve(state).consume(consumers).cors_anywhere("/cmi5/"))
    }
}
