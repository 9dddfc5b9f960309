//! tenant: tenants (org, provider, individual), org-unit trees, memberships with roles,
//! invitations, settings, secrets and data-subject requests. Membership changes are events
//! identity projects into its tokens; erasures are a choreography with the services that
//! hold personal data (`app::data_subjects`).

use futures::FutureExt;
use mirai_kit::{ServiceCtx, ServiceDef, Started};

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "tenant";

pub fn service() -> ServiceDef {
    ServiceDef {
        name: NAME,
        migrations: mirai_kit::db::migrations(NAME),
        openapi: http::openapi,
        start: |ctx| start(ctx).boxed(),
    }
}

/// Shared state of tenant's handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub kms: std::sync::Arc<dyn mirai_kit::kms::Kms>,
}

async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
    let kms = mirai_kit::kms::for_service(NAME)?;
    let mut started = Started::new(http::router(AppState { ctx, kms }));
    started.consumers.extend(events::erasure_consumers());
    Ok(started)
}
