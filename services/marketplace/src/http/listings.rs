//! Listings (providers write; every tenant reads what it may buy) and providers' shares.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::{ListingId, TenantId};
use mirai_kit::{AppError, Json, Path, Principal, Query, error::Problem, pagination::Page};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::listings::{self, CreateListing, Listing, ListingQuery, RevenueShare, Terms},
};

/// List a published course version (provider admin). Send `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/listings", tag = "listings", request_body = CreateListing, security(("bearer" = [])),
    responses((status = 201, description = "Listed", body = Listing),
              (status = 403, description = "Not a provider admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such published version", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The version is private or retired", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid terms", body = Problem, content_type = "application/problem+json")))]
async fn create_listing(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CreateListing>,
) -> Result<(StatusCode, Json<Listing>), AppError> {
    Ok((StatusCode::CREATED, Json(listings::create(&state, &principal, req).await?)))
}

/// Listings the caller may buy, newest first, or (`mine=true`) its own.
#[utoipa::path(get, path = "/listings", tag = "listings", params(ListingQuery), security(("bearer" = [])),
    responses((status = 200, description = "A page of listings", body = Page<Listing>),
              (status = 422, description = "Bad paging", body = Problem, content_type = "application/problem+json")))]
async fn list_listings(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<ListingQuery>,
) -> Result<Json<Page<Listing>>, AppError> {
    Ok(Json(listings::list(&state, &principal, q).await?))
}

/// A listing the caller may buy, or its own.
#[utoipa::path(get, path = "/listings/{listing_id}", tag = "listings",
    params(("listing_id" = uuid::Uuid, Path, description = "The listing")), security(("bearer" = [])),
    responses((status = 200, description = "The listing", body = Listing),
              (status = 404, description = "No such listing for the caller", body = Problem, content_type = "application/problem+json")))]
async fn get_listing(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<ListingId>,
) -> Result<Json<Listing>, AppError> {
    Ok(Json(listings::get(&state, &principal, id).await?))
}

/// Replace a listing's terms (a new revision; orders placed keep theirs).
#[utoipa::path(put, path = "/listings/{listing_id}", tag = "listings", request_body = Terms,
    params(("listing_id" = uuid::Uuid, Path, description = "The listing")), security(("bearer" = [])),
    responses((status = 200, description = "The new revision", body = Listing),
              (status = 403, description = "Not a provider admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such listing of the caller", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Retired", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid terms", body = Problem, content_type = "application/problem+json")))]
async fn update_listing(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<ListingId>,
    Json(req): Json<Terms>,
) -> Result<Json<Listing>, AppError> {
    Ok(Json(listings::update(&state, &principal, id, req).await?))
}

/// Stop selling a listing (licenses granted stay).
#[utoipa::path(post, path = "/listings/{listing_id}/retire", tag = "listings",
    params(("listing_id" = uuid::Uuid, Path, description = "The listing")), security(("bearer" = [])),
    responses((status = 200, description = "Retired", body = Listing),
              (status = 403, description = "Not a provider admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such listing of the caller", body = Problem, content_type = "application/problem+json")))]
async fn retire_listing(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<ListingId>,
) -> Result<Json<Listing>, AppError> {
    Ok(Json(listings::retire(&state, &principal, id).await?))
}

/// Set the platform's share of a provider's sales (platform admin).
#[utoipa::path(put, path = "/providers/{tenant_id}/revenue-share", tag = "listings", request_body = RevenueShare,
    params(("tenant_id" = uuid::Uuid, Path, description = "The provider")), security(("bearer" = [])),
    responses((status = 200, description = "Set", body = RevenueShare),
              (status = 403, description = "Not a platform admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Out of range", body = Problem, content_type = "application/problem+json")))]
async fn set_share(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant): Path<TenantId>,
    Json(req): Json<RevenueShare>,
) -> Result<Json<RevenueShare>, AppError> {
    Ok(Json(listings::set_share(&state, &principal, tenant, req).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_listing, list_listings))
        .routes(routes!(get_listing, update_listing))
        .routes(routes!(retire_listing))
        .routes(routes!(set_share))
}
