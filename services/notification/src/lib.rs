//! notification: what integrators hear. Every deliverable event of a tenant (memberships,
//! courses, packages, media, learning records; the marketplace, enrollment and assignment
//! events as those services land) becomes a message, delivered to the tenant's webhook
//! endpoints that want its type, signed per the Standard Webhooks specification
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<HMAC-SHA256>` with a
//! `whsec_` secret; a rotated secret signs too until it expires), retried with
//! exponential backoff for up to three days on the Postgres job table, with every attempt
//! in a delivery log; an endpoint failing for days is disabled until its tenant enables
//! it again; one delivery can be sent again by hand, and everything since a cursor
//! replayed. People hear of what concerns them in an in-app inbox (live over SSE) and
//! by email (SMTP; templates per event and locale; preferences per category; one-click
//! unsubscribe per RFC 8058).

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
mod http;
pub mod settings;
pub mod sign;
mod store;

pub const NAME: &str = "notification";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub kms: std::sync::Arc<dyn mirai_kit::kms::Kms>,
    pub settings: settings::Settings,
    pub http: reqwest::Client,
    /// The SMTP server emails go to, when one is configured.
    pub smtp: Option<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>,
    /// Signs one-click unsubscribe links (made once, sealed in the database).
    pub unsubscribe_key: std::sync::Arc<secrecy::SecretSlice<u8>>,
    /// The live inbox streams open on this replica.
    pub streams: app::notify::Streams,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = events::CONSUMERS;

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let settings = settings::Settings::from_config(&ctx.config, &ctx.public_url)?;
        let smtp = match &settings.smtp_url {
            Some(url) => Some(
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(secrecy::ExposeSecret::expose_secret(
                    url,
                ))?
                .build(),
            ),
            None => {
                tracing::warn!("MIRAI_NOTIFICATION__SMTP_URL is unset: emails are not sent");
                None
            }
        };
        let http = reqwest::Client::builder()
            .dns_resolver(std::sync::Arc::new(PublicOnly { block_private: settings.block_private_hosts }))
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Mirai-Webhooks/1.0")
            .build()?;
        if !settings.public_url.starts_with("https://") {
            tracing::warn!(public_url = %settings.public_url, "one-click unsubscribe (RFC 8058) needs an https MIRAI_PUBLIC_URL");
        }
        let kms = mirai_kit::kms::for_service(NAME)?;
        let unsubscribe_key = std::sync::Arc::new(app::notify::unsubscribe_key(&ctx, kms.as_ref()).await?);
        let streams = app::notify::Streams::new(settings.max_streams);
        let state = AppState { kms, ctx, settings, http, smtp, unsubscribe_key, streams };
        let deliver = std::sync::Arc::new(app::deliver::Deliver { state: state.clone() });
        let email = std::sync::Arc::new(app::email::SendEmail { state: state.clone() });
        let workers = state.settings.workers;
        Ok(Started::serve(state.clone())
            .consume(events::consumers(&state))
            .job(app::deliver::JOB, deliver)
            .job(app::notify::EMAIL_JOB, email)
            .job_workers(workers))
    }
}

/// Resolves an endpoint's host on every attempt and keeps only the addresses we may
/// call (`mirai_kit::outbound::refusal`): a name saved as public that now points at the
/// metadata service or (in production) the cluster's insides is refused, whatever it
/// resolved to when it was saved. IP literals were checked when saved.
struct PublicOnly {
    block_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let block = self.block_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<std::net::SocketAddr> =
                all.into_iter().filter(|a| mirai_kit::outbound::refusal(a.ip(), block).is_none()).collect();
            if ok.is_empty() {
                return Err(format!("{host} resolves to no address webhooks may be sent to").into());
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}
