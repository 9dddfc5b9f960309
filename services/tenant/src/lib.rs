//! tenant: tenants (org, provider, individual), org-unit trees, memberships with roles,
//! invitations, settings, secrets and data-subject requests. Membership changes are events
//! identity projects into its tokens; erasures are a choreography with the services that
//! hold personal data (`app::data_subjects`).

use futures::FutureExt;
use mirai_kit::{Migration, ServiceCtx, ServiceDef, Started};

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "tenant";

pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "init", sql: include_str!("../../../migrations/tenant/0001_init.sql") },
    Migration {
        version: 2,
        name: "settings_flags_secrets",
        sql: include_str!("../../../migrations/tenant/0002_settings_flags_secrets.sql"),
    },
    Migration {
        version: 3,
        name: "data_subject_requests",
        sql: include_str!("../../../migrations/tenant/0003_data_subject_requests.sql"),
    },
];

pub fn service() -> ServiceDef {
    ServiceDef { name: NAME, migrations: MIGRATIONS, openapi: http::openapi, start: |ctx| start(ctx).boxed() }
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
