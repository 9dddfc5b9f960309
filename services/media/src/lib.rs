//! media: uploaded files. A client declares an upload (name, type, size), gets a
//! short-lived URL signed for exactly that object and PUTs the bytes straight to the
//! store (a local directory by default, S3 in production: `mirai_blobs`); completing the
//! upload checks the object (it exists, its size and sniffed type match, its SHA-256 is
//! recorded) and announces `media.asset.ready.v1`. Downloads are signed URLs for one
//! object. An asset a published course version shows cannot be deleted: media learns
//! which from authoring's events.

use mirai_blobs::Blobs;
use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
pub mod settings;
mod store;
pub mod sweeper;

pub const NAME: &str = "media";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub blobs: Blobs,
    pub settings: settings::Settings,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = &[("authoring", "media-uses")];
    const PROJECTIONS: &'static [&'static str] = &["asset_uses"];

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let blobs = Blobs::open(&ctx.config.blobs, &format!("{}/api/v1/media/blobs", ctx.public_url))?;
        let settings = settings::Settings::from_env()?;
        let age =
            chrono::Duration::from_std(settings.upload_ttl)? + app::COMPLETION_GRACE + chrono::Duration::minutes(10);
        let sweep = sweeper::run(blobs.clone(), age, std::time::Duration::from_secs(600), ctx.cancel.clone());
        Ok(Started::serve(AppState { ctx, blobs, settings }).consume([events::consumer()]).task(sweep))
    }
}
