//! enrollment: a seat pool per license (from marketplace's events), enrollments that
//! each hold a seat of one, never more than the pool has however many managers enroll at
//! once (the pool's row lock serializes them; ADR 0012), seats released when an
//! enrollment is withdrawn or its license ends. An active enrollment is the learner's
//! source of truth for "may I launch this course" (delivery reads it from the events).

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "enrollment";

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
    const CONSUMERS: &'static [(&'static str, &'static str)] = events::CONSUMERS;

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        Ok(Started::serve(AppState { ctx })
            .consume(events::consumers())
            .job(app::EXPIRE_JOB, std::sync::Arc::new(app::Expire)))
    }
}
