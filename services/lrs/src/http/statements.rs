//! The Statements resource: PUT (with `statementId`), POST (one or an array), GET (one by
//! `statementId` / `voidedStatementId`, or a filtered, paged query).

use axum::{
    extract::{RawQuery, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use mirai_contracts::ids::StatementId;
use mirai_kit::{AppError, Json, Principal, Query, error::Problem};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{
        bad,
        format::{self, Format},
        multipart::{self, Part},
        statement::{self, XapiVersion, format_ts},
        statements::{self, Caller},
    },
    store::statements::Filter,
};

fn version(req: &axum::http::Extensions) -> XapiVersion {
    req.get::<XapiVersion>().copied().unwrap_or(XapiVersion::V103)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PutParams {
    #[serde(rename = "statementId")]
    statement_id: String,
}

/// Store one statement under `statementId` (204; an identical resend is also 204, a
/// different statement under the same id 409).
#[utoipa::path(put, path = "/xapi/statements", tag = "xapi", params(PutParams), request_body = Value, security(("basic" = []), ("bearer" = [])),
    responses((status = 204, description = "Stored"),
              (status = 400, description = "Invalid statement", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Id taken by a different statement", body = Problem, content_type = "application/problem+json")))]
async fn put_statement(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<PutParams>,
    req: Request,
) -> Result<StatusCode, AppError> {
    let v = version(req.extensions());
    // The client's id, of whatever UUID version it chose: wrapped, never replaced.
    let id = StatementId::from(
        statement::parse_uuid(&params.statement_id).ok_or_else(|| bad("statementId must be a UUID"))?,
    );
    let (body, parts) = statement_body(req).await?;
    if body.is_array() {
        return Err(bad("PUT takes a single statement"));
    }
    let caller = Caller::from(&state, &principal, true)?;
    statements::store(&state, &caller, v, vec![body], Some(id), parts).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Store one statement or an array of them, all or none; returns their ids in order.
#[utoipa::path(post, path = "/xapi/statements", tag = "xapi", request_body = Value, security(("basic" = []), ("bearer" = [])),
    responses((status = 200, description = "Statement ids", body = Vec<String>),
              (status = 400, description = "An invalid statement; nothing stored", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "An id taken by a different statement", body = Problem, content_type = "application/problem+json")))]
async fn post_statements(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
    req: Request,
) -> Result<Json<Vec<String>>, AppError> {
    // Communication 3.2: a parameter the resource does not recognise is a 400 (a POST
    // takes none; a statementId belongs to a PUT).
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let name = q.split('&').next().and_then(|kv| kv.split('=').next()).unwrap_or(&q).to_owned();
        return Err(bad(format!("POST /statements takes no parameters (got `{name}`)")));
    }
    let v = version(req.extensions());
    let (body, parts) = statement_body(req).await?;
    let batch = match body {
        Value::Array(items) => items,
        single => vec![single],
    };
    let caller = Caller::from(&state, &principal, true)?;
    let ids = statements::store(&state, &caller, v, batch, None, parts).await?;
    Ok(Json(ids.iter().map(StatementId::to_string).collect()))
}

/// The statement JSON, and the attachment parts when the request is `multipart/mixed`.
async fn statement_body(req: Request) -> Result<(Value, Vec<Part>), AppError> {
    let raw_ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let ct = raw_ct.to_lowercase();
    let bytes = axum::body::to_bytes(req.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|e| mirai_kit::extract::body_read_error(&e))?;
    let (json, parts) = if ct.starts_with("multipart/mixed") {
        let boundary = multipart::boundary(&raw_ct).ok_or_else(|| bad("multipart/mixed needs a boundary"))?;
        multipart::parse(&bytes, &boundary).map_err(bad)?
    } else if ct.starts_with("application/json") {
        (bytes.to_vec(), vec![])
    } else {
        return Err(bad("statements are sent as application/json or multipart/mixed"));
    };
    let value = crate::app::strict_json::parse(&json).map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
    Ok((value, parts))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GetParams {
    #[serde(rename = "statementId")]
    statement_id: Option<String>,
    #[serde(rename = "voidedStatementId")]
    voided_statement_id: Option<String>,
    /// JSON of an Agent or identified Group.
    agent: Option<String>,
    verb: Option<String>,
    activity: Option<String>,
    registration: Option<String>,
    related_activities: Option<bool>,
    related_agents: Option<bool>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<i64>,
    /// `exact` (default), `ids` or `canonical`.
    format: Option<String>,
    attachments: Option<bool>,
    ascending: Option<bool>,
    /// The cursor from a previous page's `more`.
    more: Option<String>,
}

/// One statement, or a filtered page of statements with a `more` link.
#[utoipa::path(get, path = "/xapi/statements", tag = "xapi", params(GetParams), security(("basic" = []), ("bearer" = [])),
    responses((status = 200, description = "A statement, or {statements, more}", body = Value),
              (status = 400, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such statement", body = Problem, content_type = "application/problem+json")))]
async fn get_statements(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(p): Query<GetParams>,
) -> Result<Response, AppError> {
    let caller = Caller::from(&state, &principal, false)?;
    let fmt = Format::parse(p.format.as_deref()).map_err(bad)?;
    let with_attachments = p.attachments == Some(true);
    let langs = format::languages(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let single = match (&p.statement_id, &p.voided_statement_id) {
        (Some(_), Some(_)) => return Err(bad("send statementId or voidedStatementId, not both")),
        (Some(id), None) => Some((id, false)),
        (None, Some(id)) => Some((id, true)),
        (None, None) => None,
    };
    if let Some((id, voided)) = single {
        let others = [
            p.agent.is_some(),
            p.verb.is_some(),
            p.activity.is_some(),
            p.registration.is_some(),
            p.related_activities.is_some(),
            p.related_agents.is_some(),
            p.since.is_some(),
            p.until.is_some(),
            p.limit.is_some(),
            p.ascending.is_some(),
            p.more.is_some(),
        ];
        if others.into_iter().any(|x| x) {
            return Err(bad("statementId and voidedStatementId take no other parameters than format and attachments"));
        }
        let id = StatementId::from(statement::parse_uuid(id).ok_or_else(|| bad("statementId must be a UUID"))?);
        let read = statements::get(&state, &caller, id, voided).await?;
        let (consistent, (body, stored)) = (read.consistent_through, read.found);
        let hashes = statements::attachment_hashes(&body, true);
        let mut res = respond(&state, &caller, format::apply(body, fmt, &langs), hashes, with_attachments).await?;
        set_headers(&mut res, consistent, Some(stored));
        return Ok(res);
    }
    let parse_time = |s: &Option<String>, name: &str| -> Result<Option<DateTime<Utc>>, AppError> {
        s.as_deref().map(|t| statement::timestamp(t).map_err(|e| bad(format!("{name}: {e}")))).transpose()
    };
    let filter = Filter {
        agent: p
            .agent
            .as_deref()
            .map(|a| {
                let v: Value = serde_json::from_str(a).map_err(|_| bad("agent must be JSON of an Agent or Group"))?;
                statement::agent_ifi(&v).map_err(bad)
            })
            .transpose()?,
        related_agents: p.related_agents.unwrap_or(false),
        verb: p
            .verb
            .map(|v| if statement::is_iri(&v) { Ok(v) } else { Err(bad("verb must be an IRI")) })
            .transpose()?,
        activity: p
            .activity
            .map(|a| if statement::is_iri(&a) { Ok(a) } else { Err(bad("activity must be an IRI")) })
            .transpose()?,
        related_activities: p.related_activities.unwrap_or(false),
        registration: p
            .registration
            .as_deref()
            .map(|r| statement::parse_uuid(r).ok_or_else(|| bad("registration must be a UUID")))
            .transpose()?,
        since: parse_time(&p.since, "since")?,
        until: parse_time(&p.until, "until")?,
        mine: None,
        ascending: p.ascending.unwrap_or(false),
        after: None,
        through: None,
    };
    let limit = p.limit.unwrap_or(0);
    if limit < 0 {
        return Err(bad("limit must be 0 (server maximum) or more"));
    }
    let read = statements::query(&state, &caller, filter, limit, p.more.as_deref()).await?;
    let (consistent, (rows, next)) = (read.consistent_through, read.found);
    let more = next.map(|cursor| more_url(raw.as_deref().unwrap_or(""), &cursor)).unwrap_or_default();
    // Last-Modified of a result set: the newest `stored` in it.
    let newest = rows
        .iter()
        .filter_map(|s| s["stored"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()))
        .map(|t| t.with_timezone(&Utc))
        .max();
    let hashes: Vec<String> = rows.iter().flat_map(|s| statements::attachment_hashes(s, true)).collect();
    let list: Vec<Value> = rows.into_iter().map(|s| format::apply(s, fmt, &langs)).collect();
    let mut res =
        respond(&state, &caller, json!({ "statements": list, "more": more }), hashes, with_attachments).await?;
    set_headers(&mut res, consistent, newest);
    Ok(res)
}

/// JSON, or with `attachments=true` a multipart/mixed body with the attachments' content.
async fn respond(
    state: &AppState,
    caller: &Caller,
    json: Value,
    hashes: Vec<String>,
    with: bool,
) -> Result<Response, AppError> {
    if !with {
        return Ok(axum::Json(json).into_response());
    }
    let parts = statements::attachments(state, caller, hashes).await?;
    let (ct, body) = multipart::build(&serde_json::to_vec(&json).expect("json serializes"), &parts);
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(&ct).expect("boundary is ASCII"));
    Ok(res)
}

/// The `more` IRL: this request's query with the cursor replaced.
fn more_url(query: &str, cursor: &str) -> String {
    let kept: Vec<&str> = query.split('&').filter(|kv| !kv.is_empty() && !kv.starts_with("more=")).collect();
    let mut q = kept.join("&");
    if !q.is_empty() {
        q.push('&');
    }
    format!("/api/v1/lrs/xapi/statements?{q}more={cursor}")
}

fn set_headers(res: &mut Response, consistent: DateTime<Utc>, last_modified: Option<DateTime<Utc>>) {
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format_ts(consistent)) {
        h.insert("x-experience-api-consistent-through", v);
    }
    if let Some(t) = last_modified
        && let Ok(v) = HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        h.insert(header::LAST_MODIFIED, v);
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_statement, post_statements, get_statements))
}
