//! The SCORM runtime: a learner launches the package of a lesson (bearer), and the player
//! page it answers with works by its address alone (the runtime's capability): the page,
//! its adapter, the package's files and the adapter's commits.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use mirai_blobs::object_store::{self, ObjectStoreExt, path::Path as StorePath};
use mirai_contracts::ids::{LessonId, PlaySessionId};
use mirai_kit::{AppError, Json, Path, Principal, error::Problem};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::runtime::{self, Attempt, Commit, Committed, Launched},
    scorm::Version,
};

const ADAPTER: &str = include_str!("../../assets/scorm-adapter.js");

/// Launch the SCORM package a lesson holds: 201 with a new attempt, 200 resuming the
/// open or suspended one. Open `player_url` in a frame or window: it serves the SCORM
/// adapter and the SCO, and needs no cookie or header (its address is the capability,
/// valid for 8 hours and until the next launch). 409 `no-package` for a lesson without
/// a package block; 409 `runtime-unsupported` for a cmi5 package.
#[utoipa::path(post, path = "/sessions/{session_id}/lessons/{lesson_id}/runtime", tag = "runtime",
    params(("session_id" = uuid::Uuid, Path, description = "The session"), ("lesson_id" = uuid::Uuid, Path, description = "A lesson holding a package block")),
    security(("bearer" = [])),
    responses((status = 201, description = "A new attempt", body = Launched),
              (status = 200, description = "The open or suspended attempt resumed", body = Launched),
              (status = 403, description = "The enrollment ended", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such session or lesson", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "No package here, or not one this runtime plays, or not in the player yet", body = Problem, content_type = "application/problem+json")))]
async fn launch_runtime(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, lesson)): Path<(PlaySessionId, LessonId)>,
) -> Result<(StatusCode, Json<Launched>), AppError> {
    let (l, new) = runtime::open(&state, &principal, id, lesson).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(l)))
}

/// The caller's attempts of a lesson's package, newest first: status, score, total time
/// and the data model as committed.
#[utoipa::path(get, path = "/sessions/{session_id}/lessons/{lesson_id}/attempts", tag = "runtime",
    params(("session_id" = uuid::Uuid, Path, description = "The session"), ("lesson_id" = uuid::Uuid, Path, description = "A lesson")),
    security(("bearer" = [])),
    responses((status = 200, description = "The attempts", body = Vec<Attempt>),
              (status = 404, description = "No such session", body = Problem, content_type = "application/problem+json")))]
async fn list_attempts(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, lesson)): Path<(PlaySessionId, LessonId)>,
) -> Result<Json<Vec<Attempt>>, AppError> {
    Ok(Json(runtime::attempts(&state, &principal, id, lesson).await?))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Headers of everything a runtime serves: its address is a capability, so no referrer
/// carries it elsewhere.
fn private(res: &mut Response, cache: &'static str) {
    let h = res.headers_mut();
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// The player page: the adapter, the attempt's data model and rules, and the SCO in a
/// frame below it (where SCORM's API discovery finds the adapter in a parent window).
#[utoipa::path(get, path = "/runtime/{token}/player", tag = "runtime",
    params(("token" = String, Path, description = "The runtime's capability, from `player_url`")), security(()),
    responses((status = 200, description = "The player page", content_type = "text/html"),
              (status = 403, description = "Expired", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such runtime (or replaced by a later launch)", body = Problem, content_type = "application/problem+json")))]
async fn player_page(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, AppError> {
    let page = runtime::page(&state, &token).await?;
    let config = serde_json::json!({
        "version": page.version,
        "rules": page.version.rules(),
        "values": page.values,
        "seq": page.seq,
    });
    // JSON inside a script element: no `<` may close it.
    let config = serde_json::to_string(&config).map_err(|e| AppError::Internal(e.into()))?.replace('<', "\\u003c");
    let api = match page.version {
        Version::Scorm12 => "API",
        Version::Scorm2004 => "API_1484_11",
    };
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>html,body{{margin:0;height:100%}}iframe{{border:0;width:100%;height:100%;display:block}}</style>\
         <script>window.MIRAI_RUNTIME = {config};</script><script src=\"../adapter.js\"></script></head>\
         <body data-api=\"{api}\"><iframe name=\"sco\" title=\"{title}\" src=\"content/{launch}\"></iframe></body></html>",
        title = escape(&page.title),
        launch = escape(&page.launch),
    );
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    private(&mut res, "no-store");
    Ok(res)
}

/// The SCORM adapter (1.2 and 2004), the same for every runtime (its address carries no
/// capability, so caches may keep it).
#[utoipa::path(get, path = "/runtime/adapter.js", tag = "runtime", security(()),
    responses((status = 200, description = "The adapter", content_type = "text/javascript")))]
async fn adapter() -> Response {
    let mut res = ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], ADAPTER).into_response();
    private(&mut res, "public, max-age=300");
    res
}

/// A file of the package the runtime plays (its path relative to the package root).
#[utoipa::path(get, path = "/runtime/{token}/content/{path}", tag = "runtime",
    params(("token" = String, Path, description = "The runtime's capability"),
           ("path" = String, Path, description = "The file's path in the package (it contains slashes)")),
    security(()),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
              (status = 403, description = "Expired", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such runtime or file", body = Problem, content_type = "application/problem+json")))]
pub async fn package_file(
    State(state): State<AppState>,
    Path((token, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let key = runtime::file_key(&state, &token, &path).await?;
    let got = match state.blobs.store().get(&StorePath::from(key.as_str())).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Err(AppError::not_found("file", &path)),
        Err(e) => return Err(mirai_blobs::unavailable(e)),
    };
    let etag = got.meta.e_tag.clone();
    if let (Some(tag), Some(want)) = (&etag, headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()))
        && want.trim_matches('"') == tag.trim_matches('"')
    {
        let mut res = StatusCode::NOT_MODIFIED.into_response();
        private(&mut res, "private, max-age=300");
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", tag.trim_matches('"'))) {
            res.headers_mut().insert(header::ETAG, v);
        }
        return Ok(res);
    }
    let size = got.meta.size;
    let kind = mime_guess::from_path(&path).first_raw().unwrap_or("application/octet-stream");
    let mut res = Body::from_stream(got.into_stream()).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(&format!("\"{}\"", t.trim_matches('"'))).ok()) {
        h.insert(header::ETAG, tag);
    }
    private(&mut res, "private, max-age=300");
    Ok(res)
}

/// The adapter's commit (`Initialize`, `Commit`, `Terminate`, or the page closing): the
/// values set since the last acknowledged commit, checked against the data model and
/// kept; what they amount to recorded as xAPI. A retry of an applied commit answers the
/// same without applying it again. 422 `scorm-value-refused` names the element and the
/// SCORM error code; 409 `runtime-terminated` after `Terminate`.
#[utoipa::path(post, path = "/runtime/{token}/commit", tag = "runtime",
    params(("token" = String, Path, description = "The runtime's capability")), request_body = Commit, security(()),
    responses((status = 200, description = "Kept: the data model as the server holds it", body = Committed),
              (status = 403, description = "Expired, or the enrollment ended", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such runtime (or replaced by a later launch)", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The runtime session terminated", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A value the data model refuses", body = Problem, content_type = "application/problem+json")))]
async fn commit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(c): Json<Commit>,
) -> Result<Response, AppError> {
    let mut res = Json(runtime::commit(&state, &token, c).await?).into_response();
    private(&mut res, "no-store");
    Ok(res)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(launch_runtime))
        .routes(routes!(list_attempts))
        .routes(routes!(player_page))
        .routes(routes!(adapter))
        .routes(routes!(commit))
        // A file's path spans segments: a wildcard route, documented as `/content/{path}`.
        .route("/runtime/{token}/content/{*path}", get(package_file))
}
