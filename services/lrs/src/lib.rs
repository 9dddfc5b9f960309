//! lrs: an xAPI Learning Record Store (1.0.3 and 2.0). Statements are validated against
//! the data rules of the request's version, stored as received plus normalized columns
//! indexed for every query filter, and announced as `lrs.statement.*` events. It takes
//! part in tenant's GDPR erasure choreography (`app::erasure`).

use futures::FutureExt;
use mirai_kit::{ServiceCtx, ServiceDef, Started};

pub mod app;
mod http;
mod store;

pub const NAME: &str = "lrs";

pub fn service() -> ServiceDef {
    ServiceDef {
        name: NAME,
        migrations: mirai_kit::db::migrations(NAME),
        openapi: http::openapi,
        start: |ctx| start(ctx).boxed(),
    }
}

/// Shared state of the LRS handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
}

async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
    let erasures = app::erasure::consumer(&ctx.public_url);
    let mut started = Started::new(http::router(AppState { ctx }));
    started.consumers.push(erasures);
    // Browser content (SCORM/xAPI packages on any host) posts statements with Basic auth.
    started.cors_anywhere.push("/xapi/");
    Ok(started)
}
