//! cmi5: the fetch URL and the xAPI endpoint an AU session talks to (ADR 0016). No
//! bearer here: the fetch URL's address is its capability, and the endpoint takes only
//! the auth token the fetch answered (`Authorization: Basic <auth-token>`). Any origin
//! may call them (an AU may be hosted anywhere): no cookie is ever involved.

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use mirai_kit::{AppError, Path, error::Problem};
use serde_json::json;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::cmi5::{self, Doc, DocQuery},
};

const VERSION: &str = "1.0.3";

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
}

/// xAPI 1.0.3: every request names the version it speaks (a 1.0.x).
fn version(headers: &HeaderMap) -> Result<(), AppError> {
    match headers.get("x-experience-api-version").and_then(|v| v.to_str().ok()) {
        Some(v) if v.trim().starts_with("1.0") => Ok(()),
        _ => Err(AppError::client(
            StatusCode::BAD_REQUEST,
            "xapi-bad-request",
            "Invalid xAPI request",
            "send `X-Experience-API-Version: 1.0.3`".to_owned(),
        )),
    }
}

fn query(raw: Option<String>) -> Result<DocQuery, AppError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).map_err(|e| {
        AppError::client(StatusCode::BAD_REQUEST, "xapi-bad-request", "Invalid xAPI request", e.to_string())
    })?;
    Ok(DocQuery::from_pairs(pairs))
}

/// Every answer of the endpoint says its xAPI version, and is nobody's to cache.
fn xapi(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert("x-experience-api-version", HeaderValue::from_static(VERSION));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn answer(r: Result<Response, AppError>) -> Response {
    xapi(r.unwrap_or_else(IntoResponse::into_response))
}

fn doc(d: Doc) -> Response {
    match d {
        Doc::One { content_type, content, updated_at } => {
            let mut res = content.into_response();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                res.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&updated_at.to_rfc2822().replace("+0000", "GMT")) {
                res.headers_mut().insert(header::LAST_MODIFIED, v);
            }
            res
        }
        Doc::Ids(ids) => axum::Json(ids).into_response(),
    }
}

/// cmi5's fetch URL (POST only): the AU session's auth token the first time; every later
/// call, an unknown or an expired URL, a 200 with cmi5's `error-code` and `error-text`.
#[utoipa::path(post, path = "/cmi5/fetch/{token}", tag = "cmi5",
    params(("token" = String, Path, description = "The fetch URL's capability")), security(()),
    responses((status = 200, description = "`{\"auth-token\": …}`, or `{\"error-code\": \"1\"|\"2\"|\"3\", \"error-text\": …}`", body = Object)))]
async fn fetch(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, AppError> {
    let body = cmi5::fetch(&state, &token).await?;
    let mut res = axum::Json(body).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// xAPI's About resource of the AU's endpoint.
#[utoipa::path(get, path = "/cmi5/xapi/about", tag = "cmi5", security(()),
    responses((status = 200, description = "The xAPI versions spoken", body = Object)))]
async fn about() -> Response {
    xapi(axum::Json(json!({ "version": [VERSION] })).into_response())
}

/// An AU's statements (one, or an array): each checked against xAPI and cmi5's rules,
/// kept, and recorded through the outbox with the `satisfied` statements it causes, in
/// one transaction. The ids, in order. A retried statement (same id and content) is
/// answered again, not recorded twice.
#[utoipa::path(post, path = "/cmi5/xapi/statements", tag = "cmi5", security(("cmi5" = [])),
    params(("X-Experience-API-Version" = String, Header, description = "1.0.3")),
    request_body(content = Object, description = "A statement or an array of statements"),
    responses((status = 200, description = "The statements' ids", body = Vec<String>),
              (status = 400, description = "Not a valid xAPI statement", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "No valid auth token", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "A cmi5 rule refuses it (the detail names the requirement), or the session ended", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A statement id sent before with other content", body = Problem, content_type = "application/problem+json")))]
async fn post_statements(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(
        async {
            version(&headers)?;
            let ids = cmi5::statements(&state, authorization(&headers), None, &body).await?;
            Ok(axum::Json(ids).into_response())
        }
        .await,
    )
}

/// One statement under its id (`statementId`).
#[utoipa::path(put, path = "/cmi5/xapi/statements", tag = "cmi5", security(("cmi5" = [])),
    params(("statementId" = String, Query, description = "The statement's id"),
           ("X-Experience-API-Version" = String, Header, description = "1.0.3")),
    request_body(content = Object, description = "A statement"),
    responses((status = 204, description = "Kept"),
              (status = 400, description = "Not a valid xAPI statement", body = Problem, content_type = "application/problem+json"),
              (status = 401, description = "No valid auth token", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "A cmi5 rule refuses it", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The id was sent before with other content", body = Problem, content_type = "application/problem+json")))]
async fn put_statement(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    answer(
        async {
            version(&headers)?;
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
            let id = pairs.iter().find(|(k, _)| k == "statementId").map(|(_, v)| v.clone()).ok_or_else(|| {
                AppError::client(
                    StatusCode::BAD_REQUEST,
                    "xapi-bad-request",
                    "Invalid xAPI request",
                    "PUT names statementId",
                )
            })?;
            cmi5::statements(&state, authorization(&headers), Some(&id), &body).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// Reading statements is not the AU's: the LRS answers it (`/api/v1/lrs/xapi`).
#[utoipa::path(get, path = "/cmi5/xapi/statements", tag = "cmi5", security(("cmi5" = [])),
    responses((status = 403, description = "The AU's token writes only", body = Problem, content_type = "application/problem+json")))]
async fn get_statements() -> Response {
    xapi(
        AppError::Forbidden("an AU session's token sends statements; read them from the LRS (/api/v1/lrs/xapi)".into())
            .into_response(),
    )
}

/// A State document of the AU (`stateId`), or the ids of the activity's. LMS.LaunchData
/// is here, written by the platform at launch.
#[utoipa::path(get, path = "/cmi5/xapi/activities/state", tag = "cmi5", security(("cmi5" = [])),
    params(("activityId" = String, Query, description = "The activity"), ("agent" = String, Query, description = "The launch's actor (JSON)"),
           ("registration" = Option<String>, Query, description = "The launch's registration"),
           ("stateId" = Option<String>, Query, description = "The document; without it, the ids"),
           ("since" = Option<String>, Query, description = "Only ids of documents changed after this time")),
    responses((status = 200, description = "The document as stored, or an array of ids"),
              (status = 403, description = "Another agent or registration than the launch's", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such document", body = Problem, content_type = "application/problem+json")))]
async fn get_state(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    answer(
        async {
            version(&headers)?;
            Ok(doc(cmi5::state_get(&state, authorization(&headers), query(raw)?).await?))
        }
        .await,
    )
}

async fn write_state(state: AppState, headers: HeaderMap, raw: Option<String>, body: Bytes, merge: bool) -> Response {
    answer(
        async {
            version(&headers)?;
            let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
            cmi5::state_write(&state, authorization(&headers), query(raw)?, merge, kind, &body).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// Stores a State document of the AU (replacing it). LMS.LaunchData is refused (403).
#[utoipa::path(put, path = "/cmi5/xapi/activities/state", tag = "cmi5", security(("cmi5" = [])),
    params(("activityId" = String, Query, description = "The activity"), ("agent" = String, Query, description = "The launch's actor (JSON)"),
           ("registration" = Option<String>, Query, description = "The launch's registration"), ("stateId" = String, Query, description = "The document")),
    request_body(content = Vec<u8>, description = "The document, any type"),
    responses((status = 204, description = "Stored"),
              (status = 403, description = "LMS.LaunchData, or another agent or registration", body = Problem, content_type = "application/problem+json")))]
async fn put_state(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    write_state(state, headers, raw, body, false).await
}

/// Merges a JSON object into a State document of the AU. LMS.LaunchData is refused (403).
#[utoipa::path(post, path = "/cmi5/xapi/activities/state", tag = "cmi5", security(("cmi5" = [])),
    params(("activityId" = String, Query, description = "The activity"), ("agent" = String, Query, description = "The launch's actor (JSON)"),
           ("registration" = Option<String>, Query, description = "The launch's registration"), ("stateId" = String, Query, description = "The document")),
    request_body(content = Object, description = "A JSON object"),
    responses((status = 204, description = "Merged"),
              (status = 400, description = "Not JSON objects", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "LMS.LaunchData, or another agent or registration", body = Problem, content_type = "application/problem+json")))]
async fn post_state(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    write_state(state, headers, raw, body, true).await
}

/// Deletes a State document of the AU, or all of the activity's but LMS.LaunchData.
#[utoipa::path(delete, path = "/cmi5/xapi/activities/state", tag = "cmi5", security(("cmi5" = [])),
    params(("activityId" = String, Query, description = "The activity"), ("agent" = String, Query, description = "The launch's actor (JSON)"),
           ("registration" = Option<String>, Query, description = "The launch's registration"), ("stateId" = Option<String>, Query, description = "The document")),
    responses((status = 204, description = "Deleted"),
              (status = 403, description = "LMS.LaunchData, or another agent or registration", body = Problem, content_type = "application/problem+json")))]
async fn delete_state(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    answer(
        async {
            version(&headers)?;
            cmi5::state_delete(&state, authorization(&headers), query(raw)?).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// The learner's preferences (`profileId=cmi5LearnerPreferences`): the platform keeps
/// none, so 404 (the AU goes on with its defaults); without `profileId`, no ids.
#[utoipa::path(get, path = "/cmi5/xapi/agents/profile", tag = "cmi5", security(("cmi5" = [])),
    params(("agent" = String, Query, description = "The launch's actor (JSON)"), ("profileId" = Option<String>, Query, description = "The document")),
    responses((status = 200, description = "The ids (none)", body = Vec<String>),
              (status = 403, description = "Another agent than the launch's", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such document", body = Problem, content_type = "application/problem+json")))]
async fn get_profile(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    answer(
        async {
            version(&headers)?;
            Ok(doc(cmi5::profile_get(&state, authorization(&headers), query(raw)?).await?))
        }
        .await,
    )
}

async fn write_profile(state: AppState, headers: HeaderMap) -> Response {
    answer(
        async {
            version(&headers)?;
            cmi5::profile_write(&state, authorization(&headers)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        .await,
    )
}

/// The learner's preferences are the platform's: writes are refused (cmi5 11).
#[utoipa::path(put, path = "/cmi5/xapi/agents/profile", tag = "cmi5", security(("cmi5" = [])),
    responses((status = 403, description = "Refused", body = Problem, content_type = "application/problem+json")))]
async fn put_profile(State(state): State<AppState>, headers: HeaderMap) -> Response {
    write_profile(state, headers).await
}

/// The learner's preferences are the platform's: writes are refused (cmi5 11).
#[utoipa::path(post, path = "/cmi5/xapi/agents/profile", tag = "cmi5", security(("cmi5" = [])),
    responses((status = 403, description = "Refused", body = Problem, content_type = "application/problem+json")))]
async fn post_profile(State(state): State<AppState>, headers: HeaderMap) -> Response {
    write_profile(state, headers).await
}

/// The learner's preferences are the platform's: writes are refused (cmi5 11).
#[utoipa::path(delete, path = "/cmi5/xapi/agents/profile", tag = "cmi5", security(("cmi5" = [])),
    responses((status = 403, description = "Refused", body = Problem, content_type = "application/problem+json")))]
async fn delete_profile(State(state): State<AppState>, headers: HeaderMap) -> Response {
    write_profile(state, headers).await
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(fetch))
        .routes(routes!(about))
        .routes(routes!(post_statements, put_statement, get_statements))
        .routes(routes!(get_state, put_state, post_state, delete_state))
        .routes(routes!(get_profile, put_profile, post_profile, delete_profile))
}
