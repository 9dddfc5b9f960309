//! identity's HTTP surface under `/api/v1/identity`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod api_keys;
mod discovery;
mod session;
mod signing_keys;
mod users;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai identity", version = "1.0.0", description = "Users, sessions, signing keys, API keys and OAuth2 client credentials."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "session"), (name = "discovery"), (name = "users"), (name = "api-keys"), (name = "signing-keys")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(session::router())
        .merge(discovery::router())
        .merge(users::router())
        .merge(api_keys::router())
        .merge(signing_keys::router())
}
