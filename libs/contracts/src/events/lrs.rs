//! Payloads the LRS publishes: statements stored, voided and purged, and its part of a
//! data-subject erasure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    event::event,
    ids::{DataSubjectRequestId, StatementId, TenantId},
};

/// The LRS erased a person's data in the tenant for a data-subject request: their
/// statements anonymized (the agent replaced by a pseudonymous account), their State and
/// Agent Profile documents and their attachments deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSubjectErased {
    /// The tenant the person's data was erased in.
    pub tenant_id: TenantId,
    /// The data-subject request answered.
    pub request_id: DataSubjectRequestId,
    /// What the LRS did.
    pub outcome: ErasureOutcome,
}

event!(DataSubjectErased, "lrs.data_subject.erased.v1", aggregate = request_id, tenant = tenant_id);

/// What the LRS erased for one data-subject request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureOutcome {
    /// Statements that named the person, now anonymized.
    pub statements_anonymized: u64,
    /// State and Agent Profile documents deleted.
    pub documents_deleted: u64,
    /// Attachment contents deleted.
    pub attachments_deleted: u64,
    /// The pseudonymous account name the person's agent became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonym: Option<String>,
}

/// A platform admin purged a statement for good (audit record; consumers drop what they
/// derived from it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementPurged {
    /// The tenant the statement was in.
    pub tenant_id: TenantId,
    /// The purged statement.
    pub statement_id: StatementId,
    /// Who purged it.
    pub purged_by: String,
    /// Why (1 to 500 characters).
    pub reason: String,
}

event!(StatementPurged, "lrs.statement.purged.v1", aggregate = statement_id, tenant = tenant_id);

/// Statements stored by one request (a batch), summarized for analytics, assignment and
/// certification. Voided statements are announced separately.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementStored {
    /// The tenant the statements were stored in (also the event's aggregate).
    pub tenant_id: TenantId,
    /// The statements, at least one.
    pub statements: Vec<StoredStatement>,
}

event!(StatementStored, "lrs.statement.stored.v1", aggregate = tenant_id, tenant = tenant_id);

/// The summary of one stored statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredStatement {
    /// The statement id.
    pub id: StatementId,
    /// Canonical IFI of the actor, e.g. mbox:mailto:a@b.c; for an anonymous Group, `group:`
    /// and its members' IFIs, sorted and space-separated.
    pub actor: String,
    /// The verb's IRI.
    pub verb: String,
    /// The object's activity IRI; `null` when the object is not an activity.
    pub object_activity: Option<String>,
    /// The context's registration; `null` when it has none.
    pub registration: Option<Uuid>,
    /// Canonical IFI of the statement's authority: who asserted it (the writing
    /// credential's account). Empty in events written before it was added.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub authority: String,
    /// The statement's timestamp (millisecond precision).
    #[serde(with = "millis")]
    pub timestamp: DateTime<Utc>,
    /// When the LRS stored it (millisecond precision).
    #[serde(with = "millis")]
    pub stored: DateTime<Utc>,
    /// The statement's result, summarized.
    pub result: ResultSummary,
}

/// A statement's result, summarized; each field is `null` when the statement has none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultSummary {
    /// `result.success`.
    #[serde(default)]
    pub success: Option<bool>,
    /// `result.completion`.
    #[serde(default)]
    pub completion: Option<bool>,
    /// `result.score.scaled`, from -1 to 1.
    #[serde(default)]
    pub score_scaled: Option<f64>,
}

/// A statement was voided by a voiding statement; consumers undo its effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementVoided {
    /// The tenant the statement is in.
    pub tenant_id: TenantId,
    /// The voided statement.
    pub statement_id: StatementId,
    /// The voiding statement.
    pub voided_by: StatementId,
}

event!(StatementVoided, "lrs.statement.voided.v1", aggregate = statement_id, tenant = tenant_id);

/// Timestamps as the LRS reports them: RFC 3339, UTC, milliseconds (`...T10:00:00.000Z`).
mod millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(d)
    }
}
