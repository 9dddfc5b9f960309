//! media's HTTP surface under `/api/v1/media`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod assets;
mod blobs;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai media", version = "1.0.0", description = "Uploaded files: declare an upload, PUT the bytes to its signed URL, complete it; signed download URLs; assets a published course version shows cannot be deleted."),
    paths(blobs::put_blob, blobs::get_blob),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "media", description = "Assets and their signed URLs.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(assets::router()).merge(blobs::router())
}
