//! The LRS's part of a data-subject erasure (tenant's GDPR choreography). On
//! `tenant.data_subject.erasure_requested.v1` the LRS, in one transaction:
//!
//! - anonymizes every statement that names the person (as actor, object, instructor,
//!   team or group member, context agent, authority — in the statement as returned and
//!   as received): each agent object identified by one of the person's identifiers is
//!   replaced by a pseudonymous account (`erased-<request id>` at `ERASED_HOME`), its
//!   `name` dropped. Statements stay, so counts and completions in reports stay true,
//!   but nothing in them leads back to the person;
//! - removes the attachments of statements the person made, and deletes their contents
//!   where no other statement uses them;
//! - deletes the person's State and Agent Profile documents;
//!
//! and answers `lrs.data_subject.erased.v1` with what it did (the audit record).
//! Identifiers match as the LRS keys them: an email as `mbox` (domain case-insensitive)
//! and as `mbox_sha1sum`, accounts, OpenIDs, and a Mirai user id as the account Mirai's
//! own apps use (`{public_url}`, user id).

use std::{collections::HashSet, sync::Arc};

use chrono::Utc;
use mirai_contracts::{
    events::{
        lrs::{DataSubjectErased, ErasureOutcome},
        tenant::{DataSubject, DataSubjectErasureRequested},
    },
    ids::DataSubjectRequestId,
};
use mirai_events::{ConsumerSpec, Cx, HandleError, outbox};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sqlx::PgConnection;

use super::{
    statement::{self, IFI_KEYS, XapiVersion},
    statements::attachment_hashes,
};
use crate::store::{attachments, documents, statements as store};

/// The home page of the pseudonymous accounts erased agents become.
pub const ERASED_HOME: &str = "https://mirai.invalid/erased";

/// The LRS keys (IFIs) under which the person may appear.
fn identifiers(s: &DataSubject, public_url: &str) -> Vec<String> {
    let mut out = HashSet::new();
    for e in &s.emails {
        let mbox = statement::canonical_mbox(&format!("mailto:{}", e.trim()));
        out.insert(format!("mbox:{mbox}"));
        // mbox_sha1sum as a client may have computed it: domain lower-cased (the spec's
        // advice), or the whole address lower-cased.
        for variant in [mbox.clone(), mbox.to_lowercase()] {
            out.insert(format!("sha1:{}", hex::encode(Sha1::digest(variant.as_bytes()))));
        }
    }
    for a in &s.accounts {
        out.insert(format!("account:{}|{}", a.home_page, a.name));
    }
    for o in &s.openids {
        out.insert(format!("openid:{o}"));
    }
    if let Some(u) = s.user_id {
        out.insert(format!("account:{public_url}|{u}"));
    }
    let mut v: Vec<String> = out.into_iter().collect();
    v.sort();
    v
}

/// Replaces every agent object identified by one of `ifis` with `pseudonym`; returns
/// whether anything changed.
fn anonymize(v: &mut Value, ifis: &HashSet<String>, pseudonym: &Value) -> bool {
    let mut changed = false;
    match v {
        Value::Object(m) => {
            if IFI_KEYS.iter().any(|k| m.contains_key(*k))
                && statement::object_ifi(m).is_some_and(|id| ifis.contains(&id))
            {
                for k in IFI_KEYS.iter().chain(&["name"]) {
                    m.remove(*k);
                }
                m.insert("account".into(), pseudonym.clone());
                changed = true;
            }
            for child in m.values_mut() {
                changed |= anonymize(child, ifis, pseudonym);
            }
        }
        Value::Array(items) => {
            for child in items {
                changed |= anonymize(child, ifis, pseudonym);
            }
        }
        _ => {}
    }
    changed
}

fn strip_attachments(v: &mut Value) {
    if let Some(m) = v.as_object_mut() {
        m.remove("attachments");
        if let Some(o) = m.get_mut("object").and_then(Value::as_object_mut) {
            o.remove("attachments");
        }
    }
}

async fn erase(
    tx: &mut PgConnection,
    request: DataSubjectRequestId,
    subject: &DataSubject,
    public_url: &str,
) -> Result<ErasureOutcome, HandleError> {
    let ifis = identifiers(subject, public_url);
    let set: HashSet<String> = ifis.iter().cloned().collect();
    // The indexed columns hold identifiers in their key form.
    let keyed: HashSet<String> = ifis.iter().map(|i| crate::store::key(i)).collect();
    let name = format!("erased-{request}");
    let pseudonym = json!({ "homePage": ERASED_HOME, "name": name });
    let pseudonym_ifi = format!("account:{ERASED_HOME}|{name}");
    let rows = store::statements_naming(tx, &ifis).await?;
    let mut hashes = vec![];
    let now = Utc::now();
    for row in &rows {
        let (mut body, mut submitted) = (row.body.0.clone(), row.submitted.0.clone());
        anonymize(&mut body, &set, &pseudonym);
        anonymize(&mut submitted, &set, &pseudonym);
        if keyed.contains(&row.actor) {
            hashes.extend(attachment_hashes(&body, true));
            strip_attachments(&mut body);
            strip_attachments(&mut submitted);
        }
        let version = XapiVersion::parse(&row.version).unwrap_or(XapiVersion::V103);
        let (n, _) = statement::validate(&submitted, version, now).map_err(|e| {
            HandleError::Permanent(format!("statement {} does not validate once anonymized: {e}", row.id))
        })?;
        let authority =
            if keyed.contains(&row.authority) { crate::store::key(&pseudonym_ifi) } else { row.authority.clone() };
        store::statement_rewrite(tx, &n, &authority, &body, &submitted).await?;
    }
    hashes.sort();
    hashes.dedup();
    let attachments =
        if hashes.is_empty() { 0 } else { attachments::attachments_delete_unreferenced(tx, &hashes).await? };
    let documents = documents::documents_delete_for_agents(tx, &ifis).await?;
    Ok(ErasureOutcome {
        statements_anonymized: rows.len() as u64,
        documents_deleted: documents,
        attachments_deleted: attachments,
        pseudonym: Some(name),
    })
}

/// What the erasure consumer needs to know: where Mirai's own apps say accounts live.
struct Erasures {
    public_url: String,
}

#[tracing::instrument(skip_all, fields(tenant = %r.tenant_id, request = %r.request_id))]
async fn on_requested(cx: Cx<'_, Erasures>, r: DataSubjectErasureRequested) -> Result<(), HandleError> {
    let (tenant, request) = (r.tenant_id, r.request_id);
    let outcome = erase(cx.tx, request, &r.subject, &cx.state.public_url).await?;
    tracing::info!(tenant = %tenant, request = %request, statements = outcome.statements_anonymized,
        documents = outcome.documents_deleted, attachments = outcome.attachments_deleted, "data subject erased");
    let reply = DataSubjectErased { tenant_id: tenant, request_id: request, outcome };
    let meta = cx.following();
    outbox::enqueue(cx.tx, crate::NAME, &meta, reply.into()).await.map_err(|e| HandleError::Transient(e.into()))?;
    Ok(())
}

/// One erasure at a time: each rewrites many rows.
pub fn consumer(public_url: &str) -> ConsumerSpec {
    let state = Arc::new(Erasures { public_url: public_url.to_owned() });
    ConsumerSpec::new("lrs-erasures").on_with(&state, on_requested).batch(1)
}
