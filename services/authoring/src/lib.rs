//! authoring: courses as aggregates — metadata and a draft outline of modules, lessons and
//! typed blocks under one revision that every write names (`If-Match`; a stale one is a
//! 412 with the current revision). Publishing freezes the draft into an immutable,
//! numbered version with its content hash and announces it with the full outline
//! (`authoring.course.published.v1`), so catalog and search learn everything from the
//! event. AI-generated blocks carry their provenance and must be reviewed before a
//! version can be published (ADR 0007). Authors ask the ai-gateway for outlines, lesson
//! blocks, quiz questions and rewrites with commands on the bus (`app::generations`).

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "authoring";

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
    const CONSUMERS: &'static [(&'static str, &'static str)] = &[
        ("content", "authoring-packages"),
        ("media", "authoring-media"),
        ("tenant", "authoring-flags"),
        ("ai-gateway", "authoring-generations"),
    ];
    const SENDS: &'static [&'static str] = &["cmd.ai-gateway.generate.v1", "cmd.ai-gateway.cancel.v1"];

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        Ok(Started::serve(AppState { ctx }).consume([
            events::consumer(),
            events::media_consumer(),
            events::flags_consumer(),
            events::generations_consumer(),
        ]))
    }
}
