//! template's HTTP surface under `/api/v1/template`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod notes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai template", version = "1.0.0", description = "The service to copy: notes in a tenant."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "notes", description = "Short notes kept per tenant.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(notes::router())
}
