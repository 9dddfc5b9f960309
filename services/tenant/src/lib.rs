//! tenant: tenants (org, provider, individual), org-unit trees, memberships with roles,
//! and invitations. Membership changes are events identity projects into its tokens.

use futures::FutureExt;
use mirai_kit::{Migration, ServiceCtx, ServiceDef, Started};

pub mod app;
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
    Ok(Started::new(http::router(AppState { ctx, kms })))
}
