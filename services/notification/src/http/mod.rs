//! notification's HTTP surface under `/api/v1/notification`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod people;
mod webhooks;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai notification", version = "1.0.0",
        description = "Outbound webhooks signed per the Standard Webhooks specification: a tenant's endpoints, \
                       the delivery log with every attempt, redelivery and replay; a member's inbox, \
                       preferences and one-click unsubscribe."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "webhooks", description = "Endpoints, deliveries and the message log."),
         (name = "people", description = "A member's own notifications: preferences, inbox, unsubscribe.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(webhooks::router()).merge(people::router())
}
