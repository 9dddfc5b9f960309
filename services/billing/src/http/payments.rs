//! Payments (buyers' admins), Stripe's webhook (public, signed), the ledger and
//! reconciliation (platform admins; providers see what they are owed).

use axum::{body::Bytes, extract::State, http::HeaderMap};
use mirai_contracts::ids::{PaymentId, TenantId};
use mirai_kit::{AppError, Json, Path, Principal, Query, error::Problem, pagination::Page};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{
        ledger::{self, Balances, Owed},
        payments::{self, Payment, PaymentQuery},
        reconcile::{self, Reconciled},
        webhook,
    },
};

/// The tenant's payments, newest first (`order_id` for one order's).
#[utoipa::path(get, path = "/payments", tag = "payments", params(PaymentQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of payments", body = Page<Payment>),
              (status = 403, description = "Not an org admin", body = Problem, content_type = "application/problem+json")))]
async fn list_payments(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<PaymentQuery>,
) -> Result<Json<Page<Payment>>, AppError> {
    Ok(Json(payments::list(&state, &principal, q).await?))
}

/// One of the tenant's payments.
#[utoipa::path(get, path = "/payments/{payment_id}", tag = "payments",
    params(("payment_id" = uuid::Uuid, Path, description = "The payment")), security(("bearer" = [])),
    responses((status = 200, description = "The payment", body = Payment),
              (status = 404, description = "No such payment of the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_payment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<PaymentId>,
) -> Result<Json<Payment>, AppError> {
    Ok(Json(payments::get(&state, &principal, id).await?))
}

/// Record that a `manual` payment (an invoice) was paid (platform admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/payments/{payment_id}/mark-paid", tag = "payments",
    params(("tenant_id" = uuid::Uuid, Path, description = "The paying tenant"), ("payment_id" = uuid::Uuid, Path, description = "The payment")),
    security(("bearer" = [])),
    responses((status = 200, description = "Paid", body = Payment),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such payment", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not a manual payment awaiting payment", body = Problem, content_type = "application/problem+json")))]
async fn mark_paid(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(TenantId, PaymentId)>,
) -> Result<Json<Payment>, AppError> {
    Ok(Json(payments::mark_paid(&state, &principal, tenant, id).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// False when the event had been applied already.
    pub new: bool,
}

/// Stripe's webhook endpoint: the raw body signed per `Stripe-Signature` under one of
/// `MIRAI_BILLING__STRIPE_WEBHOOK_SECRETS`; an invalid signature is a 400 and writes nothing.
#[utoipa::path(post, path = "/providers/stripe/webhook", tag = "provider", request_body(content = String, content_type = "application/json", description = "A Stripe event, as Stripe sent it"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<hex HMAC-SHA256>")),
    security(()),
    responses((status = 200, description = "Applied (or applied before)", body = Received),
              (status = 400, description = "Invalid signature or event", body = Problem, content_type = "application/problem+json")))]
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>, AppError> {
    let sig = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    Ok(Json(Received { new: webhook::stripe(&state, sig, &body).await? }))
}

/// Every ledger account's balance and the per-currency totals (platform admin).
#[utoipa::path(get, path = "/ledger/balances", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, description = "Balances", body = Balances),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json")))]
async fn balances(State(state): State<AppState>, principal: Principal) -> Result<Json<Balances>, AppError> {
    Ok(Json(ledger::balances(&state, &principal).await?))
}

/// What the platform owes the caller's tenant for its sales (provider admin).
#[utoipa::path(get, path = "/ledger/owed", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, description = "Owed, by currency", body = Owed),
              (status = 403, description = "Not a provider admin", body = Problem, content_type = "application/problem+json")))]
async fn owed(State(state): State<AppState>, principal: Principal) -> Result<Json<Owed>, AppError> {
    Ok(Json(ledger::owed(&state, &principal).await?))
}

/// Run reconciliation now (platform admin); it also runs on its own schedule.
#[utoipa::path(post, path = "/reconciliations", tag = "ledger", security(("bearer" = [])),
    responses((status = 200, description = "What it healed", body = Reconciled),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "The payment provider is unavailable", body = Problem, content_type = "application/problem+json")))]
async fn reconcile_now(State(state): State<AppState>, principal: Principal) -> Result<Json<Reconciled>, AppError> {
    principal.require_platform_admin()?;
    reconcile::run(&state).await.map(Json).map_err(|e| AppError::Unavailable(format!("reconciliation: {e:#}")))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_payments))
        .routes(routes!(get_payment))
        .routes(routes!(mark_paid))
        .routes(routes!(stripe_webhook))
        .routes(routes!(balances))
        .routes(routes!(owed))
        .routes(routes!(reconcile_now))
}
