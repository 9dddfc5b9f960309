//! Offline play: devices, bundles (a license and its download), check-ins, the signing keys.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::IntoResponse,
};
use mirai_contracts::ids::PlaySessionId;
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    AppState,
    app::offline::{self, Bundle, CheckIn, Device, KeySet, NewBundle, NewDevice},
};

/// The bundle's media type.
pub const PLAYPACKAGE: &str = "application/vnd.mirai.playpackage";

/// Register one of the caller's devices by its X25519 public key: 201 new, 200 when the
/// key is registered already.
#[utoipa::path(post, path = "/devices", tag = "offline", request_body = NewDevice, security(("bearer" = [])),
    responses((status = 201, description = "Registered", body = Device),
              (status = 200, description = "Registered already", body = Device),
              (status = 403, description = "Not a person", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not a usable X25519 public key, or no name", body = Problem, content_type = "application/problem+json")))]
async fn register_device(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<NewDevice>,
) -> Result<(StatusCode, Json<Device>), AppError> {
    let (d, new) = offline::register_device(&state, &principal, req).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(d)))
}

/// A device checks in: the platform's time and the device's licenses that no longer hold
/// (revoked, or their enrollment ended). A bundle stops opening when its device has not
/// checked in for `check_in_every_secs`.
#[utoipa::path(post, path = "/devices/{device_id}/check-in", tag = "offline",
    params(("device_id" = uuid::Uuid, Path, description = "One of the caller's devices")), security(("bearer" = [])),
    responses((status = 200, description = "Checked in", body = CheckIn),
              (status = 404, description = "No such device of the caller's", body = Problem, content_type = "application/problem+json")))]
async fn check_in(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<CheckIn>, AppError> {
    Ok(Json(offline::check_in(&state, &principal, id).await?))
}

/// Issue a bundle (a license) of the session's course version to one of the caller's
/// devices; download it from `download`.
#[utoipa::path(post, path = "/sessions/{session_id}/bundles", tag = "offline",
    params(("session_id" = uuid::Uuid, Path, description = "The session")), request_body = NewBundle,
    security(("bearer" = [])),
    responses((status = 201, description = "Issued", body = Bundle),
              (status = 403, description = "The enrollment ended", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such session or device of the caller's", body = Problem, content_type = "application/problem+json")))]
async fn issue(
    State(state): State<AppState>,
    principal: Principal,
    Path(session): Path<PlaySessionId>,
    Json(req): Json<NewBundle>,
) -> Result<(StatusCode, Json<Bundle>), AppError> {
    Ok((StatusCode::CREATED, Json(offline::issue(&state, &principal, session, req).await?)))
}

/// Download a bundle: the course version encrypted to its device, the manifest and
/// license signed by the platform (`mirai_playpackage`'s format). Built on each download.
/// Its files: `course.json` (the outline, and an index of the two below),
/// `session.json` (actor and registration for statements recorded offline),
/// `media/<asset id>` (what image, video and file blocks show) and
/// `packages/<package id>/<path>` (the SCORM packages' files). 413 `bundle-too-large`
/// past `MIRAI_DELIVERY__BUNDLE_MAX_BYTES`.
#[utoipa::path(get, path = "/bundles/{bundle_id}/content", tag = "offline",
    params(("bundle_id" = uuid::Uuid, Path, description = "The bundle")), security(("bearer" = [])),
    responses((status = 200, description = "The bundle", content_type = "application/vnd.mirai.playpackage", body = Vec<u8>),
              (status = 403, description = "The enrollment ended", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such bundle of the caller's", body = Problem, content_type = "application/problem+json"),
              (status = 410, description = "Revoked or expired", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "The course's media and packages exceed what a bundle may carry", body = Problem, content_type = "application/problem+json")))]
async fn content(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    let bytes = offline::content(&state, &principal, id).await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PLAYPACKAGE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    let disposition = format!("attachment; filename=\"{id}.playpackage\"");
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).expect("ascii"));
    Ok((headers, bytes))
}

/// Revoke a bundle (its learner, or an org admin or manager): its device learns it at its
/// next check-in, and it stops opening there.
#[utoipa::path(post, path = "/bundles/{bundle_id}/revoke", tag = "offline",
    params(("bundle_id" = uuid::Uuid, Path, description = "The bundle")), security(("bearer" = [])),
    responses((status = 200, description = "Revoked", body = Bundle),
              (status = 404, description = "No such bundle", body = Problem, content_type = "application/problem+json")))]
async fn revoke(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Bundle>, AppError> {
    Ok(Json(offline::revoke(&state, &principal, id).await?))
}

/// The platform's bundle signing keys (a JWK set): what a device trusts a bundle's
/// signature with.
#[utoipa::path(get, path = "/bundles/keys", tag = "offline", security(()),
    responses((status = 200, description = "The keys", body = KeySet)))]
async fn keys(State(state): State<AppState>) -> Json<KeySet> {
    Json(offline::key_set(&state))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_device))
        .routes(routes!(check_in))
        .routes(routes!(issue))
        .routes(routes!(content))
        .routes(routes!(revoke))
        .routes(routes!(keys))
}
