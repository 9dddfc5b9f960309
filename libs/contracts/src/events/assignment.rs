//! Payloads assignment publishes: a course assigned to people of a tenant with a due date
//! (and, for recertification, again every N months), each assignee's progress through it
//! (added, reminded, overdue, escalated to their managers, completed, expired), and an
//! assignment canceled.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{AssignmentId, CourseId, GroupId, OrgUnitId, StatementId, TenantId, UserId},
};

/// A course was assigned. Who it reaches follows as one `assignee.added` per person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentCreated {
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub course_id: CourseId,
    pub title: String,
    /// A fixed due date for everyone, or `null` when `due_days` is set.
    pub due_at: Option<DateTime<Utc>>,
    /// Days each person has from being assigned, or `null` when `due_at` is set.
    pub due_days: Option<i32>,
    /// Recertification: the course is due again this many months after each completion.
    pub recurrence_months: Option<i32>,
    /// The people named.
    pub users: Vec<UserId>,
    /// The org units named (their sub-units and later members included).
    pub org_units: Vec<OrgUnitId>,
    /// The groups named (their later members included).
    #[serde(default)]
    pub groups: Vec<GroupId>,
    /// Who assigned it (`user:<id>`, `apikey:<id>`).
    pub created_by: String,
    pub at: DateTime<Utc>,
}

event!(AssignmentCreated, "assignment.assignment.created.v1", aggregate = assignment_id, tenant = tenant_id);

/// An assignment was canceled: no more reminders, nobody added; what was completed stays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentCanceled {
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub canceled_by: String,
    pub at: DateTime<Utc>,
}

event!(AssignmentCanceled, "assignment.assignment.canceled.v1", aggregate = assignment_id, tenant = tenant_id);

/// A person must complete the course by `due_at` (enrollment gives them a seat).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssigneeAdded {
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub title: String,
    pub due_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

event!(AssigneeAdded, "assignment.assignee.added.v1", aggregate = assignment_id, tenant = tenant_id);

/// The course is due soon for a person who has not completed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssigneeReminded {
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub title: String,
    pub due_at: DateTime<Utc>,
    /// Whole days left until `due_at` when the reminder was due.
    pub days_left: i32,
    pub at: DateTime<Utc>,
}

event!(AssigneeReminded, "assignment.assignee.reminded.v1", aggregate = assignment_id, tenant = tenant_id);

/// A person did not complete the course by its due date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssigneeOverdue {
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub title: String,
    pub due_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

event!(AssigneeOverdue, "assignment.assignee.overdue.v1", aggregate = assignment_id, tenant = tenant_id);

/// A person is still overdue days after the due date: their managers are told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssigneeEscalated {
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub title: String,
    pub due_at: DateTime<Utc>,
    /// The managers of the person's org unit (the nearest unit up that has one), else the
    /// tenant's org admins; empty when the tenant has neither.
    pub managers: Vec<UserId>,
    pub days_overdue: i32,
    pub at: DateTime<Utc>,
}

event!(AssigneeEscalated, "assignment.assignee.escalated.v1", aggregate = assignment_id, tenant = tenant_id);

/// A person completed the course (a completed or passed statement in the LRS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssigneeCompleted {
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub due_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    /// `completed_on_time` or `completed_late`.
    pub status: String,
    /// The statement that showed it.
    pub statement_id: StatementId,
    /// For recertification: when the completion lapses and the course is due again.
    pub expires_at: Option<DateTime<Utc>>,
}

event!(AssigneeCompleted, "assignment.assignee.completed.v1", aggregate = assignment_id, tenant = tenant_id);

/// A recertification lapsed: the person's last completion is older than the assignment's
/// recurrence and they have not completed the course again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssigneeExpired {
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub title: String,
    /// When the last completion lapsed (the new due date).
    pub expired_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

event!(AssigneeExpired, "assignment.assignee.expired.v1", aggregate = assignment_id, tenant = tenant_id);
