//! marketplace's HTTP surface under `/api/v1/marketplace`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod licenses;
mod listings;
mod orders;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai marketplace", version = "1.0.0", description = "Listings of published courses, orders paid through billing, and the licenses they grant."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "listings", description = "What providers sell."),
         (name = "orders", description = "What tenants buy: a saga with billing."),
         (name = "licenses", description = "What a tenant owns.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(listings::router())
        .merge(orders::router())
        .merge(licenses::router())
}
