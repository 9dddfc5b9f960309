//! authoring's HTTP surface under `/api/v1/authoring`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod courses;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai authoring", version = "1.0.0", description = "Courses: drafts of modules, lessons and typed blocks under optimistic concurrency (If-Match on every write), AI provenance and review, immutable published versions."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "courses", description = "Course drafts, their published versions and history.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(courses::router())
}
