//! Orders: buyers place and cancel; providers refund seats of what they sold.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::OrderId;
use mirai_kit::{AppError, Json, Path, Principal, Query, error::Problem, pagination::Page};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::orders::{self, Order, OrderQuery, PlaceOrder, RefundSeats},
};

/// Order seats of a listing (org admin). A free order completes at once; a paid one
/// waits for billing. Send `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = PlaceOrder, security(("bearer" = [])),
    responses((status = 201, description = "Placed", body = Order),
              (status = 403, description = "Not an org admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such listing for the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The caller's own listing", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid seats, currency or payment method", body = Problem, content_type = "application/problem+json")))]
async fn place_order(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<PlaceOrder>,
) -> Result<(StatusCode, Json<Order>), AppError> {
    Ok((StatusCode::CREATED, Json(orders::place(&state, &principal, req).await?)))
}

/// The caller's purchases, newest first, or (`sold=true`) the orders of its listings.
#[utoipa::path(get, path = "/orders", tag = "orders", params(OrderQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of orders", body = Page<Order>),
              (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json")))]
async fn list_orders(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<OrderQuery>,
) -> Result<Json<Page<Order>>, AppError> {
    Ok(Json(orders::list(&state, &principal, q).await?))
}

/// An order the caller bought or sold.
#[utoipa::path(get, path = "/orders/{order_id}", tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "The order")), security(("bearer" = [])),
    responses((status = 200, description = "The order", body = Order),
              (status = 404, description = "No such order for the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<OrderId>,
) -> Result<Json<Order>, AppError> {
    Ok(Json(orders::get(&state, &principal, id).await?))
}

/// Cancel an order not paid yet (its payment is canceled; one that succeeds anyway is refunded).
#[utoipa::path(post, path = "/orders/{order_id}/cancel", tag = "orders",
    params(("order_id" = uuid::Uuid, Path, description = "The order")), security(("bearer" = [])),
    responses((status = 200, description = "Canceled", body = Order),
              (status = 404, description = "No such order of the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Paid or failed already", body = Problem, content_type = "application/problem+json")))]
async fn cancel_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<OrderId>,
) -> Result<Json<Order>, AppError> {
    Ok(Json(orders::cancel(&state, &principal, id).await?))
}

/// Take back seats of an order the caller sold and refund them (provider admin): the
/// buyer's license shrinks, never below its seats in use unless `force`.
#[utoipa::path(post, path = "/orders/{order_id}/refunds", tag = "orders", request_body = RefundSeats,
    params(("order_id" = uuid::Uuid, Path, description = "The order")), security(("bearer" = [])),
    responses((status = 200, description = "Refund asked of billing; the order as it is now", body = Order),
              (status = 404, description = "No such order sold by the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not completed, free, or seats in use (`seats-in-use`)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid seat count", body = Problem, content_type = "application/problem+json")))]
async fn refund_order(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<OrderId>,
    Json(req): Json<RefundSeats>,
) -> Result<Json<Order>, AppError> {
    Ok(Json(orders::refund(&state, &principal, id, req).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(cancel_order))
        .routes(routes!(refund_order))
}
