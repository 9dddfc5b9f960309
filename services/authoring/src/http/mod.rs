//! authoring's HTTP surface under `/api/v1/authoring`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod courses;
mod generations;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai authoring", version = "1.0.0", description = "Courses: drafts of modules, lessons and typed blocks under optimistic concurrency (If-Match on every write), AI provenance and review, immutable published versions."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "courses", description = "Course drafts, their published versions and history."),
         (name = "ai", description = "AI-assisted authoring through the ai-gateway: results land as draft_ai blocks to review.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(courses::router()).merge(generations::router())
}
