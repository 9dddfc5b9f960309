//! assignment's tables, in the caller's tenant transaction (RLS) with typed ids.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{AssignmentId, CourseId, GroupId, LicenseId, OrgUnitId, StatementId, TenantId, UserId};
use mirai_kit::pagination::Cursor;
use sqlx::{FromRow, PgConnection};

// ---- projections ----------------------------------------------------------------------

/// Puts a member's roles and org unit (a newer revision wins). Returns the unit they are
/// in now when this changed it (or made them a member), for the assignments that reach
/// them there.
pub async fn member_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    roles: &[String],
    unit: Option<OrgUnitId>,
    revision: i64,
) -> Result<bool, sqlx::Error> {
    let before: Option<(Option<OrgUnitId>, bool)> =
        sqlx::query_as("SELECT org_unit_id, active FROM members WHERE user_id = $1 AND revision < $2 FOR UPDATE")
            .bind(user)
            .bind(revision)
            .fetch_optional(&mut *tx)
            .await?;
    let n = sqlx::query(
        "INSERT INTO members (tenant_id, user_id, roles, org_unit_id, revision, active) VALUES ($1, $2, $3, $4, $5, true) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET roles = EXCLUDED.roles, org_unit_id = EXCLUDED.org_unit_id, \
         revision = EXCLUDED.revision, active = true WHERE members.revision < EXCLUDED.revision",
    )
    .bind(tenant)
    .bind(user)
    .bind(roles)
    .bind(unit)
    .bind(revision)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1 && before.is_none_or(|(u, active)| !active || u != unit))
}

/// A member left (a newer revision wins). Returns whether they were a member.
pub async fn member_gone(tx: &mut PgConnection, user: UserId, revision: i64) -> Result<bool, sqlx::Error> {
    let n =
        sqlx::query("UPDATE members SET active = false, revision = $2 WHERE user_id = $1 AND revision < $2 AND active")
            .bind(user)
            .bind(revision)
            .execute(tx)
            .await?
            .rows_affected();
    Ok(n == 1)
}

pub async fn member_unit(tx: &mut PgConnection, user: UserId) -> Result<Option<Option<OrgUnitId>>, sqlx::Error> {
    sqlx::query_scalar("SELECT org_unit_id FROM members WHERE user_id = $1 AND active")
        .bind(user)
        .fetch_optional(tx)
        .await
}

/// Which of `users` are active members.
/// Serializes, per tenant, the writes that decide who an assignment reaches: a new
/// assignment reads the members of its units and groups while a member joining one reads
/// the assignments naming it. Without the lock each misses the other's uncommitted row
/// and the newcomer is never assigned.
pub async fn reach_lock(tx: &mut PgConnection, tenant: TenantId) -> Result<(), sqlx::Error> {
    mirai_kit::db::xact_lock(tx, &format!("assignment.reach:{tenant}")).await
}

pub async fn members_among(tx: &mut PgConnection, users: &[UserId]) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM members WHERE user_id = ANY($1) AND active").bind(users).fetch_all(tx).await
}

/// The active members of these units and every unit below them.
pub async fn members_under(tx: &mut PgConnection, units: &[OrgUnitId]) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE tree AS (SELECT id FROM org_units WHERE id = ANY($1) \
           UNION SELECT o.id FROM org_units o JOIN tree t ON o.parent_id = t.id) \
         SELECT user_id FROM members WHERE active AND org_unit_id IN (SELECT id FROM tree) ORDER BY user_id",
    )
    .bind(units)
    .fetch_all(tx)
    .await
}

/// A unit and every unit above it, nearest first.
pub async fn units_up(tx: &mut PgConnection, unit: OrgUnitId) -> Result<Vec<OrgUnitId>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE up AS (SELECT id, parent_id, 0 AS depth FROM org_units WHERE id = $1 \
           UNION ALL SELECT o.id, o.parent_id, up.depth + 1 FROM org_units o JOIN up ON o.id = up.parent_id \
           WHERE up.depth < 64) \
         SELECT id FROM up ORDER BY depth",
    )
    .bind(unit)
    .fetch_all(tx)
    .await
}

/// A unit and every unit below it.
pub async fn units_down(tx: &mut PgConnection, unit: OrgUnitId) -> Result<Vec<OrgUnitId>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH RECURSIVE tree AS (SELECT id FROM org_units WHERE id = $1 \
           UNION SELECT o.id FROM org_units o JOIN tree t ON o.parent_id = t.id) SELECT id FROM tree",
    )
    .bind(unit)
    .fetch_all(tx)
    .await
}

/// The active members holding `role` in `unit` (or, `unit` None, anywhere in the tenant).
pub async fn holders(tx: &mut PgConnection, role: &str, unit: Option<OrgUnitId>) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT user_id FROM members WHERE active AND $1 = ANY(roles) AND ($2::uuid IS NULL OR org_unit_id = $2) \
         ORDER BY user_id",
    )
    .bind(role)
    .bind(unit)
    .fetch_all(tx)
    .await
}

pub async fn org_unit_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    unit: OrgUnitId,
    parent: Option<OrgUnitId>,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO org_units (tenant_id, id, parent_id, name) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(unit)
    .bind(parent)
    .bind(name)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn org_units_known(tx: &mut PgConnection, units: &[OrgUnitId]) -> Result<Vec<OrgUnitId>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM org_units WHERE id = ANY($1)").bind(units).fetch_all(tx).await
}

pub async fn license_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    license: LicenseId,
    course: CourseId,
    ends_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO licenses (license_id, tenant_id, course_id, ends_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (license_id) DO NOTHING",
    )
    .bind(license)
    .bind(tenant)
    .bind(course)
    .bind(ends_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A license's status changed (a newer revision wins); one not projected yet is skipped
/// (its grant, when it comes, is the newer truth only if it is still active: marketplace
/// sends changes after grants on one stream, in order).
pub async fn license_set(
    tx: &mut PgConnection,
    license: LicenseId,
    active: bool,
    revision: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE licenses SET active = $2, revision = $3 WHERE license_id = $1 AND revision < $3")
        .bind(license)
        .bind(active)
        .bind(revision)
        .execute(tx)
        .await?;
    Ok(())
}

/// Whether the tenant holds an active license of the course now.
pub async fn course_known(tx: &mut PgConnection, course: CourseId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM licenses WHERE course_id = $1 AND active AND (ends_at IS NULL OR ends_at > now()))",
    )
    .bind(course)
    .fetch_one(tx)
    .await
}

// ---- assignments ----------------------------------------------------------------------

pub const ASSIGNMENT: &str = "id, tenant_id, course_id, title, due_at, due_days, recurrence_months, remind_days_before, \
     escalate_after_days, users, org_units, groups, status, created_by, created_at, canceled_at";

#[derive(Debug, Clone, FromRow)]
pub struct AssignmentRow {
    pub id: AssignmentId,
    pub tenant_id: TenantId,
    pub course_id: CourseId,
    pub title: String,
    pub due_at: Option<DateTime<Utc>>,
    pub due_days: Option<i32>,
    pub recurrence_months: Option<i32>,
    pub remind_days_before: Vec<i32>,
    pub escalate_after_days: i32,
    pub users: Vec<UserId>,
    pub org_units: Vec<OrgUnitId>,
    pub groups: Vec<GroupId>,
    pub status: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub canceled_at: Option<DateTime<Utc>>,
}

pub async fn assignment_insert(tx: &mut PgConnection, a: &AssignmentRow) -> Result<AssignmentRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO assignments (id, tenant_id, course_id, title, due_at, due_days, recurrence_months, \
         remind_days_before, escalate_after_days, users, org_units, groups, status, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13, 'active', $12) RETURNING {ASSIGNMENT}"
    ))
    .bind(a.id)
    .bind(a.tenant_id)
    .bind(a.course_id)
    .bind(&a.title)
    .bind(a.due_at)
    .bind(a.due_days)
    .bind(a.recurrence_months)
    .bind(&a.remind_days_before)
    .bind(a.escalate_after_days)
    .bind(&a.users)
    .bind(&a.org_units)
    .bind(&a.created_by)
    .bind(&a.groups)
    .fetch_one(tx)
    .await
}

pub async fn assignment_get(
    tx: &mut PgConnection,
    id: AssignmentId,
    lock: bool,
) -> Result<Option<AssignmentRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {ASSIGNMENT} FROM assignments WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub async fn assignment_cancel(tx: &mut PgConnection, id: AssignmentId) -> Result<AssignmentRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE assignments SET status = 'canceled', canceled_at = now() WHERE id = $1 RETURNING {ASSIGNMENT}"
    ))
    .bind(id)
    .fetch_one(tx)
    .await
}

/// The assignments matching `course`; with `reach` (a manager's units), only those that
/// name one of the units, reach someone in them, or were made by `me`.
pub async fn assignments_list(
    tx: &mut PgConnection,
    course: Option<CourseId>,
    reach: Option<&[OrgUnitId]>,
    me: &str,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<AssignmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ASSIGNMENT} FROM assignments s WHERE ($1::uuid IS NULL OR course_id = $1) \
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
         AND ($5::uuid[] IS NULL OR created_by = $6 OR org_units && $5 OR EXISTS (SELECT 1 FROM assignees a \
           JOIN members m ON m.user_id = a.user_id WHERE a.assignment_id = s.id AND m.org_unit_id = ANY($5))) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(course)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .bind(reach)
    .bind(me)
    .fetch_all(tx)
    .await
}

/// Which of `users` are members of these units.
pub async fn members_in(
    tx: &mut PgConnection,
    users: &[UserId],
    units: &[OrgUnitId],
) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM members WHERE user_id = ANY($1) AND org_unit_id = ANY($2)")
        .bind(users)
        .bind(units)
        .fetch_all(tx)
        .await
}

/// The active assignments naming this person.
pub async fn assignments_naming(tx: &mut PgConnection, user: UserId) -> Result<Vec<AssignmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ASSIGNMENT} FROM assignments WHERE status = 'active' AND $1 = ANY(users) ORDER BY created_at"
    ))
    .bind(user)
    .fetch_all(tx)
    .await
}

pub async fn group_put(tx: &mut PgConnection, tenant: TenantId, group: GroupId) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO groups (tenant_id, id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(tenant)
        .bind(group)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn groups_known(tx: &mut PgConnection, groups: &[GroupId]) -> Result<Vec<GroupId>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM groups WHERE id = ANY($1)").bind(groups).fetch_all(tx).await
}

/// Puts (`true`) or takes a person in or out of a group.
pub async fn group_member_set(
    tx: &mut PgConnection,
    tenant: TenantId,
    group: GroupId,
    user: UserId,
    present: bool,
) -> Result<(), sqlx::Error> {
    let sql = if present {
        "INSERT INTO group_members (tenant_id, group_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3"
    };
    sqlx::query(sql).bind(tenant).bind(group).bind(user).execute(tx).await?;
    Ok(())
}

/// The active members in any of these groups.
pub async fn members_of_groups(tx: &mut PgConnection, groups: &[GroupId]) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT g.user_id FROM group_members g JOIN members m ON m.user_id = g.user_id AND m.active \
         WHERE g.group_id = ANY($1) ORDER BY g.user_id",
    )
    .bind(groups)
    .fetch_all(tx)
    .await
}

/// The active assignments naming a group this person is in.
pub async fn assignments_for_groups_of(tx: &mut PgConnection, user: UserId) -> Result<Vec<AssignmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ASSIGNMENT} FROM assignments WHERE status = 'active' AND groups && \
         (SELECT coalesce(array_agg(group_id), '{{}}') FROM group_members WHERE user_id = $1) ORDER BY created_at"
    ))
    .bind(user)
    .fetch_all(tx)
    .await
}

/// The active assignments naming a group.
pub async fn assignments_for_group(tx: &mut PgConnection, group: GroupId) -> Result<Vec<AssignmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ASSIGNMENT} FROM assignments WHERE status = 'active' AND $1 = ANY(groups) ORDER BY created_at"
    ))
    .bind(group)
    .fetch_all(tx)
    .await
}

/// The active assignments naming any of these units.
pub async fn assignments_for_units(
    tx: &mut PgConnection,
    units: &[OrgUnitId],
) -> Result<Vec<AssignmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ASSIGNMENT} FROM assignments WHERE status = 'active' AND org_units && $1 ORDER BY created_at"
    ))
    .bind(units)
    .fetch_all(tx)
    .await
}

// ---- assignees ------------------------------------------------------------------------

pub const ASSIGNEE: &str = "a.id, a.tenant_id, a.assignment_id, a.user_id, a.course_id, a.assigned_at, a.due_at, a.status, \
     a.cycle, a.started_at, a.completed_at, a.completed_due_at, a.statement_id, a.expires_at, a.escalated_at, a.enrollment, \
     a.enrollment_detail, a.removed_at, a.updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct AssigneeRow {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    pub assignment_id: AssignmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub assigned_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub cycle: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_due_at: Option<DateTime<Utc>>,
    pub statement_id: Option<StatementId>,
    pub expires_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub enrollment: String,
    pub enrollment_detail: Option<String>,
    pub removed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Adds a person to an assignment; `None` when they are on it already. Someone who left
/// the tenant and comes back starts a new cycle due anew (a completion stands).
pub async fn assignee_insert(
    tx: &mut PgConnection,
    a: &AssignmentRow,
    user: UserId,
    due_at: DateTime<Utc>,
) -> Result<Option<AssigneeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO assignees AS a (id, tenant_id, assignment_id, user_id, course_id, due_at, status, enrollment) \
         VALUES ($6, $1, $2, $3, $4, $5, 'not_started', CASE WHEN EXISTS \
           (SELECT 1 FROM enrollments e WHERE e.user_id = $3 AND e.course_id = $4) THEN 'enrolled' ELSE 'pending' END) ON CONFLICT (assignment_id, user_id) DO UPDATE SET removed_at = NULL, updated_at = now(), \
         assigned_at = now(), cycle = a.cycle + 1, escalated_at = NULL, enrollment = EXCLUDED.enrollment, \
         due_at = CASE WHEN a.status IN ('completed_on_time', 'completed_late') THEN a.due_at ELSE EXCLUDED.due_at END, \
         status = CASE WHEN a.status IN ('completed_on_time', 'completed_late') THEN a.status \
           WHEN a.started_at IS NULL THEN 'not_started' ELSE 'in_progress' END \
         WHERE a.removed_at IS NOT NULL RETURNING {ASSIGNEE}"
    ))
    .bind(a.tenant_id)
    .bind(a.id)
    .bind(user)
    .bind(a.course_id)
    .bind(due_at)
    .bind(uuid::Uuid::now_v7())
    .fetch_optional(tx)
    .await
}

pub async fn assignee_get(
    tx: &mut PgConnection,
    assignment: AssignmentId,
    user: UserId,
) -> Result<Option<AssigneeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ASSIGNEE} FROM assignees a WHERE a.assignment_id = $1 AND a.user_id = $2 FOR UPDATE"
    ))
    .bind(assignment)
    .bind(user)
    .fetch_optional(tx)
    .await
}

/// A learner's current assignments of a course (locked), oldest first.
pub async fn assignees_of_learner(
    tx: &mut PgConnection,
    user: UserId,
    course: CourseId,
) -> Result<Vec<AssigneeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ASSIGNEE} FROM assignees a JOIN assignments s ON s.id = a.assignment_id \
         WHERE a.user_id = $1 AND a.course_id = $2 AND a.removed_at IS NULL AND s.status = 'active' \
         ORDER BY a.assigned_at, a.assignment_id FOR UPDATE OF a"
    ))
    .bind(user)
    .bind(course)
    .fetch_all(tx)
    .await
}

/// Every current assignee completed by one statement (locked).
pub async fn assignees_by_statement(
    tx: &mut PgConnection,
    statement: StatementId,
) -> Result<Vec<AssigneeRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {ASSIGNEE} FROM assignees a WHERE a.statement_id = $1 FOR UPDATE"))
        .bind(statement)
        .fetch_all(tx)
        .await
}

/// Records a valid completion (once).
pub async fn completion_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    course: CourseId,
    statement: StatementId,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO completions (tenant_id, user_id, course_id, statement_id, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(user)
    .bind(course)
    .bind(statement)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A voided (or purged) statement completes nothing any more.
pub async fn completion_delete(tx: &mut PgConnection, statement: StatementId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM completions WHERE statement_id = $1").bind(statement).execute(tx).await?;
    Ok(())
}

/// The learner's valid completions of a course at or after `since`, oldest first.
pub async fn completions_since(
    tx: &mut PgConnection,
    user: UserId,
    course: CourseId,
    since: DateTime<Utc>,
) -> Result<Vec<(StatementId, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT statement_id, at FROM completions WHERE user_id = $1 AND course_id = $2 AND at >= $3 \
         ORDER BY at, statement_id",
    )
    .bind(user)
    .bind(course)
    .bind(since)
    .fetch_all(tx)
    .await
}

/// Writes an assignee's state back.
pub async fn assignee_save(tx: &mut PgConnection, r: &AssigneeRow) -> Result<AssigneeRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE assignees AS a SET due_at = $3, status = $4, cycle = $5, started_at = $6, completed_at = $7, \
         statement_id = $8, expires_at = $9, escalated_at = $10, enrollment = $11, enrollment_detail = $12, \
         removed_at = $13, completed_due_at = $14, updated_at = now() WHERE a.assignment_id = $1 AND a.user_id = $2 RETURNING {ASSIGNEE}"
    ))
    .bind(r.assignment_id)
    .bind(r.user_id)
    .bind(r.due_at)
    .bind(&r.status)
    .bind(r.cycle)
    .bind(r.started_at)
    .bind(r.completed_at)
    .bind(r.statement_id)
    .bind(r.expires_at)
    .bind(r.escalated_at)
    .bind(&r.enrollment)
    .bind(&r.enrollment_detail)
    .bind(r.removed_at)
    .bind(r.completed_due_at)
    .fetch_one(tx)
    .await
}

/// A person left the tenant: they drop off every assignment (their record stays).
pub async fn assignees_remove_user(tx: &mut PgConnection, user: UserId) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE assignees SET removed_at = now(), updated_at = now() WHERE user_id = $1 AND removed_at IS NULL",
    )
    .bind(user)
    .execute(tx)
    .await?
    .rows_affected())
}

/// A learner holds a seat of a course (`true`) or no longer does.
pub async fn enrollment_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    course: CourseId,
    active: bool,
) -> Result<(), sqlx::Error> {
    let sql = if active {
        "INSERT INTO enrollments (tenant_id, user_id, course_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM enrollments WHERE tenant_id = $1 AND user_id = $2 AND course_id = $3"
    };
    sqlx::query(sql).bind(tenant).bind(user).bind(course).execute(tx).await?;
    Ok(())
}

/// The enrollment answer for a learner's assignees of a course.
pub async fn assignees_enrollment(
    tx: &mut PgConnection,
    user: UserId,
    course: CourseId,
    state: &str,
    detail: Option<&str>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE assignees SET enrollment = $3, enrollment_detail = $4, updated_at = now() \
         WHERE user_id = $1 AND course_id = $2 AND removed_at IS NULL AND (enrollment <> 'enrolled' OR $3 <> 'refused')",
    )
    .bind(user)
    .bind(course)
    .bind(state)
    .bind(detail)
    .execute(tx)
    .await?
    .rows_affected())
}

/// What the compliance report filters by.
#[derive(Debug, Default, Clone)]
pub struct ReportFilter {
    pub assignment: Option<AssignmentId>,
    pub course: Option<CourseId>,
    pub user: Option<UserId>,
    pub status: Option<String>,
    /// Only people in these units (a manager's reach); `None`: everyone.
    pub units: Option<Vec<OrgUnitId>>,
}

/// A line of the compliance report: an assignee with their assignment's title and unit.
#[derive(Debug, Clone, FromRow)]
pub struct ReportRow {
    #[sqlx(flatten)]
    pub assignee: AssigneeRow,
    pub title: String,
    pub org_unit_id: Option<OrgUnitId>,
}

/// Current assignees matching `f`, oldest first.
pub async fn report(
    tx: &mut PgConnection,
    f: &ReportFilter,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ASSIGNEE}, s.title, m.org_unit_id FROM assignees a JOIN assignments s ON s.id = a.assignment_id \
         LEFT JOIN members m ON m.user_id = a.user_id \
         WHERE a.removed_at IS NULL AND s.status = 'active' \
         AND ($1::uuid IS NULL OR a.assignment_id = $1) AND ($2::uuid IS NULL OR a.course_id = $2) \
         AND ($3::uuid IS NULL OR a.user_id = $3) AND ($4::text IS NULL OR a.status = $4) \
         AND ($5::uuid[] IS NULL OR m.org_unit_id = ANY($5)) \
         AND ($6::timestamptz IS NULL OR (a.assigned_at, a.id) > ($6, $7)) \
         ORDER BY a.assigned_at, a.id LIMIT $8"
    ))
    .bind(f.assignment)
    .bind(f.course)
    .bind(f.user)
    .bind(&f.status)
    .bind(&f.units)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

/// Current assignees of an assignment per status (within `units` when given).
pub async fn assignment_summary(
    tx: &mut PgConnection,
    id: AssignmentId,
    units: Option<&[OrgUnitId]>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.status, count(*) FROM assignees a LEFT JOIN members m ON m.user_id = a.user_id \
         WHERE a.assignment_id = $1 AND a.removed_at IS NULL AND ($2::uuid[] IS NULL OR m.org_unit_id = ANY($2)) \
         GROUP BY a.status",
    )
    .bind(id)
    .bind(units)
    .fetch_all(tx)
    .await
}

/// Whether a manager with `reach` sees an assignment (see [`assignments_list`]).
pub async fn assignment_visible(
    tx: &mut PgConnection,
    id: AssignmentId,
    reach: Option<&[OrgUnitId]>,
    me: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM assignments s WHERE s.id = $1 AND ($2::uuid[] IS NULL OR created_by = $3 \
           OR org_units && $2 OR EXISTS (SELECT 1 FROM assignees a JOIN members m ON m.user_id = a.user_id \
           WHERE a.assignment_id = s.id AND m.org_unit_id = ANY($2))))",
    )
    .bind(id)
    .bind(reach)
    .bind(me)
    .fetch_one(tx)
    .await
}
