//! billing's HTTP surface under `/api/v1/billing`.

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

mod documents;
mod payments;

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai billing", version = "1.0.0", description = "Payments of marketplace orders, the payment provider's webhooks, reconciliation, the ledger, payouts, and receipts and credit notes."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "payments", description = "What tenants pay."),
         (name = "provider", description = "The payment provider's webhooks."),
         (name = "ledger", description = "The books: balances, reconciliation."),
         (name = "documents", description = "Receipts and credit notes, numbered per issuer.")),
)]
struct ApiDoc;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(payments::router()).merge(documents::router())
}
