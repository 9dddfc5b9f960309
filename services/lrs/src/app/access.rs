//! Who may read and write what. Scoped credentials (integrators' API keys, client
//! tokens) act by their xAPI scopes (Communication 4.2): `statements/write`,
//! `statements/read`, `statements/read/mine`, `state`, `define`, `profile`, `all/read`,
//! `all`. A person's session acts by its roles in the tenant, as the scopes those roles
//! imply:
//!
//! | roles | statements | documents |
//! |---|---|---|
//! | org admin, org manager (instructors), platform admin | read and write the tenant's | all |
//! | compliance officer | read the tenant's; write their own | read all; write their own |
//! | learner, author, provider admin | read and write their own | State and Agent Profile of their own agent; read Activity Profiles |
//!
//! "Their own" statements are those whose actor is one of the person's identifiers or
//! that they stored (their authority): `statements/read/mine` with the actor added, since
//! a learner's statements are also sent by content on their behalf.

use mirai_kit::{AppError, Principal, Role, auth::CredentialKind};
use sha1::Digest;

use super::statement::canonical_mbox;

/// Roles that read every statement and document of their tenant.
const READ_TENANT: &[Role] = &[Role::PlatformAdmin, Role::OrgAdmin, Role::OrgManager, Role::ComplianceOfficer];
/// Roles that write statements and documents about anyone in their tenant.
const WRITE_TENANT: &[Role] = &[Role::PlatformAdmin, Role::OrgAdmin, Role::OrgManager];

/// How far a caller reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The whole tenant.
    Tenant,
    /// Only these agents (canonical IFIs): a person's own identifiers.
    Own(Vec<String>),
}

impl Reach {
    /// Whether the agent with canonical IFI `ifi` is within reach.
    pub fn covers(&self, ifi: &str) -> bool {
        match self {
            Self::Tenant => true,
            Self::Own(ids) => ids.iter().any(|i| i == ifi),
        }
    }
}

/// The agent identifiers a person's session stands for: their Mirai account (the
/// `account` Mirai's own apps write, `homePage` the public URL) and, when the session
/// carries one, their email as `mbox` and `mbox_sha1sum`.
pub fn identities(public_url: &str, p: &Principal) -> Vec<String> {
    let mut out = vec![];
    if let Some(id) = p.user_id {
        out.push(format!("account:{public_url}|{id}"));
    }
    if let Some(email) = &p.email {
        let mbox = canonical_mbox(&format!("mailto:{email}"));
        out.push(format!("sha1:{}", hex::encode(sha1::Sha1::digest(mbox.as_bytes()))));
        out.push(format!("mbox:{mbox}"));
    }
    out
}

fn is_person(p: &Principal) -> bool {
    p.kind == CredentialKind::User
}

fn holds(p: &Principal, roles: &[Role]) -> bool {
    roles.iter().any(|r| p.has_role(*r))
}

/// Whose statements and documents a person's session reads; `None` for scoped
/// credentials.
pub fn person_reads(public_url: &str, p: &Principal) -> Option<Reach> {
    is_person(p).then(|| if holds(p, READ_TENANT) { Reach::Tenant } else { Reach::Own(identities(public_url, p)) })
}

/// Whose statements and documents a person's session writes; `None` for scoped
/// credentials.
pub fn person_writes(public_url: &str, p: &Principal) -> Option<Reach> {
    is_person(p).then(|| if holds(p, WRITE_TENANT) { Reach::Tenant } else { Reach::Own(identities(public_url, p)) })
}

/// Requires one of `scopes` of a scoped credential (a person's session passes: its
/// reach is checked where the agent is known).
pub fn require_scope(p: &Principal, scopes: &[&str]) -> Result<(), AppError> {
    p.require_any_scope(scopes)
}

/// The refusal when a person reaches for someone else's records.
pub fn not_yours(what: &str) -> AppError {
    AppError::Forbidden(format!("{what}: your role reaches only your own learning records"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[Role]) -> Principal {
        Principal {
            kind: CredentialKind::User,
            subject: "user:u1".into(),
            user_id: Some(uuid::Uuid::nil()),
            tenant_id: Some(uuid::Uuid::nil()),
            roles: roles.to_vec(),
            scopes: vec![],
            email: Some("Ann@Example.COM".into()),
        }
    }

    #[test]
    fn roles_imply_reach() {
        let url = "https://mirai.example";
        let learner = person(&[Role::Learner]);
        let own = identities(url, &learner);
        assert_eq!(own[0], format!("account:{url}|{}", uuid::Uuid::nil()));
        assert!(own.contains(&"mbox:mailto:Ann@example.com".to_owned()), "{own:?}");
        assert_eq!(person_reads(url, &learner), Some(Reach::Own(own.clone())));
        assert_eq!(person_writes(url, &learner), Some(Reach::Own(own)));
        let officer = person(&[Role::Learner, Role::ComplianceOfficer]);
        assert_eq!(person_reads(url, &officer), Some(Reach::Tenant));
        assert!(matches!(person_writes(url, &officer), Some(Reach::Own(_))));
        let manager = person(&[Role::OrgManager]);
        assert_eq!(person_writes(url, &manager), Some(Reach::Tenant));
        let mut key = person(&[Role::Learner]);
        key.kind = CredentialKind::ApiKey;
        assert_eq!(person_reads(url, &key), None);
    }
}
