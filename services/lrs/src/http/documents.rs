//! The document resources (State, Activity Profile, Agent Profile) and the Activities and
//! Agents resources.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use mirai_kit::{AppError, Principal, Query, error::Problem};
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    AppState,
    app::{
        access, bad,
        documents::{self, Preconditions},
        statement::{self, XapiVersion},
    },
    store::documents::DocKey,
};

type Params = HashMap<String, String>;

/// The longest `stateId` / `profileId`, in bytes: the id is part of the documents'
/// primary key, whose index rows must fit in a third of a page.
pub const MAX_DOC_ID: usize = 1024;

/// Which parameters a resource takes: (required, optional).
fn allowed(kind: &str) -> (&'static [&'static str], &'static [&'static str], &'static str) {
    match kind {
        "state" => (&["activityId", "agent"], &["registration", "stateId", "since"], "stateId"),
        "activity_profile" => (&["activityId"], &["profileId", "since"], "profileId"),
        _ => (&["agent"], &["profileId", "since"], "profileId"),
    }
}

struct Parsed {
    key: DocKey,
    has_id: bool,
    since: Option<DateTime<Utc>>,
}

fn parse(kind: &'static str, p: &Params) -> Result<Parsed, AppError> {
    let (required, optional, id_param) = allowed(kind);
    if let Some(k) = p.keys().find(|k| !required.contains(&k.as_str()) && !optional.contains(&k.as_str())) {
        return Err(bad(format!("unknown parameter `{k}`")));
    }
    if let Some(r) = required.iter().find(|r| !p.contains_key(**r)) {
        return Err(bad(format!("`{r}` is required")));
    }
    let activity_id = match p.get("activityId") {
        Some(a) if statement::is_iri(a) => a.clone(),
        Some(_) => return Err(bad("activityId must be an IRI")),
        None => String::new(),
    };
    let agent = match p.get("agent") {
        Some(a) => {
            let v: Value = serde_json::from_str(a).map_err(|_| bad("agent must be JSON of an Agent"))?;
            statement::agent_ifi(&v).map_err(bad)?
        }
        None => String::new(),
    };
    let registration = match p.get("registration") {
        Some(r) => statement::parse_uuid(r).ok_or_else(|| bad("registration must be a UUID"))?.to_string(),
        None => String::new(),
    };
    let since = p.get("since").map(|s| statement::timestamp(s).map_err(|e| bad(format!("since: {e}")))).transpose()?;
    let doc_id = p.get(id_param).cloned().unwrap_or_default();
    // Document ids are returned as they are, so they cannot be hashed into the key.
    if doc_id.len() > MAX_DOC_ID {
        return Err(bad(format!("{id_param} is {} bytes; this LRS takes at most {MAX_DOC_ID}", doc_id.len())));
    }
    Ok(Parsed {
        key: DocKey { kind, activity_id, agent, registration, doc_id },
        has_id: p.contains_key(id_param),
        since,
    })
}

fn preconditions(h: &HeaderMap) -> Preconditions {
    let get = |n: header::HeaderName| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Preconditions { if_match: get(header::IF_MATCH), if_none_match: get(header::IF_NONE_MATCH) }
}

fn etag_header(etag: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{etag}\"")).expect("hex is a valid header")
}

async fn doc_get(state: AppState, principal: Principal, kind: &'static str, p: Params) -> Result<Response, AppError> {
    let parsed = parse(kind, &p)?;
    let tenant = documents::authorize(&state.ctx.public_url, &principal, &parsed.key, false)?;
    if !parsed.has_id {
        let ids = documents::ids(&state, tenant, &parsed.key, parsed.since).await?;
        return Ok(axum::Json(ids).into_response());
    }
    if parsed.since.is_some() {
        return Err(bad("since applies to the list of ids, not to one document"));
    }
    let doc = documents::get(&state, tenant, &parsed.key).await?;
    let mut res = (StatusCode::OK, doc.content).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&doc.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::ETAG, etag_header(&doc.etag));
    if let Ok(v) = HeaderValue::from_str(&doc.updated.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    Ok(res)
}

/// PUT replaces (its precondition rules depend on the version); POST merges.
enum WriteMode {
    Replace(XapiVersion),
    Merge,
}

async fn doc_write(
    state: AppState,
    principal: Principal,
    kind: &'static str,
    p: Params,
    headers: HeaderMap,
    body: Bytes,
    mode: WriteMode,
) -> Result<Response, AppError> {
    let parsed = parse(kind, &p)?;
    let tenant = documents::authorize(&state.ctx.public_url, &principal, &parsed.key, true)?;
    if !parsed.has_id || parsed.since.is_some() {
        return Err(bad("writing a document names it (stateId / profileId) and takes no since"));
    }
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/octet-stream");
    let pre = preconditions(&headers);
    let stored = match mode {
        WriteMode::Merge => documents::post(&state, tenant, &parsed.key, &pre, ct, &body).await?,
        WriteMode::Replace(version) => documents::put(&state, tenant, &parsed.key, version, &pre, ct, &body).await?,
    };
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(header::ETAG, etag_header(&stored.etag));
    Ok(res)
}

async fn doc_delete(
    state: AppState,
    principal: Principal,
    kind: &'static str,
    p: Params,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let parsed = parse(kind, &p)?;
    let tenant = documents::authorize(&state.ctx.public_url, &principal, &parsed.key, true)?;
    // `since` filters a list of ids; a DELETE has none (it would widen a single delete
    // into deleting every document).
    if parsed.since.is_some() {
        return Err(bad("since applies to listing document ids, not to DELETE"));
    }
    if !parsed.has_id && kind != "state" {
        return Err(bad("profileId is required"));
    }
    documents::delete(&state, tenant, &parsed.key, !parsed.has_id, &preconditions(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn version(h: &axum::http::Extensions) -> XapiVersion {
    h.get::<XapiVersion>().copied().unwrap_or(XapiVersion::V103)
}

macro_rules! document_resource {
    ($kind:literal, $path:literal, $get:ident, $put:ident, $post:ident, $delete:ident, $what:literal) => {
        #[doc = concat!("Get one ", $what, " document, or the list of their ids.")]
        #[utoipa::path(get, path = $path, tag = "xapi", summary = concat!("Get one ", $what, " document, or the list of their ids"), params(("params" = HashMap<String, String>, Query)), security(("basic" = []), ("bearer" = [])),
            responses((status = 200, description = "The document, or a JSON array of ids"),
                      (status = 404, description = "No such document", body = Problem, content_type = "application/problem+json")))]
        async fn $get(State(state): State<AppState>, principal: Principal, Query(p): Query<Params>) -> Result<Response, AppError> {
            doc_get(state, principal, $kind, p).await
        }

        #[doc = concat!("Store a ", $what, " document (If-Match / If-None-Match honoured).")]
        #[utoipa::path(put, path = $path, tag = "xapi", summary = concat!("Store a ", $what, " document"), params(("params" = HashMap<String, String>, Query)), request_body = Vec<u8>, security(("basic" = []), ("bearer" = [])),
            responses((status = 204, description = "Stored"),
                      (status = 409, description = "Exists; send If-Match", body = Problem, content_type = "application/problem+json"),
                      (status = 412, description = "Precondition failed", body = Problem, content_type = "application/problem+json")))]
        async fn $put(State(state): State<AppState>, principal: Principal, Query(p): Query<Params>, ext: axum::http::Extensions, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
            doc_write(state, principal, $kind, p, headers, body, WriteMode::Replace(version(&ext))).await
        }

        #[doc = concat!("Merge a JSON object into a ", $what, " document.")]
        #[utoipa::path(post, path = $path, tag = "xapi", summary = concat!("Merge a JSON object into a ", $what, " document"), params(("params" = HashMap<String, String>, Query)), request_body = Value, security(("basic" = []), ("bearer" = [])),
            responses((status = 204, description = "Merged"),
                      (status = 400, description = "Not JSON objects", body = Problem, content_type = "application/problem+json"),
                      (status = 412, description = "Precondition failed", body = Problem, content_type = "application/problem+json")))]
        async fn $post(State(state): State<AppState>, principal: Principal, Query(p): Query<Params>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
            doc_write(state, principal, $kind, p, headers, body, WriteMode::Merge).await
        }

        #[doc = concat!("Delete a ", $what, " document.")]
        #[utoipa::path(delete, path = $path, tag = "xapi", summary = concat!("Delete a ", $what, " document"), params(("params" = HashMap<String, String>, Query)), security(("basic" = []), ("bearer" = [])),
            responses((status = 204, description = "Deleted"),
                      (status = 412, description = "Precondition failed", body = Problem, content_type = "application/problem+json")))]
        async fn $delete(State(state): State<AppState>, principal: Principal, Query(p): Query<Params>, headers: HeaderMap) -> Result<StatusCode, AppError> {
            doc_delete(state, principal, $kind, p, headers).await
        }
    };
}

document_resource!("state", "/xapi/activities/state", get_state, put_state, post_state, delete_state, "State");
document_resource!(
    "activity_profile",
    "/xapi/activities/profile",
    get_activity_profile,
    put_activity_profile,
    post_activity_profile,
    delete_activity_profile,
    "Activity Profile"
);
document_resource!(
    "agent_profile",
    "/xapi/agents/profile",
    get_agent_profile,
    put_agent_profile,
    post_agent_profile,
    delete_agent_profile,
    "Agent Profile"
);

/// The canonical definition of an activity, as the LRS has seen it in statements.
#[utoipa::path(get, path = "/xapi/activities", tag = "xapi", params(("activityId" = String, Query)), security(("basic" = []), ("bearer" = [])),
    responses((status = 200, description = "The Activity", body = Value)))]
async fn get_activity(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<Params>,
) -> Result<Response, AppError> {
    let tenant = principal.tenant()?;
    // Activity definitions are the tenant's catalogue, not anyone's record: any xAPI scope.
    principal.require_any_scope(&[
        "all",
        "all/read",
        "statements/read",
        "statements/read/mine",
        "define",
        "profile",
        "state",
    ])?;
    if let Some(k) = p.keys().find(|k| *k != "activityId") {
        return Err(bad(format!("unknown parameter `{k}`")));
    }
    let id =
        p.get("activityId").filter(|a| statement::is_iri(a)).ok_or_else(|| bad("activityId (an IRI) is required"))?;
    Ok(axum::Json(documents::activity(&state, tenant.into(), id).await?).into_response())
}

/// The Person object for an agent (the identifiers this LRS knows it by).
#[utoipa::path(get, path = "/xapi/agents", tag = "xapi", params(("agent" = String, Query)), security(("basic" = []), ("bearer" = [])),
    responses((status = 200, description = "The Person", body = Value)))]
async fn get_agent(
    State(state): State<AppState>,
    principal: Principal,
    Query(p): Query<Params>,
) -> Result<Response, AppError> {
    let tenant = principal.tenant()?;
    if let Some(k) = p.keys().find(|k| *k != "agent") {
        return Err(bad(format!("unknown parameter `{k}`")));
    }
    let raw = p.get("agent").ok_or_else(|| bad("agent is required"))?;
    let agent: Value = serde_json::from_str(raw).map_err(|_| bad("agent must be JSON of an Agent"))?;
    // Communication 2.4: the parameter "is a normal Agent Object … not a Person Object,
    // nor is it a Group".
    if agent.get("objectType").and_then(Value::as_str).is_some_and(|t| t != "Agent") {
        return Err(bad("agent must be an Agent, not a Group or a Person"));
    }
    let ifi = statement::agent_ifi(&agent).map_err(bad)?;
    // The names a person went by are their record: tenant readers, or the person.
    match access::person_reads(&state.ctx.public_url, &principal) {
        None => principal.require_any_scope(&["all", "all/read", "statements/read", "profile"])?,
        Some(reach) if !reach.covers(&ifi) => return Err(access::not_yours("another agent")),
        Some(_) => {}
    }
    let mut person = json!({ "objectType": "Person" });
    for k in statement::IFI_KEYS {
        if let Some(v) = agent.get(k) {
            person[k] = json!([v]);
        }
    }
    // Every name the agent has been given in this tenant's statements, and in the request.
    let mut tx = state.ctx.db.tenant_tx(tenant).await?;
    let mut names = crate::store::statements::actor_names(&mut tx, &ifi).await?;
    if let Some(n) = agent.get("name").and_then(Value::as_str)
        && !names.iter().any(|x| x == n)
    {
        names.insert(0, n.to_owned());
    }
    if !names.is_empty() {
        person["name"] = json!(names);
    }
    Ok(axum::Json(person).into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_state, put_state, post_state, delete_state))
        .routes(routes!(get_activity_profile, put_activity_profile, post_activity_profile, delete_activity_profile))
        .routes(routes!(get_agent_profile, put_agent_profile, post_agent_profile, delete_agent_profile))
        .routes(routes!(get_activity))
        .routes(routes!(get_agent))
}
