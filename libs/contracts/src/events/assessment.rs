//! Payloads assessment publishes: an attempt of a quiz graded (what certification and the
//! player listen to), and the xAPI statements of an attempt for the LRS to store (never
//! an HTTP call: they go out through the outbox, in the transaction that graded it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    event::event,
    ids::{CourseId, QuizAttemptId, QuizId, TenantId, UserId},
};

/// An attempt was graded: submitted, closed by its time limit, or reviewed (its essays
/// scored by a person).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptGraded {
    /// The learner's tenant.
    pub tenant_id: TenantId,
    pub attempt_id: QuizAttemptId,
    pub quiz_id: QuizId,
    /// The course the quiz belongs to.
    pub course_id: CourseId,
    pub user_id: UserId,
    /// The points scored over the points possible, from 0 to 1.
    pub scaled: f64,
    pub score: f64,
    pub max_score: f64,
    pub passed: bool,
    /// `submitted` (by the learner) or `time_limit` (closed by the server).
    pub closed_by: String,
    pub at: DateTime<Utc>,
}

event!(AttemptGraded, "assessment.attempt.graded.v1", aggregate = attempt_id, tenant = tenant_id);

/// Statements of one attempt: complete xAPI 1.0.3 statements, each with its `id` (minted
/// by assessment, so a redelivery stores nothing twice) and `timestamp`, every one with
/// the attempt as its `context.registration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementsRecorded {
    /// The learner's tenant (where the LRS stores the statements).
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub attempt_id: QuizAttemptId,
    /// At least one statement.
    pub statements: Vec<Value>,
}

event!(StatementsRecorded, "assessment.statements.recorded.v1", aggregate = attempt_id, tenant = tenant_id);
