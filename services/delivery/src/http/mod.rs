//! delivery's HTTP surface under `/api/v1/delivery`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod cmi5;
mod offline;
mod player;
mod runtime;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai delivery", version = "1.0.0", description = "The player: launch a course, read its lessons, resume, complete; every step recorded as xAPI."),
    paths(runtime::package_file),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "player", description = "A learner's sessions in the courses they are enrolled in."),
         (name = "offline", description = "Courses taken offline: devices, bundles encrypted to them, check-ins."),
         (name = "runtime", description = "The SCORM 1.2 and 2004 runtime, and cmi5 launches: a lesson's package launched, its player page, files and commits."),
         (name = "cmi5", description = "A cmi5 AU session's fetch URL and xAPI endpoint (statements under cmi5's rules, State with LMS.LaunchData, the learner's preferences).")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(player::router())
        .merge(offline::router())
        .merge(runtime::router())
        .merge(cmi5::router())
}
