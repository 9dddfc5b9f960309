//! content's HTTP surface under `/api/v1/content`.

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use mirai_contracts::ids::{CourseId, PackageId};
use mirai_kit::{
    AppError, Path, Principal, Query,
    error::Problem,
    pagination::{Page, PageParams},
};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{self, Package},
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Mirai content", version = "1.0.0", description = "SCORM 1.2, SCORM 2004 and cmi5 packages: safe import into course structure, and SCORM 1.2 export of published course versions."),
    components(schemas(mirai_kit::error::Problem)),
    tags((name = "content", description = "Packages in and out.")),
)]
struct ApiDoc;

/// Where an import's lessons go.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// A draft course of the tenant to add the package's lessons to (as new modules);
    /// without it, authoring makes a new draft course of them.
    pub course_id: Option<uuid::Uuid>,
}

/// Import a SCORM 1.2, SCORM 2004 (2nd–4th edition) or cmi5 package: the zip is the
/// body (`Content-Type: application/zip`, or `application/octet-stream`). Unzipped safely, its manifest read, its files
/// stored; authoring turns the structure into draft lessons (`content.package.imported.v1`).
/// The same bytes again answer the package already imported (200).
#[utoipa::path(post, path = "/packages", tag = "content", params(ImportParams), security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The package zip (sent as application/zip or application/octet-stream)"),
    responses((status = 201, description = "Imported", body = Package),
              (status = 200, description = "These bytes were imported before: that package", body = Package),
              (status = 403, description = "Not an author", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "Larger than the package limit", body = Problem, content_type = "application/problem+json"),
              (status = 415, description = "Not application/zip or application/octet-stream", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Not importable: traversal, link, bomb, limits, or a broken manifest (the reason is in `detail`)", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "As many imports as this instance runs at once are running; `Retry-After`", body = Problem, content_type = "application/problem+json"),
              (status = 507, description = "The tenant's package storage quota would be exceeded", body = Problem, content_type = "application/problem+json")))]
async fn import_package(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<ImportParams>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, AppError> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = kind.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(essence.as_str(), "application/zip" | "application/x-zip-compressed" | "application/octet-stream") {
        return Err(AppError::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("send the package zip as the body with Content-Type: application/zip (not `{kind}`)"),
        ));
    }
    let _slot = app::import_slot(&state, &principal)?;
    let max = state.limits.max_package;
    let body: Bytes =
        axum::body::to_bytes(body, max as usize).await.map_err(|e| mirai_kit::extract::body_read_error(&e))?;
    let (created, package) = app::import(&state, &principal, body, params.course_id.map(CourseId::from)).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, axum::Json(package)).into_response())
}

/// One imported package.
#[utoipa::path(get, path = "/packages/{package_id}", tag = "content", params(("package_id" = uuid::Uuid, Path, description = "The package")), security(("bearer" = [])),
    responses((status = 200, description = "The package", body = Package),
              (status = 404, description = "No such package in this tenant", body = Problem, content_type = "application/problem+json")))]
async fn get_package(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<PackageId>,
) -> Result<axum::Json<Package>, AppError> {
    Ok(axum::Json(app::get(&state, &principal, id).await?))
}

/// The tenant's imported packages, newest first.
#[utoipa::path(get, path = "/packages", tag = "content", params(PageParams), security(("bearer" = [])),
    responses((status = 200, description = "A page of packages", body = Page<Package>),
              (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json")))]
async fn list_packages(
    State(state): State<AppState>,
    principal: Principal,
    Query(page): Query<PageParams>,
) -> Result<axum::Json<Page<Package>>, AppError> {
    Ok(axum::Json(app::list(&state, &principal, &page).await?))
}

/// A published course version as a SCORM 1.2 package, for an LMS elsewhere.
#[utoipa::path(get, path = "/courses/{course_id}/versions/{version}/scorm12", tag = "content",
    params(("course_id" = uuid::Uuid, Path, description = "The course"), ("version" = i32, Path, description = "The published version")),
    security(("bearer" = [])),
    responses((status = 200, description = "The zip", content_type = "application/zip"),
              (status = 404, description = "No such published version in this tenant (yet)", body = Problem, content_type = "application/problem+json")))]
async fn export_scorm12(
    State(state): State<AppState>,
    principal: Principal,
    Path((course, version)): Path<(CourseId, i32)>,
) -> Result<Response, AppError> {
    let (name, zip) = app::export_scorm12(&state, &principal, course, version).await?;
    let mut res = (StatusCode::OK, [(header::CONTENT_TYPE, "application/zip")], zip).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

pub fn routes() -> OpenApiRouter<AppState> {
    // A package is larger than the fleet's JSON body limit: the import reads its body up
    // to the package limit itself (MIRAI_CONTENT__MAX_PACKAGE_BYTES).
    let import = OpenApiRouter::new().routes(routes!(import_package, list_packages)).layer(DefaultBodyLimit::disable());
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(import)
        .routes(routes!(get_package))
        .routes(routes!(export_scorm12))
}
