//! The document resources (State, Activity Profile, Agent Profile) with the xAPI
//! concurrency rules: strong ETags (SHA-1 of the content), `If-Match` (412 on a
//! mismatch), `If-None-Match: *` (412 if the document exists), and a PUT with neither
//! header refused: 409 when the document exists (profiles always; State under 2.0), 400
//! for a new profile document (the client MUST send one of them).
//! POST merges JSON objects into an existing JSON object.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use mirai_contracts::ids::TenantId;
use mirai_kit::{AppError, Principal};
use serde_json::Value;
use sha1::Digest;

use super::{
    access::{self, Reach},
    bad,
    statement::XapiVersion,
};
use crate::{
    AppState,
    store::documents::{self as store, DocKey, DocRow},
};

fn precondition(detail: &str) -> AppError {
    AppError::client(StatusCode::PRECONDITION_FAILED, "xapi-precondition-failed", "Precondition failed", detail)
}

/// The caller's tenant, if it may use the document at `key`: a scoped credential by its
/// scopes; a person's session by its reach ([`access`]): State and Agent Profile
/// documents of an agent they reach, Activity Profiles read by all and written by those
/// who write for the tenant.
pub fn authorize(public_url: &str, p: &Principal, key: &DocKey, write: bool) -> Result<TenantId, AppError> {
    let tenant = TenantId::from(p.tenant()?);
    let reach = if write { access::person_writes(public_url, p) } else { access::person_reads(public_url, p) };
    match reach {
        None => {
            let scope = if key.kind == "state" { "state" } else { "profile" };
            if write {
                p.require_any_scope(&[scope, "all"])
            } else {
                p.require_any_scope(&[scope, "all", "all/read"])
            }?;
        }
        Some(reach) if key.kind == "activity_profile" => {
            if write && reach != Reach::Tenant {
                return Err(access::not_yours("activity profiles"));
            }
        }
        Some(reach) => {
            if !reach.covers(&key.agent) {
                return Err(access::not_yours("another agent's documents"));
            }
        }
    }
    Ok(tenant)
}

/// The request's concurrency headers.
#[derive(Debug, Default)]
pub struct Preconditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

/// The SHA-1 of the content, hex (Communication 3.1: ETags are SHA-1 hexadecimal values).
fn etag_of(content: &[u8]) -> String {
    hex::encode(sha1::Sha1::digest(content))
}

fn unquote(s: &str) -> &str {
    s.trim().trim_start_matches("W/").trim_matches('"')
}

fn check(pre: &Preconditions, existing: Option<&DocRow>) -> Result<(), AppError> {
    if let Some(m) = &pre.if_match {
        let matches = existing.is_some_and(|d| m.trim() == "*" || m.split(',').any(|t| unquote(t) == d.etag));
        if !matches {
            return Err(precondition("If-Match does not match the document's current ETag"));
        }
    }
    if let Some(n) = &pre.if_none_match {
        let hit = existing.is_some_and(|d| n.trim() == "*" || n.split(',').any(|t| unquote(t) == d.etag));
        if hit {
            return Err(precondition("If-None-Match: the document exists"));
        }
    }
    Ok(())
}

/// Opens the tenant's transaction with the document locked, and checks the preconditions.
async fn locked(
    state: &AppState,
    tenant: TenantId,
    key: &DocKey,
    pre: &Preconditions,
) -> Result<(mirai_kit::db::Tx, Option<DocRow>), AppError> {
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let existing = store::document_get(&mut tx, key).await?;
    check(pre, existing.as_ref())?;
    Ok((tx, existing))
}

pub struct Stored {
    pub etag: String,
}

/// PUT: replaces the document.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn put(
    state: &AppState,
    tenant: TenantId,
    key: &DocKey,
    version: XapiVersion,
    pre: &Preconditions,
    content_type: &str,
    content: &[u8],
) -> Result<Stored, AppError> {
    let (mut tx, existing) = locked(state, tenant, key, pre).await?;
    if pre.if_match.is_none() && pre.if_none_match.is_none() {
        let profile = key.kind != "state";
        // Communication 3.1, both versions: a PUT to an existing document without either
        // header is a conflict (State exempted in 1.0.3 only).
        if existing.is_some() && (profile || version == XapiVersion::V20) {
            return Err(AppError::Conflict(
                "the document exists: send If-Match with its ETag (or If-None-Match: * to create only)".into(),
            ));
        }
        // A client PUTting a profile document MUST send one of them (3.1): without, the
        // request is malformed even when there is nothing to overwrite yet.
        if profile {
            return Err(bad(
                "a PUT to a profile document sends If-Match (its current ETag) or If-None-Match: * (create only)",
            ));
        }
    }
    let etag = etag_of(content);
    store::document_put(&mut tx, tenant, key, content_type, content, &etag, Utc::now()).await?;
    tx.commit().await?;
    Ok(Stored { etag })
}

/// POST: merges a JSON object into the document (or creates it).
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn post(
    state: &AppState,
    tenant: TenantId,
    key: &DocKey,
    pre: &Preconditions,
    content_type: &str,
    content: &[u8],
) -> Result<Stored, AppError> {
    let (mut tx, existing) = locked(state, tenant, key, pre).await?;
    let (ct, bytes) = match existing {
        None => (content_type.to_owned(), content.to_vec()),
        Some(doc) => {
            let is_json =
                |ct: &str| ct.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
            if !is_json(&doc.content_type) || !is_json(content_type) {
                return Err(bad("POST merges JSON into JSON: both documents must be application/json"));
            }
            let mut old: Value =
                serde_json::from_slice(&doc.content).map_err(|_| bad("the stored document is not a JSON object"))?;
            let new: Value = serde_json::from_slice(content).map_err(|_| bad("the body is not JSON"))?;
            let (Some(o), Some(n)) = (old.as_object_mut(), new.as_object()) else {
                return Err(bad("POST merges JSON objects: both documents must be JSON objects"));
            };
            for (k, v) in n {
                o.insert(k.clone(), v.clone());
            }
            ("application/json".to_owned(), serde_json::to_vec(&old).expect("json serializes"))
        }
    };
    if ct.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        && serde_json::from_slice::<Value>(&bytes).map(|v| !v.is_object()).unwrap_or(true)
    {
        return Err(bad("a JSON document sent with POST must be a JSON object"));
    }
    let etag = etag_of(&bytes);
    store::document_put(&mut tx, tenant, key, &ct, &bytes, &etag, Utc::now()).await?;
    tx.commit().await?;
    Ok(Stored { etag })
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn get(state: &AppState, tenant: TenantId, key: &DocKey) -> Result<DocRow, AppError> {
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let doc = store::document_get(&mut tx, key).await?.ok_or_else(|| AppError::not_found("document", &key.doc_id))?;
    tx.commit().await?;
    Ok(doc)
}

#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn ids(
    state: &AppState,
    tenant: TenantId,
    key: &DocKey,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<String>, AppError> {
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    Ok(store::document_ids(&mut tx, key, since).await?)
}

/// DELETE one document (If-Match honoured), or every State document under the key.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn delete(
    state: &AppState,
    tenant: TenantId,
    key: &DocKey,
    all: bool,
    pre: &Preconditions,
) -> Result<(), AppError> {
    let tx = if all {
        let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
        store::document_delete_all(&mut tx, key).await?;
        tx
    } else {
        let (mut tx, _) = locked(state, tenant, key, pre).await?;
        store::document_delete(&mut tx, key).await?;
        tx
    };
    tx.commit().await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(tenant = %tenant, activity = id))]
pub async fn activity(state: &AppState, tenant: TenantId, id: &str) -> Result<Value, AppError> {
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let definition = store::activity_get(&mut tx, id).await?;
    let mut out = serde_json::json!({ "objectType": "Activity", "id": id });
    if let Some(d) = definition {
        out["definition"] = d;
    }
    Ok(out)
}
