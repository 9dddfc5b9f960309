//! marketplace: providers list published course versions (free, per seat once, or per
//! seat per month or year; seat packs; public or private to named tenants), tenants
//! order seats, and an order is a saga with billing: placed → paid (billing's events) →
//! license granted, or failed; a paid order that can no longer be fulfilled (the listing
//! retired meanwhile, or the order canceled) asks billing for a refund. Licenses are
//! the read model of what a tenant owns; refunds shrink or revoke them, never below the
//! seats in use without an explicit decision.

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
mod store;

pub const NAME: &str = "marketplace";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    /// The platform's share of a provider's sales until a platform admin sets another
    /// (`MIRAI_MARKETPLACE__DEFAULT_REVENUE_SHARE_BPS`, basis points).
    pub default_share_bps: i32,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = events::CONSUMERS;
    const SENDS: &'static [&'static str] = &["cmd.billing.refund.v1", "cmd.billing.renewal.v1"];

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let share = ctx.config.setting_num(NAME, "DEFAULT_REVENUE_SHARE_BPS", 2000)?;
        anyhow::ensure!(share <= 10_000, "MIRAI_MARKETPLACE__DEFAULT_REVENUE_SHARE_BPS must be 0..=10000");
        Ok(Started::serve(AppState { ctx, default_share_bps: share as i32 }).consume(events::consumers()))
    }
}
