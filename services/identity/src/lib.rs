//! identity: users and credentials, sessions (ES256 access JWTs and rotating refresh
//! tokens), signing keys and JWKS, per-tenant API keys, the client-credentials grant,
//! and the tenant roles it learns from tenant's membership events.

use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};

pub mod app;
mod crypto;
mod events;
mod http;
pub mod settings;
mod store;

pub use app::bootstrap::AdminCredential;
pub use settings::Settings;

pub const NAME: &str = "identity";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of identity's handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub settings: std::sync::Arc<Settings>,
    /// Seals the private signing keys at rest.
    pub kms: std::sync::Arc<dyn mirai_kit::kms::Kms>,
}

impl AppState {
    pub fn new(ctx: ServiceCtx) -> anyhow::Result<Self> {
        Ok(Self { settings: std::sync::Arc::new(Settings::from_env()?), kms: mirai_kit::kms::for_service(NAME)?, ctx })
    }
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] = &[("tenant", "identity-memberships")];
    const SIGNS_EVENTS: bool = true;
    const SUBSCRIBES: &'static [&'static str] = &[mirai_kit::auth::APIKEY_USAGE_SUBJECT];

    fn routes() -> utoipa_axum::router::OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let state = AppState::new(ctx)?;
        app::signing_keys::check_kek(&state).await?;
        app::signing_keys::ensure_active(&state).await?;
        let usage = app::api_keys::record_usage(state.clone(), state.ctx.cancel.clone());
        let memberships = events::memberships_consumer(&state);
        Ok(Started::serve(state).consume([memberships]).task(usage))
    }
}

/// Creates the platform admin once (see `mirai admin bootstrap`); None if one exists.
pub async fn bootstrap(ctx: &ServiceCtx, email: &str) -> anyhow::Result<Option<AdminCredential>> {
    let state = AppState::new(ctx.clone())?;
    app::bootstrap::bootstrap_platform_admin(&state, email).await
}

/// `bootstrap` for the CLI: connects as identity's runtime role, outside a running fleet.
/// The user-created event waits in the outbox until identity's relay runs.
pub async fn bootstrap_with_config(config: &mirai_kit::Config, email: &str) -> anyhow::Result<Option<AdminCredential>> {
    let pool = mirai_kit::db::connect(config, NAME).await?;
    let bus = mirai_events::Bus::connect_with(&config.bus_options(NAME)).await?;
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("http://{}", config.http_addr));
    let ctx = ServiceCtx {
        name: NAME,
        config: std::sync::Arc::new(config.clone()),
        db: mirai_kit::Db::new(pool, NAME, mirai_kit::db::migrations(NAME)),
        bus,
        keys: mirai_kit::auth::KeyStore::new(
            &mirai_kit::service::issuer(&public_url),
            &config.jwt_audience,
            config.bus_verifier.clone(),
        ),
        public_url,
        cancel: tokio_util::sync::CancellationToken::new(),
        signer: Some(std::sync::Arc::new(config.bus_signer(NAME)?)),
    };
    bootstrap(&ctx, email).await
}

/// Seeds a user with a known password (demo data); returns its id.
pub async fn seed_user(
    ctx: &ServiceCtx,
    email: &str,
    password: &str,
    platform_admin: bool,
) -> anyhow::Result<uuid::Uuid> {
    let state = AppState::new(ctx.clone())?;
    app::bootstrap::seed_user(&state, email, password, platform_admin).await
}
