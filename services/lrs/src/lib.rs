//! lrs: an xAPI Learning Record Store (1.0.3 and 2.0). Statements are validated against
//! the data rules of the request's version, stored as received plus normalized columns
//! indexed for every query filter, and announced as `lrs.statement.*` events. It takes
//! part in tenant's GDPR erasure choreography (`app::erasure`).

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};

pub mod app;
mod http;
mod store;

/// The form an identifier takes in the indexes (see `store::key`).
pub use store::key as index_key;

pub const NAME: &str = "lrs";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the LRS handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] =
        &[("tenant", "lrs-erasures"), ("delivery", "lrs-player"), ("assessment", "lrs-assessment")];

    fn routes() -> utoipa_axum::router::OpenApiRouter<Self> {
        http::routes()
    }

    fn router(self) -> axum::Router {
        http::router(self)
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let erasures = app::erasure::consumer(&ctx.public_url);
        let state = AppState { ctx };
        let player = app::player::consumer(&state);
        let assessment = app::player::assessment_consumer(&state);
        // Browser content (SCORM/xAPI packages on any host) posts statements with Basic auth.
        Ok(Started::serve(state).consume([erasures, player, assessment]).cors_anywhere("/xapi/"))
    }
}
