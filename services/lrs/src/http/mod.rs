//! lrs's HTTP surface: the xAPI resources under `/api/v1/lrs/xapi/` (Kong also exposes
//! them at `/xapi/` for standard clients).

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod about;
mod admin;
mod alternate;
mod documents;
mod statements;
pub mod version;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai LRS", version = "1.0.0", description = "An xAPI 1.0.3 / 2.0 Learning Record Store. Every request except `about` sends `X-Experience-API-Version`."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "xapi"), (name = "admin")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(about::router())
        .merge(statements::router())
        .merge(documents::router())
        .merge(admin::router())
}

pub fn router(state: AppState) -> axum::Router {
    let resources = routes()
        .split_for_parts()
        .0
        .layer(axum::middleware::from_fn(version::require))
        .route_layer(axum::middleware::from_fn(mirai_kit::http::capture_route))
        .fallback(mirai_kit::http::not_found)
        .method_not_allowed_fallback(mirai_kit::http::method_not_allowed)
        .with_state(state.clone());
    // The alternate request syntax changes the method, so it is rewritten before routing.
    axum::Router::new()
        .fallback_service(resources)
        .layer(axum::middleware::from_fn_with_state(state, alternate::rewrite))
}
