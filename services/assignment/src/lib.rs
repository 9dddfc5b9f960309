//! assignment: a course assigned to people and org units of a tenant with a due date
//! (once, or again every N months after each completion: recertification), reminders
//! before it, overdue on it and escalation to the person's managers after it, all on the
//! Postgres job table; each person's compliance status fed by the LRS's completions; and
//! the manager's compliance report (JSON or CSV). Assigning asks enrollment for a seat
//! per person through the bus.

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "assignment";

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
        use app::track::{DUE_JOB, ESCALATE_JOB, REMIND_JOB, Step};
        let state = AppState { ctx };
        Ok(Started::serve(state.clone())
            .consume(events::consumers(&state))
            .job(REMIND_JOB, Arc::new(Step(REMIND_JOB)))
            .job(DUE_JOB, Arc::new(Step(DUE_JOB)))
            .job(ESCALATE_JOB, Arc::new(Step(ESCALATE_JOB))))
    }
}
