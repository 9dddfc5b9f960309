//! Storing, voiding, fetching and querying statements under the xAPI rules: a batch is
//! stored whole or not at all, an id reused with different content is a conflict, an
//! identical resend changes nothing, voided statements leave queries but stay fetchable
//! by `voidedStatementId`, and a voiding statement cannot itself be voided.

use std::collections::{HashMap, HashSet};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::lrs::{ResultSummary, StatementStored, StatementVoided, StoredStatement},
    ids::{StatementId, TenantId},
};
use mirai_events::{EventMeta, NewEvent};
use mirai_kit::{AppError, Principal};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    access::{self, Reach},
    bad,
    multipart::Part,
    statement::{self, Normalized, XapiVersion, format_ts},
};
use crate::{
    AppState,
    store::statements::{self as store, Filter, Mine},
};

pub const MAX_LIMIT: i64 = 500;
/// The account name of the authority of the statements the player records.
pub const PLAYER: &str = "mirai-player";
/// How long a storing transaction may stay open: the most it can hold
/// X-Experience-API-Consistent-Through back.
pub const STORE_TIMEOUT_SECS: i64 = 5;

/// Who is calling, as the LRS sees it.
pub struct Caller {
    pub tenant: TenantId,
    /// The authority agent written into stored statements.
    pub authority: Value,
    pub authority_ifi: String,
    /// Reads see only the caller's own statements (`statements/read/mine`, or a person
    /// whose role reaches only their own records).
    pub mine: Option<Mine>,
    /// Whose statements the caller may write ([`access`]).
    pub writes: Reach,
    /// The meta of the events the write publishes (actor, trace, correlation).
    pub meta: EventMeta,
}

impl Caller {
    /// Scoped credentials need xAPI scopes; a person's session acts with what its roles
    /// reach ([`access`]).
    pub fn from(state: &AppState, p: &Principal, write: bool) -> Result<Self, AppError> {
        let tenant = TenantId::from(p.tenant()?);
        let home = state.ctx.public_url.clone();
        let name = p.subject.split_once(':').map(|(_, id)| id).unwrap_or(&p.subject).to_owned();
        let authority_ifi = format!("account:{home}|{name}");
        let (mine, writes) = match (access::person_reads(&home, p), access::person_writes(&home, p)) {
            (Some(reads), Some(writes)) => {
                let mine = match reads {
                    Reach::Tenant => None,
                    Reach::Own(actors) => Some(Mine { authority: authority_ifi.clone(), actors }),
                };
                (mine, writes)
            }
            _ if write => {
                p.require_any_scope(&["statements/write", "all"])?;
                (None, Reach::Tenant)
            }
            _ => match p.require_any_scope(&["statements/read", "all/read", "all"]) {
                Ok(()) => (None, Reach::Tenant),
                Err(_) if p.has_scope("statements/read/mine") => {
                    (Some(Mine { authority: authority_ifi.clone(), actors: vec![] }), Reach::Tenant)
                }
                Err(e) => return Err(e),
            },
        };
        Ok(Self {
            tenant,
            authority: json!({ "objectType": "Agent", "account": { "homePage": home, "name": name } }),
            authority_ifi,
            mine,
            writes,
            meta: p.event_meta(),
        })
    }

    /// The platform's player (delivery) writing one learner's statements from its events:
    /// about that learner only (`learner`, a canonical IFI), with the player as authority.
    pub fn player(state: &AppState, tenant: TenantId, learner: String, meta: EventMeta) -> Self {
        let home = state.ctx.public_url.clone();
        Self {
            tenant,
            authority: json!({ "objectType": "Agent", "account": { "homePage": home, "name": PLAYER } }),
            authority_ifi: format!("account:{home}|{PLAYER}"),
            mine: None,
            writes: Reach::Own(vec![learner]),
            meta,
        }
    }

    /// Whether a stored statement (by its actor and authority keys) is the caller's to read.
    fn may_read(&self, actor_key: &str, authority_key: &str) -> bool {
        match &self.mine {
            None => true,
            Some(m) => {
                crate::store::key(&m.authority) == authority_key
                    || m.actors.iter().any(|a| crate::store::key(a) == actor_key)
            }
        }
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
    let mut tx = state.ctx.db.tenant_tx(caller.tenant.into()).await?;
    let ids = store_in(state, &mut tx, caller, version, statements, put_id, parts).await?;
    tx.commit().await?;
    Ok(ids)
}

/// [`store`] in the caller's transaction (already scoped to `caller.tenant`).
pub async fn store_in(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
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
        if !submitted.is_object() {
            return Err(bad(if i == 0 {
                "a statement is a JSON object".to_owned()
            } else {
                format!("statement {i}: a statement is a JSON object")
            }));
        }
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
        if !caller.writes.covers(&n.actor) {
            return Err(access::not_yours(&if i == 0 { "the statement".to_owned() } else { format!("statement {i}") }));
        }
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
    // Bounded, so that a stuck transaction holds X-Experience-API-Consistent-Through back
    // by at most five seconds. One `stored` for the batch; `seq` orders it.
    let stored = store::begin_storing(tx, STORE_TIMEOUT_SECS).await?;
    for p in &parts {
        crate::store::attachments::attachment_put(tx, caller.tenant, p).await?;
    }
    let stored_json = json!(format_ts(stored));
    for (n, body, submitted) in &mut checked {
        body["stored"] = stored_json.clone();
        // Data 2.4.7 (2.0: shall; 1.0.3: SHOULD*): a statement sent without a timestamp
        // gets its stored instant.
        if submitted.get("timestamp").is_none() {
            body["timestamp"] = stored_json.clone();
            n.timestamp = stored;
        }
        // Related agents include the authority (Communication 2.1.3).
        let authority = caller.authority_ifi.clone();
        if let Err(at) = n.agents.binary_search(&authority) {
            n.agents.insert(at, authority);
        }
    }
    // Every statement is inserted unless its id is taken (ON CONFLICT DO NOTHING, which
    // also waits for a concurrent store of the same id); an id that was taken is then
    // judged: an identical resend changes nothing, anything else conflicts.
    let mut rows: Vec<store::NewRow> =
        checked.iter().map(|(n, body, submitted)| store::NewRow { n, body, submitted }).collect();
    let inserted: HashSet<StatementId> =
        store::statements_insert(tx, caller.tenant, version.as_str(), &caller.authority_ifi, stored, &mut rows)
            .await?
            .into_iter()
            .collect();
    drop(rows);
    if inserted.len() < checked.len() {
        let taken: Vec<Uuid> = checked
            .iter()
            .map(|(n, _, _)| n.id)
            .filter(|id| !inserted.contains(id))
            .map(StatementId::into_uuid)
            .collect();
        let existing: HashMap<StatementId, Value> =
            store::statements_submitted(tx, &taken).await?.into_iter().map(|(id, s)| (id, s.0)).collect();
        for (n, _, submitted) in checked.iter().filter(|(n, _, _)| !inserted.contains(&n.id)) {
            if !existing.get(&n.id).is_some_and(|old| statement::equivalent(old, submitted)) {
                return Err(AppError::Conflict(format!("statement {} already exists with different content", n.id)));
            }
        }
    }
    let keep: Vec<usize> = (0..checked.len()).filter(|&i| inserted.contains(&checked[i].0.id)).collect();
    // Voiding after inserting, so a batch may void a statement stored earlier in it. A
    // person who writes only their own records voids only what they stored (Data 2.3.2:
    // an LRS refuses a voiding it does not authorize).
    let targets: Vec<(StatementId, StatementId)> =
        keep.iter().filter_map(|&i| checked[i].0.voids.map(|t| (t, checked[i].0.id))).collect();
    let mut voided = HashSet::new();
    if !targets.is_empty() {
        let ids: Vec<Uuid> = targets.iter().map(|(t, _)| t.into_uuid()).collect();
        let only = match caller.writes {
            Reach::Tenant => None,
            Reach::Own(_) => Some(caller.authority_ifi.as_str()),
        };
        match store::statements_void(tx, &ids, only).await? {
            Ok(done) => voided.extend(done),
            Err(store::VoidRefused::Voiding(target)) => {
                return Err(bad(format!("statement {target} is a voiding statement and cannot be voided")));
            }
            Err(store::VoidRefused::NotYours(target)) => {
                return Err(access::not_yours(&format!("voiding statement {target}")));
            }
        }
    }
    let definitions = merged_definitions(keep.iter().map(|&i| &checked[i].1));
    if !definitions.is_empty() {
        crate::store::documents::activities_merge(tx, caller.tenant, &definitions).await?;
    }
    let mut events: Vec<NewEvent> = targets
        .into_iter()
        .filter(|(target, _)| voided.contains(target))
        .map(|(target, by)| StatementVoided { tenant_id: caller.tenant, statement_id: target, voided_by: by }.into())
        .collect();
    // `timestamp` and `stored` serialize as `format_ts` writes them (RFC 3339, ms, `Z`).
    let stored_events: Vec<StoredStatement> = keep
        .iter()
        .map(|&i| {
            let (n, body, _) = &checked[i];
            StoredStatement {
                id: n.id,
                actor: n.actor.clone(),
                verb: n.verb.clone(),
                object_activity: n.object_activity.clone(),
                registration: n.registration,
                authority: caller.authority_ifi.clone(),
                timestamp: n.timestamp,
                stored,
                result: summarize_result(body),
            }
        })
        .collect();
    // One event per ~256 KB of summaries: a batch of thousands becomes several events, each
    // well inside what the bus carries (the outbox refuses larger ones).
    let mut chunk: Vec<StoredStatement> = Vec::new();
    let mut bytes = 0;
    for s in stored_events {
        let size = serde_json::to_vec(&s).map_or(0, |v| v.len());
        if !chunk.is_empty() && bytes + size > 256 * 1024 {
            events.push(StatementStored { tenant_id: caller.tenant, statements: std::mem::take(&mut chunk) }.into());
            bytes = 0;
        }
        bytes += size;
        chunk.push(s);
    }
    if !chunk.is_empty() {
        events.push(StatementStored { tenant_id: caller.tenant, statements: chunk }.into());
    }
    state.ctx.emit(tx, &caller.meta, events).await?;
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

/// Activities that came with a definition: the object and every context activity, of
/// the statement and of its SubStatement.
fn activity_definitions<'a>(body: &'a Value) -> Vec<(&'a str, &'a Value)> {
    let mut found = vec![];
    let mut visit = |a: &'a Value| {
        if let (Some(id), Some(def)) = (a.get("id").and_then(Value::as_str), a.get("definition"))
            && a.get("objectType").and_then(Value::as_str).unwrap_or("Activity") == "Activity"
        {
            found.push((id, def));
        }
    };
    // The statement, and the SubStatement it may hold.
    for s in [body, &body["object"]] {
        visit(&s["object"]);
        if let Some(ca) = s["context"]["contextActivities"].as_object() {
            for list in ca.values() {
                match list {
                    Value::Array(items) => items.iter().for_each(&mut visit),
                    one => visit(one),
                }
            }
        }
    }
    found
}

/// The definitions a batch gives its activities, one per activity, each later one merged
/// into the earlier ([`merge_definition`]).
fn merged_definitions<'a>(bodies: impl Iterator<Item = &'a Value>) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = vec![];
    // Keyed as stored, so two ids can never become two upserts of one row.
    let mut at: HashMap<String, usize> = HashMap::new();
    for body in bodies {
        for (id, def) in activity_definitions(body) {
            let k = crate::store::key(id);
            match at.get(&k) {
                Some(&i) => merge_definition(&mut out[i].1, def),
                None => {
                    at.insert(k, out.len());
                    out.push((id.to_owned(), def.clone()));
                }
            }
        }
    }
    out
}

/// Merges a later definition of an activity into what is known (Communication 2.5: the
/// Activities resource returns everything the LRS knows): a later property replaces an
/// earlier one, except language maps (`name`, `description`), which gain the later
/// languages and keep the others. The same rule runs in SQL for the stored definition
/// (`activities_merge`).
pub fn merge_definition(known: &mut Value, later: &Value) {
    let (Some(k), Some(l)) = (known.as_object_mut(), later.as_object()) else {
        *known = later.clone();
        return;
    };
    for (prop, v) in l {
        match (k.get_mut(prop), v) {
            (Some(Value::Object(old)), Value::Object(new)) if prop == "name" || prop == "description" => {
                old.extend(new.iter().map(|(lang, text)| (lang.clone(), text.clone())));
            }
            _ => {
                k.insert(prop.clone(), v.clone());
            }
        }
    }
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
    if !caller.may_read(&row.actor, &row.authority) {
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
    filter.mine = caller.mine.clone();
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
