//! billing: the payments of marketplace orders through a payment port (Stripe, or
//! `manual` for invoices paid outside), the provider's signed webhooks (verified,
//! deduplicated, applied in any order), a reconciliation job that heals "paid but not
//! provisioned" and "provisioned but not paid", refunds marketplace asks for, and a
//! double-entry ledger (payments and refunds split between the course provider and the
//! platform's share), paid out to providers by Stripe Connect transfer or the bank's CSV.

use mirai_events::jobs::Schedule;
use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
pub mod gateway;
mod http;
pub mod settings;
pub mod signature;
mod store;

pub const NAME: &str = "billing";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub settings: settings::Settings,
    pub gateway: gateway::Gateway,
    /// Stripe Connect, for payouts by transfer (whenever a Stripe key is configured, even
    /// with `manual` payments).
    pub connect: Option<gateway::Stripe>,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = events::CONSUMERS;

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let settings = settings::Settings::from_config(&ctx.config)?;
        let gateway = gateway::Gateway::from_settings(&settings)?;
        if settings.provider == "stripe" && settings.webhook_secrets.is_empty() {
            tracing::warn!(
                "MIRAI_BILLING__STRIPE_WEBHOOK_SECRETS is unset: Stripe's webhooks are refused; reconciliation alone applies payments"
            );
        }
        let every = settings.reconcile_every;
        let connect = match &settings.stripe_secret_key {
            Some(key) => Some(gateway::Stripe::new(&settings.stripe_api_base, key.clone(), settings.timeout)?),
            None => None,
        };
        let state = AppState { ctx, settings, gateway, connect };
        use std::sync::Arc;
        Ok(Started::serve(state.clone())
            .consume(events::consumers(&state))
            .job(app::payments::CREATE_JOB, Arc::new(app::payments::CreatePayment { state: state.clone() }))
            .job(app::payments::CANCEL_JOB, Arc::new(app::payments::CancelPayment { state: state.clone() }))
            .job(app::payments::REFUND_JOB, Arc::new(app::payments::Refund { state: state.clone() }))
            .job(app::documents::ISSUE_JOB, Arc::new(app::documents::Issue { state: state.clone() }))
            .job(app::reconcile::JOB, Arc::new(app::reconcile::Reconcile { state: state.clone() }))
            .job(app::reconcile::CHECK_JOB, Arc::new(app::reconcile::CheckUnpaid { state: state.clone() }))
            .job(app::payments::FEE_JOB, Arc::new(app::payments::BookFee { state: state.clone() }))
            .job(app::payments::SYNC_REFUNDS_JOB, Arc::new(app::payments::SyncRefunds { state: state.clone() }))
            .job(app::subscriptions::SYNC_JOB, Arc::new(app::subscriptions::Sync { state: state.clone() }))
            .job(app::subscriptions::UPDATE_JOB, Arc::new(app::subscriptions::Update { state: state.clone() }))
            .job(app::subscriptions::RENEW_JOB, Arc::new(app::subscriptions::Renew { state: state.clone() }))
            .job(app::payouts::TRANSFER_JOB, Arc::new(app::payouts::Transfer { state: state.clone() }))
            .schedule(Schedule { name: "reconcile".into(), kind: app::reconcile::JOB.into(), every })
            .job_workers(4))
    }
}
