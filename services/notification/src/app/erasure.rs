//! notification's step of a data-subject erasure (ADR 0004): every message of the tenant
//! whose body names the person (their user id, an email address in any case, its xAPI
//! `mbox_sha1sum`, an account's home page with its name, an OpenID) is deleted, with its
//! deliveries and their logged answers, and (by user id) their inbox, emails and
//! preferences, in the consumer's transaction; the answer
//! `notification.data_subject.erased.v1` counts them. Messages are deleted rather than
//! redacted: a webhook replay of them is what erasure takes away.

use mirai_contracts::events::{
    notification::{DataSubjectErased, ErasureOutcome},
    tenant::{DataSubject, DataSubjectErasureRequested},
};
use mirai_events::{Cx, HandleError, outbox};
use sha1::{Digest, Sha1};

use crate::store;

/// `s` as a literal inside an `ILIKE` pattern.
fn literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// The `ILIKE` patterns a message naming the person matches: any one of `single`, or
/// both of an account's (`home`, `name`) pair.
pub fn patterns(s: &DataSubject) -> (Vec<String>, Vec<(String, String)>) {
    let mut single = Vec::new();
    let like = |v: &str| format!("%{}%", literal(v));
    for e in s.emails.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        single.push(like(e));
        // xAPI mbox_sha1sum of `mailto:<address>`, as a client may have computed it.
        let (local, domain) = e.rsplit_once('@').unwrap_or((e, ""));
        for mbox in [format!("mailto:{local}@{}", domain.to_lowercase()), format!("mailto:{}", e.to_lowercase())] {
            single.push(like(&hex::encode(Sha1::digest(mbox.as_bytes()))));
        }
    }
    for o in s.openids.iter().filter(|o| !o.trim().is_empty()) {
        single.push(like(o.trim()));
    }
    if let Some(u) = s.user_id {
        single.push(like(&u.to_string()));
    }
    single.sort();
    single.dedup();
    let accounts = s
        .accounts
        .iter()
        .filter(|a| !a.name.trim().is_empty())
        .map(|a| (like(&a.home_page), like(&format!("\"{}\"", a.name))))
        .collect();
    (single, accounts)
}

pub async fn on_requested(cx: Cx<'_>, r: DataSubjectErasureRequested) -> Result<(), HandleError> {
    let (single, accounts) = patterns(&r.subject);
    let messages_deleted = store::messages_delete_naming(cx.tx, &single, &accounts).await?;
    let notifications_deleted = match r.subject.user_id {
        Some(user) => store::person_erase(cx.tx, user).await?,
        None => 0,
    };
    tracing::info!(tenant = %r.tenant_id, request = %r.request_id, messages_deleted, notifications_deleted, "data subject erased");
    let outcome = ErasureOutcome { messages_deleted, notifications_deleted };
    let reply = DataSubjectErased { tenant_id: r.tenant_id, request_id: r.request_id, outcome };
    let meta = cx.following();
    outbox::enqueue(cx.tx, crate::NAME, &meta, reply.into()).await.map_err(|e| HandleError::Transient(e.into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use mirai_contracts::events::tenant::Account;

    use super::*;

    #[test]
    fn identifiers_become_literal_patterns() {
        let s = DataSubject {
            user_id: None,
            emails: vec!["Ann_O%Neil@Example.com".into()],
            accounts: vec![Account { home_page: "https://lms.example".into(), name: "ann".into() }],
            openids: vec![],
        };
        let (single, accounts) = patterns(&s);
        assert!(single.contains(&"%Ann\\_O\\%Neil@Example.com%".to_owned()), "{single:?}");
        // sha1("mailto:Ann_O%Neil@example.com") and of the whole address lower-cased.
        assert_eq!(single.len(), 3, "{single:?}");
        assert_eq!(accounts, vec![("%https://lms.example%".to_owned(), "%\"ann\"%".to_owned())]);
    }
}
