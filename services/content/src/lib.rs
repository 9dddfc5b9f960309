//! content: SCORM and cmi5 packages. An import unzips safely (`package`), reads the
//! manifest (`manifest`), stores the files in the object store under
//! `tenants/<tenant_id>/packages/<package_id>/` and announces the course structure made
//! of it (`content.package.imported.v1`), which authoring turns into draft lessons. A
//! published course version exports as a SCORM 1.2 zip (`export`), from the versions
//! and media content has learned of through events.

use mirai_blobs::Blobs;
use mirai_kit::{ServiceCtx, ServiceDef, Started, service::Service};
use utoipa_axum::router::OpenApiRouter;

pub mod app;
mod events;
pub mod export;
mod http;
pub mod manifest;
pub mod package;
mod store;

pub const NAME: &str = "content";

pub fn service() -> ServiceDef {
    ServiceDef::of::<AppState>()
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub ctx: ServiceCtx,
    pub blobs: Blobs,
    pub limits: package::Limits,
    /// Imports this instance runs at once (each holds a package and its files in flight).
    pub imports: std::sync::Arc<tokio::sync::Semaphore>,
    /// `MIRAI_CONTENT__TENANT_QUOTA_BYTES`: what one tenant's packages may inflate to in
    /// all, default 50 GiB.
    pub tenant_quota: i64,
}

impl Service for AppState {
    const NAME: &'static str = NAME;
    const CONSUMERS: &'static [(&'static str, &'static str)] =
        &[("authoring", "content-versions"), ("media", "content-media")];
    const PROJECTIONS: &'static [&'static str] = &["versions", "media"];

    fn routes() -> OpenApiRouter<Self> {
        http::routes()
    }

    async fn start(ctx: ServiceCtx) -> anyhow::Result<Started> {
        let blobs = Blobs::open(&ctx.config.blobs, &format!("{}/api/v1/media/blobs", ctx.public_url))?;
        let limits = limits()?;
        let imports = std::sync::Arc::new(tokio::sync::Semaphore::new(num("MAX_CONCURRENT_IMPORTS", 2)? as usize));
        let tenant_quota = num("TENANT_QUOTA_BYTES", 50 << 30)? as i64;
        let state = AppState { ctx, blobs, limits, imports, tenant_quota };
        Ok(Started::serve(state).consume([events::versions(), events::media()]))
    }
}

/// `MIRAI_CONTENT__<key>` as a number, or `default`.
fn num(key: &str, default: u64) -> anyhow::Result<u64> {
    Ok(mirai_kit::Config::service_num(NAME, key, default)?)
}

/// `MIRAI_CONTENT__MAX_PACKAGE_BYTES`, `MAX_FILES`, `MAX_UNPACKED_BYTES`, `MAX_FILE_BYTES`,
/// `MAX_RATIO` over the defaults of [`package::Limits`].
fn limits() -> anyhow::Result<package::Limits> {
    let mut l = package::Limits::default();
    l.max_package = num("MAX_PACKAGE_BYTES", l.max_package)?;
    l.max_files = num("MAX_FILES", l.max_files as u64)? as usize;
    l.max_unpacked = num("MAX_UNPACKED_BYTES", l.max_unpacked)?;
    l.max_file = num("MAX_FILE_BYTES", l.max_file)?;
    l.max_ratio = num("MAX_RATIO", l.max_ratio)?;
    Ok(l)
}
