//! Storing, voiding, fetching and querying statements under the xAPI rules: a batch is
//! stored whole or not at all, an id reused with different content is a conflict, an
//! identical resend changes nothing, voided statements leave queries but stay fetchable
//! by `voidedStatementId`, and a voiding statement cannot itself be voided.

use std::collections::HashSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::lrs::{ResultSummary, StatementStored, StatementVoided, StoredStatement},
    ids::{StatementId, TenantId},
};
use mirai_events::NewEvent;
use mirai_kit::{AppError, Principal};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    bad,
    multipart::Part,
    statement::{self, Normalized, XapiVersion, format_ts},
};
use crate::{
    AppState,
    store::statements::{self as store, Filter},
};

pub const MAX_LIMIT: i64 = 500;
/// How long a storing transaction may stay open: the most it can hold
/// X-Experience-API-Consistent-Through back.
pub const STORE_TIMEOUT_SECS: i64 = 5;

/// Who is calling, as the LRS sees it.
pub struct Caller {
    pub tenant: TenantId,
    /// The authority agent written into stored statements.
    pub authority: Value,
    pub authority_ifi: String,
    /// `statements/read/mine`: reads see only what this caller stored.
    pub read_mine_only: bool,
    pub principal: Principal,
}

impl Caller {
    /// Scoped credentials (API keys, client tokens) need xAPI scopes; user sessions of
    /// first-party apps act with their tenant role.
    pub fn from(state: &AppState, p: &Principal, write: bool) -> Result<Self, AppError> {
        let tenant = TenantId::from(p.tenant()?);
        let read_mine_only = if write {
            p.require_any_scope(&["statements/write", "all"])?;
            false
        } else {
            match p.require_any_scope(&["statements/read", "all/read", "all"]) {
                Ok(()) => false,
                Err(_) if p.has_scope("statements/read/mine") => true,
                Err(e) => return Err(e),
            }
        };
        let name = p.subject.split_once(':').map(|(_, id)| id).unwrap_or(&p.subject).to_owned();
        let home = state.ctx.public_url.clone();
        Ok(Self {
            tenant,
            authority_ifi: format!("account:{home}|{name}"),
            authority: json!({ "objectType": "Agent", "account": { "homePage": home, "name": name } }),
            read_mine_only,
            principal: p.clone(),
        })
    }
}

/// Validates and stores statements (a PUT passes its `statementId`). Returns their ids
/// in request order (generated where the statement had none).
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant, statement = put_id.map(tracing::field::display)))]
pub async fn store(
    state: &AppState,
    caller: &Caller,
    version: XapiVersion,
    statements: Vec<Value>,
    put_id: Option<StatementId>,
    parts: Vec<Part>,
) -> Result<Vec<StatementId>, AppError> {
    if statements.is_empty() {
        return Err(bad("the request holds no statements"));
    }
    let now = Utc::now();
    let mut checked: Vec<(Normalized, Value, Value)> = Vec::with_capacity(statements.len());
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for (i, s) in statements.into_iter().enumerate() {
        let mut submitted = s;
        if let Some(id) = put_id {
            match submitted.get("id") {
                None => submitted["id"] = json!(id.to_string()),
                Some(v) if v.as_str().and_then(|v| Uuid::parse_str(v).ok()) == Some(id.into_uuid()) => {}
                Some(_) => {
                    return Err(bad("the statement's id differs from the statementId parameter"));
                }
            }
        }
        let (n, mut body) = statement::validate(&submitted, version, now)
            .map_err(|e| bad(if i == 0 { e } else { format!("statement {i}: {e}") }))?;
        if !seen.insert(n.id) {
            return Err(bad(format!("statement id {} appears twice in the batch", n.id)));
        }
        ids.push(n.id);
        if submitted.get("id").is_none() {
            submitted["id"] = json!(n.id.to_string());
        }
        body["authority"] = caller.authority.clone();
        // A statement keeps the version it came with; without one it is 1.0.0 (1.0.3's rule)
        // or 2.0.0 (2.0's rule).
        let default_version = match version {
            XapiVersion::V103 => "1.0.0",
            XapiVersion::V20 => "2.0.0",
        };
        body["version"] = json!(body.get("version").and_then(Value::as_str).unwrap_or(default_version));
        checked.push((n, body, submitted));
    }
    check_attachments(checked.iter().map(|(_, body, _)| body), &parts)?;
    for (i, (_, _, submitted)) in checked.iter().enumerate() {
        super::signature::verify(submitted, &parts)
            .map_err(|e| bad(if checked.len() == 1 { e } else { format!("statement {i}: {e}") }))?;
    }
    let mut tx = state.ctx.db.tenant_tx(caller.tenant.into()).await?;
    store::mark_storing(&mut tx).await?;
    for p in &parts {
        crate::store::attachments::attachment_put(&mut tx, caller.tenant, p).await?;
    }
    // Bounded, so that a stuck transaction holds X-Experience-API-Consistent-Through back
    // by at most five seconds.
    sqlx::query(&format!("SET LOCAL transaction_timeout = '{STORE_TIMEOUT_SECS}s'")).execute(&mut *tx).await?;
    let mut stored_events = vec![];
    let mut voided_events: Vec<NewEvent> = vec![];
    for (n, mut body, submitted) in checked {
        if let Some(existing) = store::statement_get(&mut tx, n.id).await? {
            if statement::equivalent(&existing.submitted.0, &submitted) {
                continue;
            }
            return Err(AppError::Conflict(format!("statement {} already exists with different content", n.id)));
        }
        // `stored` is kept at the millisecond precision it is reported with, so `since` and
        // `until` compare exactly what clients saw; `seq` orders statements within a ms.
        let stored: DateTime<Utc> =
            sqlx::query_scalar("SELECT date_trunc('milliseconds', clock_timestamp())").fetch_one(&mut *tx).await?;
        body["stored"] = json!(format_ts(stored));
        if let Some(target) = n.voids {
            if !store::statement_void(&mut tx, target).await? {
                return Err(bad(format!("statement {target} is a voiding statement and cannot be voided")));
            }
            let voided = StatementVoided { tenant_id: caller.tenant, statement_id: target, voided_by: n.id };
            voided_events.push(voided.into());
        }
        store::statement_insert(
            &mut tx,
            caller.tenant,
            &n,
            version.as_str(),
            &caller.authority_ifi,
            stored,
            &body,
            &submitted,
        )
        .await?;
        for (id, definition) in activity_definitions(&body) {
            crate::store::documents::activity_upsert(&mut tx, caller.tenant, &id, &definition).await?;
        }
        // `timestamp` and `stored` serialize as `format_ts` writes them (RFC 3339, ms, `Z`).
        stored_events.push(StoredStatement {
            id: n.id,
            actor: n.actor,
            verb: n.verb,
            object_activity: n.object_activity,
            registration: n.registration,
            timestamp: n.timestamp,
            stored,
            result: summarize_result(&body),
        });
    }
    let mut events = voided_events;
    if !stored_events.is_empty() {
        events.push(StatementStored { tenant_id: caller.tenant, statements: stored_events }.into());
    }
    state.ctx.emit(&mut tx, &caller.principal.event_meta(), events).await?;
    tx.commit().await?;
    Ok(ids)
}

/// The `sha2` of every attachment object in a statement (and its SubStatement).
pub fn attachment_hashes(body: &Value, with_file_url: bool) -> Vec<String> {
    let mut out = vec![];
    for list in [&body["attachments"], &body["object"]["attachments"]] {
        for a in list.as_array().into_iter().flatten() {
            if (with_file_url || a.get("fileUrl").is_none())
                && let Some(h) = a["sha2"].as_str()
            {
                out.push(h.to_lowercase());
            }
        }
    }
    out
}

/// Every attachment without a fileUrl must arrive as a part, and every part must belong
/// to an attachment of the request's statements.
fn check_attachments<'a>(bodies: impl Iterator<Item = &'a Value>, parts: &[Part]) -> Result<(), AppError> {
    let mut declared = HashSet::new();
    let mut required = HashSet::new();
    for b in bodies {
        declared.extend(attachment_hashes(b, true));
        required.extend(attachment_hashes(b, false));
    }
    let sent: HashSet<String> = parts.iter().map(|p| p.sha2.clone()).collect();
    if let Some(missing) = required.iter().find(|h| !sent.contains(*h)) {
        return Err(bad(format!("attachment {missing} has no fileUrl and was not sent as a part")));
    }
    if let Some(extra) = sent.iter().find(|h| !declared.contains(*h)) {
        return Err(bad(format!("part {extra} matches no attachment of the statements")));
    }
    Ok(())
}

/// Activities that came with a definition: the object and every context activity.
fn activity_definitions(body: &Value) -> Vec<(String, Value)> {
    let mut found = vec![];
    let mut visit = |a: &Value| {
        if let (Some(id), Some(def)) = (a.get("id").and_then(Value::as_str), a.get("definition"))
            && a.get("objectType").and_then(Value::as_str).unwrap_or("Activity") == "Activity"
        {
            found.push((id.to_owned(), def.clone()));
        }
    };
    visit(&body["object"]);
    if let Some(ca) = body["context"]["contextActivities"].as_object() {
        for list in ca.values() {
            match list {
                Value::Array(items) => items.iter().for_each(&mut visit),
                one => visit(one),
            }
        }
    }
    found
}

/// Validation has made `success` and `completion` booleans and `score.scaled` a number,
/// when present.
fn summarize_result(body: &Value) -> ResultSummary {
    let r = &body["result"];
    ResultSummary {
        success: r["success"].as_bool(),
        completion: r["completion"].as_bool(),
        score_scaled: r["score"]["scaled"].as_f64(),
    }
}

/// A statement read: what was found, and the Consistent-Through instant it was read at.
pub struct Read<T> {
    pub found: T,
    pub consistent_through: DateTime<Utc>,
}

/// One statement by id (`voided` = fetched as `voidedStatementId`), with its `stored`.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant, statement = %id))]
pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: StatementId,
    voided: bool,
) -> Result<Read<(Value, DateTime<Utc>)>, AppError> {
    let mut tx = state.ctx.db.tenant_tx(caller.tenant.into()).await?;
    let consistent_through = store::consistent_through(&mut tx).await?;
    let row = store::statement_get(&mut tx, id).await?.ok_or_else(|| AppError::not_found("statement", id))?;
    if row.voided != voided {
        return Err(AppError::not_found("statement", id));
    }
    if caller.read_mine_only && row.body.0["authority"] != caller.authority {
        return Err(AppError::not_found("statement", id));
    }
    Ok(Read { found: (row.body.0, row.stored), consistent_through })
}

/// A page of statements and the `more` link to the next page, if any.
pub type StatementPage = (Vec<Value>, Option<String>);

/// A page of statements and the cursor for the next one. Only statements stored through
/// the Consistent-Through instant are listed, so the header is never before a listed
/// `stored` and every statement stored through it is visible.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant))]
pub async fn query(
    state: &AppState,
    caller: &Caller,
    mut filter: Filter,
    limit: i64,
    more: Option<&str>,
) -> Result<Read<StatementPage>, AppError> {
    let limit = if limit == 0 { MAX_LIMIT } else { limit.min(MAX_LIMIT) };
    if let Some(m) = more {
        filter.after = Some(decode_more(m)?);
    }
    if caller.read_mine_only {
        filter.authority = Some(caller.authority_ifi.clone());
    }
    let mut tx = state.ctx.db.tenant_tx(caller.tenant.into()).await?;
    let consistent_through = store::consistent_through(&mut tx).await?;
    filter.through = Some(consistent_through);
    let mut rows = store::statement_query(&mut tx, &filter, limit).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_more(r.stored, r.seq))
    } else {
        None
    };
    Ok(Read { found: (rows.into_iter().map(|r| r.body.0).collect(), next), consistent_through })
}

/// The contents of the given attachments (deduplicated), for `attachments=true`.
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant))]
pub async fn attachments(state: &AppState, caller: &Caller, mut hashes: Vec<String>) -> Result<Vec<Part>, AppError> {
    hashes.sort();
    hashes.dedup();
    if hashes.is_empty() {
        return Ok(vec![]);
    }
    let mut tx = state.ctx.db.tenant_tx(caller.tenant.into()).await?;
    Ok(crate::store::attachments::attachment_get_many(&mut tx, &hashes).await?)
}

fn encode_more(stored: DateTime<Utc>, seq: i64) -> String {
    B64.encode(format!("{}|{seq}", stored.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
}

fn decode_more(m: &str) -> Result<(DateTime<Utc>, i64), AppError> {
    let invalid = || bad("the `more` cursor is not one this LRS issued");
    let text = String::from_utf8(B64.decode(m).map_err(|_| invalid())?).map_err(|_| invalid())?;
    let (ts, seq) = text.split_once('|').ok_or_else(invalid)?;
    Ok((
        DateTime::parse_from_rfc3339(ts).map_err(|_| invalid())?.with_timezone(&Utc),
        seq.parse().map_err(|_| invalid())?,
    ))
}
