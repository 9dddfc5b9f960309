//! Payments (buyers' admins), Stripe's webhook (public, signed), the ledger and
//! reconciliation (platform admins; providers see what they are owed).

use axum::{body::Bytes, extract::State, http::HeaderMap};
use mirai_contracts::ids::{PaymentId, PayoutRunId, RefundId, TenantId};
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{
        ledger::{self, Balances, Owed},
        payments::{self, Payment, PaymentQuery, RefundQuery, RefundView},
        payouts::{self, Payout, PayoutAccount, PayoutRun},
        reconcile::{self, Reconciled},
        subscriptions::{self, Subscription},
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

/// The tenant's subscriptions (orders of subscription listings, paid each period),
/// newest first.
#[utoipa::path(get, path = "/subscriptions", tag = "payments", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of subscriptions", body = Page<Subscription>),
              (status = 403, description = "Not an org admin", body = Problem, content_type = "application/problem+json")))]
async fn list_subscriptions(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Subscription>>, AppError> {
    Ok(Json(subscriptions::list(&state, &principal, page).await?))
}

/// A tenant's refunds, newest first (its org admins, or a platform admin looking for
/// `held` ones).
#[utoipa::path(get, path = "/tenants/{tenant_id}/refunds", tag = "payments",
    params(("tenant_id" = uuid::Uuid, Path, description = "The paying tenant"), RefundQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of refunds", body = Page<RefundView>),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid status", body = Problem, content_type = "application/problem+json")))]
async fn list_refunds(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Query(q): Query<RefundQuery>,
) -> Result<Json<Page<RefundView>>, AppError> {
    Ok(Json(payments::refunds(&state, &principal, tenant, q).await?))
}

/// Release a refund held because the provider was already paid out (platform admin): it
/// runs now, and the provider owes its share until its next sales settle it.
#[utoipa::path(post, path = "/tenants/{tenant_id}/refunds/{refund_id}/release", tag = "payments",
    params(("tenant_id" = uuid::Uuid, Path, description = "The paying tenant"), ("refund_id" = uuid::Uuid, Path, description = "The refund")),
    security(("bearer" = [])),
    responses((status = 202, description = "Released: the refund runs"),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such refund", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not held", body = Problem, content_type = "application/problem+json")))]
async fn release_refund(
    State(state): State<AppState>,
    principal: Principal,
    Path((tenant, id)): Path<(TenantId, RefundId)>,
) -> Result<axum::http::StatusCode, AppError> {
    payments::release_refund(&state, &principal, tenant, id).await?;
    Ok(axum::http::StatusCode::ACCEPTED)
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

/// How the caller's tenant is paid for its sales (provider admin).
#[utoipa::path(put, path = "/payout-account", tag = "ledger", request_body = PayoutAccount, security(("bearer" = [])),
    responses((status = 200, description = "Set", body = PayoutAccount),
              (status = 403, description = "Not a provider admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn set_payout_account(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<PayoutAccount>,
) -> Result<Json<PayoutAccount>, AppError> {
    Ok(Json(payouts::set_account(&state, &principal, req).await?))
}

/// The caller's payouts, newest first (provider admin).
#[utoipa::path(get, path = "/payouts", tag = "ledger", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of payouts", body = Page<Payout>),
              (status = 403, description = "Not a provider admin", body = Problem, content_type = "application/problem+json")))]
async fn list_payouts(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Payout>>, AppError> {
    Ok(Json(payouts::list(&state, &principal, page).await?))
}

/// Pay every provider what it is owed (platform admin). Send `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/payout-runs", tag = "ledger", security(("bearer" = [])),
    responses((status = 201, description = "The run and its payouts", body = PayoutRun),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json")))]
async fn run_payouts(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<(axum::http::StatusCode, Json<PayoutRun>), AppError> {
    Ok((axum::http::StatusCode::CREATED, Json(payouts::run(&state, &principal).await?)))
}

/// A payout run (platform admin).
#[utoipa::path(get, path = "/payout-runs/{run_id}", tag = "ledger",
    params(("run_id" = uuid::Uuid, Path, description = "The run")), security(("bearer" = [])),
    responses((status = 200, description = "The run", body = PayoutRun),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json")))]
async fn get_payout_run(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<PayoutRunId>,
) -> Result<Json<PayoutRun>, AppError> {
    Ok(Json(payouts::get_run(&state, &principal, id).await?))
}

/// A run's bank file: the payouts the bank makes (method `csv`), as CSV (platform admin).
#[utoipa::path(get, path = "/payout-runs/{run_id}/csv", tag = "ledger",
    params(("run_id" = uuid::Uuid, Path, description = "The run")), security(("bearer" = [])),
    responses((status = 200, description = "payout_id,provider_tenant_id,currency,amount_minor", body = String, content_type = "text/csv"),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json")))]
async fn payout_run_csv(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<PayoutRunId>,
) -> Result<([(axum::http::header::HeaderName, &'static str); 1], String), AppError> {
    let csv = payouts::run_csv(&state, &principal, id).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_payments))
        .routes(routes!(get_payment))
        .routes(routes!(list_subscriptions))
        .routes(routes!(mark_paid))
        .routes(routes!(list_refunds))
        .routes(routes!(release_refund))
        .routes(routes!(stripe_webhook))
        .routes(routes!(balances))
        .routes(routes!(owed))
        .routes(routes!(reconcile_now))
        .routes(routes!(set_payout_account))
        .routes(routes!(list_payouts))
        .routes(routes!(run_payouts))
        .routes(routes!(get_payout_run))
        .routes(routes!(payout_run_csv))
}
