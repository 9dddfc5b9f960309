//! notification: what integrators hear. Every deliverable event of a tenant (memberships,
//! courses, packages, media, learning records; the marketplace, enrollment and assignment
//! events as those services land) becomes a message, delivered to the tenant's webhook
//! endpoints that want its type, signed per the Standard Webhooks specification
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<HMAC-SHA256>` with a
//! `whsec_` secret; a rotated secret signs too until it expires), retried with
//! exponential backoff for up to three days on the Postgres job table, with every attempt
//! in a delivery log; an endpoint failing for days is disabled until its tenant enables
//! it again; one delivery can be sent again by hand, and everything since a cursor
//! replayed.

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
pub mod settings;
pub mod sign;
mod store;

pub const NAME: &str = "notification";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub kms: std::sync::Arc<dyn mirai_kit::kms::Kms>,
    pub settings: settings::Settings,
    pub http: reqwest::Client,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = events::CONSUMERS;

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let settings = settings::Settings::from_config(&ctx.config)?;
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Mirai-Webhooks/1.0")
            .build()?;
        let state = AppState { kms: mirai_kit::kms::for_service(NAME)?, ctx, settings, http };
        let deliver = std::sync::Arc::new(app::deliver::Deliver { state: state.clone() });
        Ok(Started::serve(state).consume(events::consumers()).job(app::deliver::JOB, deliver))
    }
}
