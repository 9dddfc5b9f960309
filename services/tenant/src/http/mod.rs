//! tenant's HTTP surface under `/api/v1/tenant`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod data_subjects;
mod groups;
mod invitations;
mod memberships;
mod org_units;
mod secrets;
mod settings;
mod tenants;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai tenant", version = "1.0.0", description = "Tenants, org units, memberships, invitations, settings, feature flags, secrets and data-subject (GDPR) requests."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "tenants"), (name = "org-units"), (name = "groups"), (name = "memberships"), (name = "invitations"), (name = "settings"), (name = "secrets"), (name = "data-subjects")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(tenants::router())
        .merge(org_units::router())
        .merge(groups::router())
        .merge(memberships::router())
        .merge(invitations::router())
        .merge(settings::router())
        .merge(secrets::router())
        .merge(data_subjects::router())
}
