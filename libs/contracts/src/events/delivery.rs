//! Payloads delivery (the player) publishes: the xAPI statements a learner's steps
//! produced, for the LRS to store, and its part of a data-subject erasure. The player never calls the LRS: the statements go out
//! through its outbox, in the transaction that recorded the step.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    event::event,
    ids::{DataSubjectRequestId, PlaySessionId, TenantId, UserId},
};

/// Statements the player recorded for one learner's session: complete xAPI 1.0.3
/// statements, each with its `id` (minted by the player, so a redelivery stores nothing
/// twice) and `timestamp`. The LRS stores them with the platform's player as authority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementsRecorded {
    /// The learner's tenant (where the LRS stores the statements).
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// The session: every statement's `context.registration`, unless `registration`
    /// names another.
    pub session_id: PlaySessionId,
    /// The registration of every statement when it is not the session's: a cmi5 course
    /// (one package's structure) played in the session has one of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<uuid::Uuid>,
    /// At least one statement.
    pub statements: Vec<Value>,
}

event!(StatementsRecorded, "delivery.statements.recorded.v1", aggregate = session_id, tenant = tenant_id);

/// delivery erased a person's data in the tenant for a data-subject request: their play
/// sessions (progress, positions), devices and offline bundles deleted. Their statements
/// are the LRS's to erase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSubjectErased {
    pub tenant_id: TenantId,
    pub request_id: DataSubjectRequestId,
    pub outcome: ErasureOutcome,
}

event!(DataSubjectErased, "delivery.data_subject.erased.v1", aggregate = request_id, tenant = tenant_id);

/// What delivery erased for one data-subject request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureOutcome {
    pub sessions_deleted: u64,
    pub devices_deleted: u64,
    pub bundles_deleted: u64,
}
