//! delivery's HTTP surface under `/api/v1/delivery`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod offline;
mod player;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai delivery", version = "1.0.0", description = "The player: launch a course, read its lessons, resume, complete; every step recorded as xAPI."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "player", description = "A learner's sessions in the courses they are enrolled in."),
         (name = "offline", description = "Courses taken offline: devices, bundles encrypted to them, check-ins.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(player::router()).merge(offline::router())
}
