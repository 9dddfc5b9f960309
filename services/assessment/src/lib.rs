//! assessment: item banks, quizzes and attempts. A provider's authors write items of
//! eight kinds and quizzes of their courses; a licensee's enrolled learners take them,
//! graded on the server (no key ever reaches the client before submission), under time
//! limits the server enforces. Results reach the LRS as xAPI and the fleet as
//! `assessment.attempt.graded.v1`, through the outbox. Enrollments come from enrollment's
//! events (who may take which course's quizzes).

use std::sync::Arc;

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "assessment";

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
        let close = app::CloseAtDeadline { public_url: ctx.public_url.clone() };
        Ok(Started::serve(AppState { ctx }).consume(events::consumers()).job(app::CLOSE_JOB, Arc::new(close)))
    }
}
