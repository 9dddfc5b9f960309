//! catalog's HTTP surface under `/api/v1/catalog`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod courses;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai catalog", version = "1.0.0", description = "Published courses: the public catalog and a tenant's own, with filters, cursor pages and ETags."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "catalog", description = "What can be taken.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(courses::router())
}
