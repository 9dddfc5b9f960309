//! Catalog reads. Every answer carries an `ETag` (the SHA-256 of its body); a request
//! whose `If-None-Match` names it gets a 304 without the body.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use mirai_contracts::ids::CourseId;
use mirai_kit::{AppError, Path, Principal, Query, error::Problem};
use serde::Serialize;
use sha2::Digest;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Entry, EntryPage, ListParams},
};

/// JSON with a strong ETag of its bytes, or 304 when the client holds it already.
fn cached<T: Serialize>(headers: &HeaderMap, value: &T) -> Response {
    let body = serde_json::to_vec(value).expect("json serializes");
    let etag = format!("\"{}\"", hex::encode(&sha2::Sha256::digest(&body)[..16]));
    let held = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*"));
    let mut res = if held {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    res.headers_mut().insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    res
}

/// The catalog as the caller's tenant sees it: public courses and its own.
#[utoipa::path(get, path = "/courses", tag = "catalog", params(ListParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of entries; `ETag` of the page", body = EntryPage),
              (status = 304, description = "Unchanged since the ETag in If-None-Match"),
              (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json")))]
async fn list_courses(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    Ok(cached(&headers, &app::list(&state, &principal, params).await?))
}

/// One course of the catalog, with its outline.
#[utoipa::path(get, path = "/courses/{course_id}", tag = "catalog", params(("course_id" = uuid::Uuid, Path, description = "The course")), security(("bearer" = [])),
    responses((status = 200, description = "The entry; `ETag`", body = Entry),
              (status = 304, description = "Unchanged since the ETag in If-None-Match"),
              (status = 404, description = "Not in this tenant's catalog", body = Problem, content_type = "application/problem+json")))]
async fn get_course(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<CourseId>,
) -> Result<Response, AppError> {
    Ok(cached(&headers, &app::get(&state, &principal, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_courses)).routes(routes!(get_course))
}
