//! Each assignee's compliance status, moved by what happens:
//!
//! - the LRS stores a statement of theirs about the course: any verb starts it
//!   (`in_progress`); `completed` or `passed` completes it, on time or late against the
//!   due date, by the statement's own timestamp (offline work counts when it was done);
//!   a voided completion is undone;
//! - the job table reaches a reminder (`days` before the due date), the due date
//!   (`overdue`, or for a recertification whose completion lapsed, `expired`) and the
//!   escalation to their managers `escalate_after_days` after it. Jobs carry the
//!   assignee's cycle: a completion, a void or a new due date starts a new cycle and the
//!   old cycle's jobs do nothing. They run once across replicas (the job table's lease).
//! - enrollment answers whether they got a seat.

use chrono::{DateTime, Duration, Months, Utc};
use futures::future::BoxFuture;
use mirai_contracts::{
    events::{
        assignment::{AssigneeCompleted, AssigneeEscalated, AssigneeExpired, AssigneeOverdue, AssigneeReminded},
        enrollment::{EnrollmentCreated, EnrollmentEnded, EnrollmentRefused},
        lrs::{StatementStored, StatementVoided},
        marketplace::{LicenseChanged, LicenseGranted},
        tenant::{
            GroupCreated, GroupMemberAdded, GroupMemberRemoved, MembershipGranted, MembershipRevoked, OrgUnitCreated,
        },
    },
    ids::{AssignmentId, StatementId, UserId},
    xapi,
};
use mirai_events::{
    Cx, EventMeta, HandleError, NewEvent,
    jobs::{Job, JobHandler},
    outbox,
};
use serde::Deserialize;
use sqlx::PgConnection;

use crate::{
    AppState,
    store::{self, AssigneeRow, AssignmentRow},
};

pub const REMIND_JOB: &str = "assignment.remind";
pub const DUE_JOB: &str = "assignment.due";
pub const ESCALATE_JOB: &str = "assignment.escalate";

fn done(status: &str) -> bool {
    matches!(status, "completed_on_time" | "completed_late")
}

/// Puts the current cycle's reminders and due date on the job table (reminders already
/// past are skipped: being assigned inside the window is its own notice).
pub async fn schedule(
    tx: &mut PgConnection,
    a: &AssignmentRow,
    r: &AssigneeRow,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for d in &a.remind_days_before {
        let at = r.due_at - Duration::days(i64::from(*d));
        if at > now {
            super::job_at(tx, REMIND_JOB, r, at, Some(*d)).await?;
        }
    }
    super::job_at(tx, DUE_JOB, r, r.due_at, None).await
}

fn meta() -> EventMeta {
    EventMeta { actor: Some(crate::NAME.into()), ..EventMeta::default() }
}

#[derive(Debug, Deserialize)]
struct Target {
    assignment_id: AssignmentId,
    user_id: UserId,
    cycle: i32,
    days: Option<i32>,
}

/// The assignment (still active) and the assignee (still on it, in the job's cycle).
async fn load(tx: &mut PgConnection, t: &Target) -> Result<Option<(AssignmentRow, AssigneeRow)>, HandleError> {
    let Some(a) = store::assignment_get(tx, t.assignment_id, false).await? else { return Ok(None) };
    if a.status != "active" {
        return Ok(None);
    }
    let Some(r) = store::assignee_get(tx, t.assignment_id, t.user_id).await? else { return Ok(None) };
    Ok((r.cycle == t.cycle && r.removed_at.is_none()).then_some((a, r)))
}

/// One of the three scheduled steps of an assignee's cycle.
pub struct Step(pub &'static str);

impl Step {
    async fn run(&self, tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let t: Target = serde_json::from_value(job.payload.clone())
            .map_err(|e| HandleError::Permanent(format!("an assignment job without its target: {e}")))?;
        let Some((a, mut r)) = load(tx, &t).await? else { return Ok(()) };
        let now = Utc::now();
        let event: NewEvent = match self.0 {
            REMIND_JOB => {
                // Reminded while it is open, or (a recertification) before it lapses.
                if !(matches!(r.status.as_str(), "not_started" | "in_progress")
                    || done(&r.status) && a.recurrence_months.is_some())
                {
                    return Ok(());
                }
                AssigneeReminded {
                    tenant_id: a.tenant_id,
                    assignment_id: a.id,
                    user_id: r.user_id,
                    course_id: a.course_id,
                    title: a.title.clone(),
                    due_at: r.due_at,
                    days_left: t.days.unwrap_or(0),
                    at: now,
                }
                .into()
            }
            DUE_JOB => {
                let event: NewEvent = match r.status.as_str() {
                    "not_started" | "in_progress" => {
                        r.status = "overdue".into();
                        AssigneeOverdue {
                            tenant_id: a.tenant_id,
                            assignment_id: a.id,
                            user_id: r.user_id,
                            course_id: a.course_id,
                            title: a.title.clone(),
                            due_at: r.due_at,
                            at: now,
                        }
                        .into()
                    }
                    s if done(s) && a.recurrence_months.is_some() => {
                        r.status = "expired".into();
                        AssigneeExpired {
                            tenant_id: a.tenant_id,
                            assignment_id: a.id,
                            user_id: r.user_id,
                            course_id: a.course_id,
                            title: a.title.clone(),
                            expired_at: r.due_at,
                            at: now,
                        }
                        .into()
                    }
                    _ => return Ok(()),
                };
                let r = store::assignee_save(tx, &r).await?;
                let at = r.due_at + Duration::days(i64::from(a.escalate_after_days));
                super::job_at(tx, ESCALATE_JOB, &r, at.max(now), None).await?;
                event
            }
            _ => {
                if !matches!(r.status.as_str(), "overdue" | "expired") || r.escalated_at.is_some() {
                    return Ok(());
                }
                let managers = managers(tx, r.user_id).await?;
                r.escalated_at = Some(now);
                let r = store::assignee_save(tx, &r).await?;
                AssigneeEscalated {
                    tenant_id: a.tenant_id,
                    assignment_id: a.id,
                    user_id: r.user_id,
                    course_id: a.course_id,
                    title: a.title.clone(),
                    due_at: r.due_at,
                    managers,
                    days_overdue: i32::try_from((now - r.due_at).num_days().max(0)).unwrap_or(i32::MAX),
                    at: now,
                }
                .into()
            }
        };
        outbox::enqueue_all(tx, crate::NAME, &meta(), [event]).await?;
        Ok(())
    }
}

impl JobHandler for Step {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Step::run(self, tx, job))
    }
}

/// Who hears of a person's escalation: the managers of their org unit, else of the
/// nearest unit above with one; else the tenant's org admins. Never the person.
pub async fn managers(tx: &mut PgConnection, user: UserId) -> Result<Vec<UserId>, sqlx::Error> {
    if let Some(Some(unit)) = store::member_unit(tx, user).await? {
        for unit in store::units_up(tx, unit).await? {
            let found: Vec<UserId> =
                store::holders(tx, "org_manager", Some(unit)).await?.into_iter().filter(|m| *m != user).collect();
            if !found.is_empty() {
                return Ok(found);
            }
        }
    }
    Ok(store::holders(tx, "org_admin", None).await?.into_iter().filter(|m| *m != user).collect())
}

// ---- what moves it --------------------------------------------------------------------

/// Statements about a course by a Mirai learner start or complete their assignments of it.
pub async fn on_statements(cx: Cx<'_, AppState>, e: StatementStored) -> Result<(), HandleError> {
    let url = cx.state.ctx.public_url.clone();
    let meta = cx.following();
    let now = Utc::now();
    let mut events: Vec<NewEvent> = vec![];
    for s in &e.statements {
        let user = xapi::user_of(&url, &s.actor);
        let course = s.object_activity.as_deref().and_then(|o| xapi::course_of(&url, o));
        let (Some(user), Some(course)) = (user, course) else { continue };
        // A completion counts when someone other than the learner asserts it (the player's
        // or an integration's credential, an admin), and does not report a failure. The
        // learner's own session may record progress, not certify themself.
        let completes = xapi::COMPLETION_VERBS.contains(&s.verb.as_str())
            && !s.authority.is_empty()
            && s.authority != s.actor
            && s.result.success != Some(false)
            && s.result.completion != Some(false);
        // When it happened: the statement's own time (offline work counts when it was
        // done), never later than when the LRS stored it.
        let at = s.timestamp.min(s.stored);
        for mut r in store::assignees_of_learner(cx.tx, user, course).await? {
            if at < r.assigned_at {
                continue;
            }
            if !completes {
                if r.started_at.is_none() {
                    r.started_at = Some(at);
                    if r.status == "not_started" {
                        r.status = "in_progress".into();
                    }
                    store::assignee_save(cx.tx, &r).await?;
                }
                continue;
            }
            let Some(a) = store::assignment_get(cx.tx, r.assignment_id, false).await? else { continue };
            if done(&r.status) && (a.recurrence_months.is_none() || r.completed_at.is_some_and(|c| at <= c)) {
                continue;
            }
            events.push(complete(cx.tx, &a, r, s.id, at, now).await?);
        }
        if completes {
            // Kept whether or not it completed anything now: if the completion an assignee
            // shows is voided, the next valid one stands in.
            store::completion_put(cx.tx, e.tenant_id, user, course, s.id, at).await?;
        }
    }
    outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
    Ok(())
}

/// Completes an assignee (locked) by a statement at `at`: on time or late against its
/// due date, and (recurring) due again `recurrence_months` later.
async fn complete(
    tx: &mut PgConnection,
    a: &store::AssignmentRow,
    mut r: store::AssigneeRow,
    statement: StatementId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<NewEvent, HandleError> {
    let due = r.due_at;
    let status = if at <= due { "completed_on_time" } else { "completed_late" };
    r.status = status.into();
    r.started_at.get_or_insert(at);
    r.completed_at = Some(at);
    r.completed_due_at = Some(due);
    r.statement_id = Some(statement);
    r.escalated_at = None;
    r.cycle += 1;
    r.expires_at = a.recurrence_months.and_then(|m| at.checked_add_months(Months::new(m as u32)));
    if let Some(expires) = r.expires_at {
        r.due_at = expires;
    }
    let r = store::assignee_save(tx, &r).await?;
    if r.expires_at.is_some() {
        schedule(tx, a, &r, now).await?;
    }
    Ok(AssigneeCompleted {
        tenant_id: r.tenant_id,
        assignment_id: r.assignment_id,
        user_id: r.user_id,
        course_id: r.course_id,
        due_at: due,
        completed_at: at,
        status: status.into(),
        statement_id: statement,
        expires_at: r.expires_at,
    }
    .into())
}

/// A voided completion is undone: the assignee is back to where they were, due when they
/// were (and overdue again at once if that is past) — unless another valid completion of
/// the course since they were assigned stands in (the earliest; for a recurring
/// assignment the latest, which its next due date runs from).
pub async fn on_voided(cx: Cx<'_>, e: StatementVoided) -> Result<(), HandleError> {
    let now = Utc::now();
    let meta = cx.following();
    let mut events: Vec<NewEvent> = vec![];
    store::completion_delete(cx.tx, e.statement_id).await?;
    for mut r in store::assignees_by_statement(cx.tx, e.statement_id).await? {
        let Some(a) = store::assignment_get(cx.tx, r.assignment_id, false).await? else { continue };
        r.due_at = r.completed_due_at.unwrap_or(r.due_at);
        r.status = if r.started_at.is_some() { "in_progress" } else { "not_started" }.into();
        r.completed_at = None;
        r.completed_due_at = None;
        r.statement_id = None;
        r.expires_at = None;
        r.escalated_at = None;
        r.cycle += 1;
        let r = store::assignee_save(cx.tx, &r).await?;
        if a.status != "active" || r.removed_at.is_some() {
            continue;
        }
        // A recurring assignment's stand-in must be of this cycle: after the completion
        // that closed the one before (the restored due date less the recurrence; for the
        // first cycle that is before the assignment, which bounds it anyway).
        let since = match a.recurrence_months {
            Some(m) => r
                .due_at
                .checked_sub_months(Months::new(m as u32))
                .map_or(r.assigned_at, |prev| prev.max(r.assigned_at) + Duration::microseconds(1)),
            _ => r.assigned_at,
        };
        let others = store::completions_since(cx.tx, r.user_id, r.course_id, since).await?;
        let next = if a.recurrence_months.is_some() { others.last() } else { others.first() };
        match next {
            Some(&(statement, at)) => events.push(complete(cx.tx, &a, r, statement, at, now).await?),
            None => schedule(cx.tx, &a, &r, now).await?,
        }
    }
    outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
    Ok(())
}

pub async fn on_enrolled(cx: Cx<'_>, e: EnrollmentCreated) -> Result<(), HandleError> {
    store::enrollment_put(cx.tx, e.tenant_id, e.user_id, e.course_id, true).await?;
    store::assignees_enrollment(cx.tx, e.user_id, e.course_id, "enrolled", None).await?;
    Ok(())
}

/// Enrollment could not give an assignee a seat: the report says why.
pub async fn on_refused(cx: Cx<'_>, e: EnrollmentRefused) -> Result<(), HandleError> {
    if e.requested_by.starts_with("assignment:") {
        store::assignees_enrollment(cx.tx, e.user_id, e.course_id, "refused", Some(&e.detail)).await?;
    }
    Ok(())
}

pub async fn on_enrollment_ended(cx: Cx<'_>, e: EnrollmentEnded) -> Result<(), HandleError> {
    store::enrollment_put(cx.tx, e.tenant_id, e.user_id, e.course_id, false).await?;
    store::assignees_enrollment(cx.tx, e.user_id, e.course_id, "ended", Some(&e.reason)).await?;
    Ok(())
}

/// A course the tenant holds an active license for may be assigned.
pub async fn on_license(cx: Cx<'_>, e: LicenseGranted) -> Result<(), HandleError> {
    store::license_put(cx.tx, e.tenant_id, e.license_id, e.course_id, e.ends_at).await?;
    Ok(())
}

/// A revoked license no longer lets its course be assigned.
pub async fn on_license_changed(cx: Cx<'_>, e: LicenseChanged) -> Result<(), HandleError> {
    store::license_set(cx.tx, e.license_id, e.status == "active" && e.seats > 0, e.revision).await?;
    Ok(())
}

pub async fn on_org_unit(cx: Cx<'_>, e: OrgUnitCreated) -> Result<(), HandleError> {
    store::org_unit_put(cx.tx, e.tenant_id, e.org_unit_id, e.parent_id, &e.name).await?;
    Ok(())
}

pub async fn on_group(cx: Cx<'_>, e: GroupCreated) -> Result<(), HandleError> {
    store::group_put(cx.tx, e.tenant_id, e.group_id).await?;
    Ok(())
}

/// Someone who joins a group gets the active assignments naming it (when they are a
/// member of the tenant).
pub async fn on_group_member(cx: Cx<'_>, e: GroupMemberAdded) -> Result<(), HandleError> {
    store::reach_lock(cx.tx, e.tenant_id).await?;
    store::group_member_set(cx.tx, e.tenant_id, e.group_id, e.user_id, true).await?;
    if store::members_among(cx.tx, &[e.user_id]).await?.is_empty() {
        return Ok(());
    }
    let meta = cx.following();
    let now = Utc::now();
    let mut events = vec![];
    for a in store::assignments_for_group(cx.tx, e.group_id).await? {
        events.extend(super::add_assignee(cx.tx, &a, e.user_id, now).await?);
    }
    outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
    Ok(())
}

/// Leaving a group does not take back what was assigned (as moving units does not).
pub async fn on_group_member_gone(cx: Cx<'_>, e: GroupMemberRemoved) -> Result<(), HandleError> {
    store::group_member_set(cx.tx, e.tenant_id, e.group_id, e.user_id, false).await?;
    Ok(())
}

/// A member who joins, comes back or moves to another org unit gets the assignments that
/// name them or reach their unit.
pub async fn on_member(cx: Cx<'_>, e: MembershipGranted) -> Result<(), HandleError> {
    store::reach_lock(cx.tx, e.tenant_id).await?;
    let moved = store::member_put(cx.tx, e.tenant_id, e.user_id, &e.roles, e.org_unit_id, e.revision).await?;
    if moved {
        let meta = cx.following();
        let events = super::on_joined(cx.tx, e.user_id, e.org_unit_id, Utc::now()).await?;
        outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
    }
    Ok(())
}

/// A member who leaves drops off their assignments (the record stays for audit).
pub async fn on_member_gone(cx: Cx<'_>, e: MembershipRevoked) -> Result<(), HandleError> {
    if store::member_gone(cx.tx, e.user_id, e.revision).await? {
        store::assignees_remove_user(cx.tx, e.user_id).await?;
    }
    Ok(())
}
