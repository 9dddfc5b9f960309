//! Assets: declare an upload, complete it, read, list, sign a download, delete.

use axum::{extract::State, http::StatusCode};
use mirai_contracts::ids::AssetId;
use mirai_kit::{AppError, Json, Path, Principal, Query, error::Problem, pagination::Page};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Asset, ListParams, SignedRequest, Upload, UploadInput},
};

/// Declare an upload (authors, provider and org admins): the pending asset and a URL to
/// PUT exactly its bytes to, good for 15 minutes. Send `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/uploads", tag = "media", request_body = UploadInput, security(("bearer" = [])),
    responses((status = 201, description = "Declared: PUT the bytes to `upload.url` with `upload.headers`, then complete", body = Upload),
              (status = 403, description = "Not an author", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid name, type or size", body = Problem, content_type = "application/problem+json"),
              (status = 507, description = "The tenant's storage quota would be exceeded", body = Problem, content_type = "application/problem+json")))]
async fn declare_upload(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<UploadInput>,
) -> Result<(StatusCode, Json<Upload>), AppError> {
    Ok((StatusCode::CREATED, Json(app::declare(&state, &principal, req).await?)))
}

/// Complete an upload: the bytes must have arrived with the declared size and type; the
/// asset becomes ready (`media.asset.ready.v1`). Completing a ready asset answers the same.
#[utoipa::path(post, path = "/assets/{asset_id}/complete", tag = "media", params(("asset_id" = uuid::Uuid, Path, description = "The asset")), security(("bearer" = [])),
    responses((status = 200, description = "Ready", body = Asset),
              (status = 404, description = "No such asset in this tenant", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "No bytes received yet", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "The bytes are not what was declared (they were discarded; upload again)", body = Problem, content_type = "application/problem+json")))]
async fn complete_upload(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<AssetId>,
) -> Result<Json<Asset>, AppError> {
    Ok(Json(app::complete(&state, &principal, id).await?))
}

/// The tenant's assets, newest first.
#[utoipa::path(get, path = "/assets", tag = "media", params(ListParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of assets", body = Page<Asset>),
              (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json")))]
async fn list_assets(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<ListParams>,
) -> Result<Json<Page<Asset>>, AppError> {
    Ok(Json(app::list(&state, &principal, params).await?))
}

/// One asset.
#[utoipa::path(get, path = "/assets/{asset_id}", tag = "media", params(("asset_id" = uuid::Uuid, Path, description = "The asset")), security(("bearer" = [])),
    responses((status = 200, description = "The asset", body = Asset),
              (status = 404, description = "No such asset in this tenant", body = Problem, content_type = "application/problem+json")))]
async fn get_asset(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<AssetId>,
) -> Result<Json<Asset>, AppError> {
    Ok(Json(app::get(&state, &principal, id).await?))
}

/// A URL to download a ready asset, good for 5 minutes and for this object only.
#[utoipa::path(get, path = "/assets/{asset_id}/download", tag = "media", params(("asset_id" = uuid::Uuid, Path, description = "The asset")), security(("bearer" = [])),
    responses((status = 200, description = "GET `url` before `expires_at`", body = SignedRequest),
              (status = 404, description = "No such asset in this tenant", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not ready yet", body = Problem, content_type = "application/problem+json")))]
async fn download_asset(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<AssetId>,
) -> Result<Json<SignedRequest>, AppError> {
    Ok(Json(app::download(&state, &principal, id).await?))
}

/// Delete an asset and its bytes; refused while a published course version shows it.
#[utoipa::path(delete, path = "/assets/{asset_id}", tag = "media", params(("asset_id" = uuid::Uuid, Path, description = "The asset")), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such asset in this tenant", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A published version uses it (the problem names them)", body = Problem, content_type = "application/problem+json")))]
async fn delete_asset(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<AssetId>,
) -> Result<StatusCode, AppError> {
    app::delete(&state, &principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(declare_upload))
        .routes(routes!(complete_upload))
        .routes(routes!(list_assets))
        .routes(routes!(get_asset, delete_asset))
        .routes(routes!(download_asset))
}
