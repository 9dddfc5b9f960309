//! tenant: tenants (org, provider, individual), org-unit trees, memberships with roles,
//! invitations, settings, secrets and data-subject requests. Membership changes are events
//! identity projects into its tokens; erasures are a choreography with the services that
//! hold personal data (`app::data_subjects`).

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "tenant";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of tenant's handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub kms: std::sync::Arc<dyn mirai_kit::kms::Kms>,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = &[
        ("lrs", "tenant-erasures-lrs"),
        ("notification", "tenant-erasures-notification"),
        ("delivery", "tenant-erasures-delivery"),
    ];

    fn routes() -> utoipa_axum::router::OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let state = AppState { kms: mirai_kit::kms::for_service(NAME)?, ctx };
        Ok(Started::serve(state).consume(events::erasure_consumers()))
    }
}
