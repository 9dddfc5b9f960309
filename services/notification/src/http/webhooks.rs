//! Webhook endpoints, their deliveries and the tenant's message log (tenant admins).

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::{DeliveryId, EndpointId};
use mirai_kit::{
    AppError, Json, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{
        ADMINS,
        deliver::{self, Delivery, Messages, ReplayInput, Replayed},
        endpoints::{self, CreateEndpoint, Endpoint, RotateSecret, Secret, UpdateEndpoint},
    },
    events::DELIVERABLE,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypes {
    pub data: Vec<String>,
}

/// The event types an endpoint may subscribe to.
#[utoipa::path(get, path = "/event-types", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, description = "Deliverable event types", body = EventTypes)))]
async fn event_types(principal: Principal) -> Result<Json<EventTypes>, AppError> {
    principal.own_tenant(ADMINS)?;
    Ok(Json(EventTypes { data: DELIVERABLE.iter().map(|t| (*t).to_owned()).collect() }))
}

/// Create an endpoint (at most 50 per tenant). Its signing secret (`whsec_…`) is at
/// `GET …/secret`. Send `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/endpoints", tag = "webhooks", request_body = CreateEndpoint, security(("bearer" = [])),
    responses((status = 201, description = "Created", body = Endpoint),
              (status = 409, description = "The tenant has 50 endpoints", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Not a tenant admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn create_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CreateEndpoint>,
) -> Result<(StatusCode, Json<Endpoint>), AppError> {
    Ok((StatusCode::CREATED, Json(endpoints::create(&state, &principal, req).await?)))
}

/// The tenant's endpoints, newest first.
#[utoipa::path(get, path = "/endpoints", tag = "webhooks", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of endpoints", body = Page<Endpoint>),
              (status = 403, description = "Not a tenant admin", body = Problem, content_type = "application/problem+json")))]
async fn list_endpoints(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<Json<Page<Endpoint>>, AppError> {
    Ok(Json(endpoints::list(&state, &principal, page).await?))
}

/// One endpoint.
#[utoipa::path(get, path = "/endpoints/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The endpoint", body = Endpoint),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn get_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<EndpointId>,
) -> Result<Json<Endpoint>, AppError> {
    Ok(Json(endpoints::get(&state, &principal, id).await?))
}

/// Change an endpoint: its URL, description, event types; `enabled: true` re-enables one
/// that was disabled.
#[utoipa::path(patch, path = "/endpoints/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path)), request_body = UpdateEndpoint, security(("bearer" = [])),
    responses((status = 200, description = "Changed", body = Endpoint),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn update_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<EndpointId>,
    Json(req): Json<UpdateEndpoint>,
) -> Result<Json<Endpoint>, AppError> {
    Ok(Json(endpoints::update(&state, &principal, id, req).await?))
}

/// Delete an endpoint with its deliveries.
#[utoipa::path(delete, path = "/endpoints/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn delete_endpoint(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<EndpointId>,
) -> Result<StatusCode, AppError> {
    endpoints::delete(&state, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's current signing secret.
#[utoipa::path(get, path = "/endpoints/{endpoint_id}/secret", tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The secret", body = Secret),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn get_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<EndpointId>,
) -> Result<Json<Secret>, AppError> {
    Ok(Json(endpoints::secret(&state, &principal, id).await?))
}

/// Rotate the signing secret (`GET …/secret` shows the new one); the old one still signs
/// (a second `v1,` signature) for `grace_secs`.
#[utoipa::path(post, path = "/endpoints/{endpoint_id}/secret/rotate", tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path)), request_body = RotateSecret, security(("bearer" = [])),
    responses((status = 200, description = "Rotated", body = Endpoint),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn rotate_secret(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<EndpointId>,
    Json(req): Json<RotateSecret>,
) -> Result<Json<Endpoint>, AppError> {
    Ok(Json(endpoints::rotate(&state, &principal, id, req).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `succeeded` or `failed`.
    status: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    limit: Option<i64>,
    /// `next_cursor` from the previous page.
    cursor: Option<String>,
}

/// The endpoint's deliveries, newest first: the delivery log.
#[utoipa::path(get, path = "/endpoints/{endpoint_id}/deliveries", tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path), DeliveryQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of deliveries", body = Page<Delivery>),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn list_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<EndpointId>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<Page<Delivery>>, AppError> {
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    Ok(Json(deliver::list(&state, &principal, id, q.status, page).await?))
}

/// One delivery with every attempt: response codes, the first KiB of each answer, errors,
/// durations.
#[utoipa::path(get, path = "/endpoints/{endpoint_id}/deliveries/{delivery_id}", tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path), ("delivery_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, description = "The delivery", body = Delivery),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json")))]
async fn get_delivery(
    State(state): State<AppState>,
    principal: Principal,
    Path((endpoint, id)): Path<(EndpointId, DeliveryId)>,
) -> Result<Json<Delivery>, AppError> {
    Ok(Json(deliver::get(&state, &principal, endpoint, id).await?))
}

/// Send one delivery again now (202; the attempt lands in its log).
#[utoipa::path(post, path = "/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver", tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path), ("delivery_id" = uuid::Uuid, Path)), security(("bearer" = [])),
    responses((status = 202, description = "Queued", body = Delivery),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The endpoint is disabled", body = Problem, content_type = "application/problem+json")))]
async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path((endpoint, id)): Path<(EndpointId, DeliveryId)>,
) -> Result<(StatusCode, Json<Delivery>), AppError> {
    Ok((StatusCode::ACCEPTED, Json(deliver::redeliver(&state, &principal, endpoint, id).await?)))
}

/// Queue every message after a cursor the endpoint wants and has not received (never
/// delivered, or failed).
#[utoipa::path(post, path = "/endpoints/{endpoint_id}/replay", tag = "webhooks",
    params(("endpoint_id" = uuid::Uuid, Path)), request_body = ReplayInput, security(("bearer" = [])),
    responses((status = 202, description = "Queued", body = Replayed),
              (status = 404, description = "Not found", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The endpoint is disabled", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn replay(
    State(state): State<AppState>,
    principal: Principal,
    Path(endpoint): Path<EndpointId>,
    Json(req): Json<ReplayInput>,
) -> Result<(StatusCode, Json<Replayed>), AppError> {
    Ok((StatusCode::ACCEPTED, Json(deliver::replay(&state, &principal, endpoint, req).await?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessageQuery {
    /// Messages after this `seq` (default 0: from the first).
    after: Option<i64>,
    /// Only this event type.
    event_type: Option<String>,
    /// 1 to 100 (default 50).
    limit: Option<i64>,
}

/// The tenant's messages (up to 100 per page), oldest first: what every endpoint was (or would be) sent, with
/// the `seq` a replay starts after.
#[utoipa::path(get, path = "/messages", tag = "webhooks", params(MessageQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of messages", body = Messages),
              (status = 403, description = "Not a tenant admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid", body = Problem, content_type = "application/problem+json")))]
async fn list_messages(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<MessageQuery>,
) -> Result<Json<Messages>, AppError> {
    Ok(Json(deliver::messages(&state, &principal, q.after.unwrap_or(0), q.event_type, q.limit).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(event_types))
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(get_secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(redeliver))
        .routes(routes!(replay))
        .routes(routes!(list_messages))
}
