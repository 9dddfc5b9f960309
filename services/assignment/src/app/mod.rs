//! Assignment's use-cases: assign a course to people and org units with a due date (once,
//! or again every N months after each completion), cancel, read; the compliance report;
//! and each person's compliance status as the LRS's completions, the job table's
//! reminders and due dates, and enrollment's answers move it (`track`).

use chrono::{DateTime, Duration, Utc};
use mirai_contracts::{
    events::assignment::{AssigneeAdded, AssignmentCanceled, AssignmentCreated},
    ids::{AssignmentId, CourseId, GroupId, OrgUnitId, UserId},
};
use mirai_events::{NewEvent, jobs};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{
    AppState,
    store::{self, AssigneeRow, AssignmentRow, ReportFilter, ReportRow},
};

pub mod track;

/// Who assigns courses.
pub const ASSIGNERS: &[Role] = &[Role::OrgAdmin, Role::OrgManager];
/// Who reads assignments and the compliance report.
pub const READERS: &[Role] = &[Role::OrgAdmin, Role::OrgManager, Role::ComplianceOfficer];
/// At most this many people named in one assignment (org units reach any number).
pub const MAX_USERS: usize = 1000;
pub const MAX_UNITS: usize = 100;
/// The CSV report's ceiling; filter for more.
pub const MAX_CSV_ROWS: usize = 100_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssignment {
    /// A course the tenant holds a license for.
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    /// What people and reports call it (1 to 200 characters).
    pub title: String,
    /// People of the tenant to assign it to.
    #[serde(default)]
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub users: Vec<UserId>,
    /// Org units whose members (in sub-units too, and who join later) get it.
    #[serde(default)]
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub org_units: Vec<OrgUnitId>,
    /// Groups whose members (and who joins them later) get it (org admins only).
    #[serde(default)]
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub groups: Vec<GroupId>,
    /// A due date for everyone (in the future); or send `due_days`.
    pub due_at: Option<DateTime<Utc>>,
    /// Days each person has from being assigned (1 to 3650); or send `due_at`.
    pub due_days: Option<i32>,
    /// Recertification: due again this many months (1 to 120) after each completion.
    pub recurrence_months: Option<i32>,
    /// Reminders this many days before each due date (each 1 to 365, at most 10;
    /// default 7 and 1).
    pub remind_days_before: Option<Vec<i32>>,
    /// Days overdue (0 to 365, default 7) after which the person's managers are told.
    pub escalate_after_days: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Assignment {
    #[schema(value_type = uuid::Uuid)]
    pub id: AssignmentId,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub title: String,
    pub due_at: Option<DateTime<Utc>>,
    pub due_days: Option<i32>,
    pub recurrence_months: Option<i32>,
    pub remind_days_before: Vec<i32>,
    pub escalate_after_days: i32,
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub users: Vec<UserId>,
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub org_units: Vec<OrgUnitId>,
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub groups: Vec<GroupId>,
    /// `active` or `canceled`.
    pub status: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub canceled_at: Option<DateTime<Utc>>,
    /// How many current assignees are in each compliance status (only on a single
    /// assignment's read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

/// Current assignees per compliance status.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Summary {
    pub not_started: i64,
    pub in_progress: i64,
    pub completed_on_time: i64,
    pub completed_late: i64,
    pub overdue: i64,
    pub expired: i64,
}

impl From<AssignmentRow> for Assignment {
    fn from(r: AssignmentRow) -> Self {
        Self {
            id: r.id,
            course_id: r.course_id,
            title: r.title,
            due_at: r.due_at,
            due_days: r.due_days,
            recurrence_months: r.recurrence_months,
            remind_days_before: r.remind_days_before,
            escalate_after_days: r.escalate_after_days,
            users: r.users,
            org_units: r.org_units,
            groups: r.groups,
            status: r.status,
            created_by: r.created_by,
            created_at: r.created_at,
            canceled_at: r.canceled_at,
            summary: None,
        }
    }
}

/// One person's standing on one assignment: a line of the compliance report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assignee {
    #[schema(value_type = uuid::Uuid)]
    pub assignment_id: AssignmentId,
    pub title: String,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub org_unit_id: Option<OrgUnitId>,
    /// `not_started`, `in_progress`, `completed_on_time`, `completed_late`, `overdue` or
    /// `expired` (a recertification lapsed).
    pub status: String,
    pub assigned_at: DateTime<Utc>,
    /// When it is due (after a recurring completion: when that completion lapses).
    pub due_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// Whether enrollment gave them a seat: `pending`, `enrolled`, `refused` or `ended`.
    pub enrollment: String,
    /// Why not, when refused or ended.
    pub enrollment_detail: Option<String>,
}

impl From<ReportRow> for Assignee {
    fn from(r: ReportRow) -> Self {
        let a = r.assignee;
        Self {
            assignment_id: a.assignment_id,
            title: r.title,
            course_id: a.course_id,
            user_id: a.user_id,
            org_unit_id: r.org_unit_id,
            status: a.status,
            assigned_at: a.assigned_at,
            due_at: a.due_at,
            started_at: a.started_at,
            completed_at: a.completed_at,
            expires_at: a.expires_at,
            escalated_at: a.escalated_at,
            enrollment: a.enrollment,
            enrollment_detail: a.enrollment_detail,
        }
    }
}

fn validate(input: &CreateAssignment, now: DateTime<Utc>) -> Result<(Vec<i32>, i32), AppError> {
    let title = input.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(AppError::invalid("title", "must be 1 to 200 characters"));
    }
    match (input.due_at, input.due_days) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(AppError::invalid("due_at", "send exactly one of due_at and due_days"));
        }
        (Some(at), None) if at <= now => return Err(AppError::invalid("due_at", "must be in the future")),
        (Some(at), None) if at > now + Duration::days(3650) => {
            return Err(AppError::invalid("due_at", "must be within 10 years"));
        }
        (None, Some(d)) if !(1..=3650).contains(&d) => {
            return Err(AppError::invalid("due_days", "must be 1 to 3650"));
        }
        _ => {}
    }
    if input.recurrence_months.is_some_and(|m| !(1..=120).contains(&m)) {
        return Err(AppError::invalid("recurrence_months", "must be 1 to 120"));
    }
    let mut remind = input.remind_days_before.clone().unwrap_or_else(|| vec![7, 1]);
    if remind.len() > 10 || remind.iter().any(|d| !(1..=365).contains(d)) {
        return Err(AppError::invalid("remind_days_before", "at most 10 values, each 1 to 365"));
    }
    remind.sort_unstable_by(|a, b| b.cmp(a));
    remind.dedup();
    let escalate = input.escalate_after_days.unwrap_or(7);
    if !(0..=365).contains(&escalate) {
        return Err(AppError::invalid("escalate_after_days", "must be 0 to 365"));
    }
    if input.users.is_empty() && input.org_units.is_empty() && input.groups.is_empty() {
        return Err(AppError::invalid("users", "name at least one person, org unit or group"));
    }
    if input.groups.len() > MAX_UNITS {
        return Err(AppError::invalid("groups", format!("at most {MAX_UNITS}")));
    }
    if input.users.len() > MAX_USERS {
        return Err(AppError::invalid("users", format!("at most {MAX_USERS}; assign org units for more")));
    }
    if input.org_units.len() > MAX_UNITS {
        return Err(AppError::invalid("org_units", format!("at most {MAX_UNITS}")));
    }
    Ok((remind, escalate))
}

/// The org units a principal reaches: `None` for the whole tenant (org admins,
/// compliance officers, API keys, and managers without a unit), else a manager's unit and
/// every unit below it. A manager this service does not know as a member (left, or not
/// projected yet) reaches nothing: the scope fails closed.
async fn reach(tx: &mut PgConnection, p: &Principal) -> Result<Option<Vec<OrgUnitId>>, AppError> {
    if p.has_role(Role::OrgAdmin) || p.has_role(Role::ComplianceOfficer) {
        return Ok(None);
    }
    let Some(user) = p.user_id.map(UserId::from) else { return Ok(None) };
    match store::member_unit(tx, user).await? {
        Some(Some(unit)) => Ok(Some(store::units_down(tx, unit).await?)),
        Some(None) => Ok(None),
        None => Err(AppError::Forbidden("you are not a member of the tenant (yet)".into())),
    }
}

/// Assigns a course. Everyone named and every member of the units and groups named (at
/// once, and later as they join) becomes an assignee, due by `due_at` or `due_days` after.
#[tracing::instrument(skip_all)]
pub async fn create(state: &AppState, p: &Principal, input: CreateAssignment) -> Result<Assignment, AppError> {
    let tenant = p.own_tenant(ASSIGNERS)?;
    let now = Utc::now();
    let (remind, escalate) = validate(&input, now)?;
    let mut users = input.users.clone();
    users.sort_unstable();
    users.dedup();
    let mut units = input.org_units.clone();
    units.sort_unstable();
    units.dedup();
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    store::reach_lock(&mut tx, tenant).await?;
    if !store::course_known(&mut tx, input.course_id).await? {
        return Err(AppError::client(
            axum::http::StatusCode::CONFLICT,
            "no-license",
            "No license",
            format!("the tenant holds no license for course {}", input.course_id),
        ));
    }
    let known = store::members_among(&mut tx, &users).await?;
    if let Some(u) = users.iter().find(|u| !known.contains(u)) {
        return Err(AppError::invalid("users", format!("{u} is not a member of the tenant")));
    }
    let known = store::org_units_known(&mut tx, &units).await?;
    if let Some(u) = units.iter().find(|u| !known.contains(u)) {
        return Err(AppError::invalid("org_units", format!("{u} is not an org unit of the tenant")));
    }
    let mut groups = input.groups.clone();
    groups.sort_unstable();
    groups.dedup();
    let known = store::groups_known(&mut tx, &groups).await?;
    if let Some(g) = groups.iter().find(|g| !known.contains(g)) {
        return Err(AppError::invalid("groups", format!("{g} is not a group of the tenant")));
    }
    let mut people = users.clone();
    people.extend(store::members_under(&mut tx, &units).await?);
    people.extend(store::members_of_groups(&mut tx, &groups).await?);
    people.sort_unstable();
    people.dedup();
    // A manager assigns within their part of the organization.
    if let Some(reach) = reach(&mut tx, p).await? {
        if !groups.is_empty() {
            return Err(AppError::Forbidden("groups span the organization: an org admin assigns them".into()));
        }
        if let Some(u) = units.iter().find(|u| !reach.contains(u)) {
            return Err(AppError::Forbidden(format!("org unit {u} is outside the units you manage")));
        }
        for u in &users {
            let unit = store::member_unit(&mut tx, *u).await?.flatten();
            if unit.is_none_or(|unit| !reach.contains(&unit)) {
                return Err(AppError::Forbidden(format!("{u} is outside the units you manage")));
            }
        }
    }
    let row = AssignmentRow {
        id: AssignmentId::new(),
        tenant_id: tenant,
        course_id: input.course_id,
        title: input.title.trim().to_owned(),
        due_at: input.due_at,
        due_days: input.due_days,
        recurrence_months: input.recurrence_months,
        remind_days_before: remind,
        escalate_after_days: escalate,
        users,
        org_units: units,
        groups,
        status: "active".into(),
        created_by: p.subject.clone(),
        created_at: now,
        canceled_at: None,
    };
    let row = store::assignment_insert(&mut tx, &row).await?;
    let mut events: Vec<NewEvent> = vec![
        AssignmentCreated {
            tenant_id: tenant,
            assignment_id: row.id,
            course_id: row.course_id,
            title: row.title.clone(),
            due_at: row.due_at,
            due_days: row.due_days,
            recurrence_months: row.recurrence_months,
            users: row.users.clone(),
            org_units: row.org_units.clone(),
            groups: row.groups.clone(),
            created_by: row.created_by.clone(),
            at: row.created_at,
        }
        .into(),
    ];
    for user in people {
        events.extend(add_assignee(&mut tx, &row, user, now).await?);
    }
    state.ctx.emit(&mut tx, &p.event_meta(), events).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// Puts a person on an assignment with their due date and its reminders on the job
/// table; the event asks enrollment for a seat. Nothing when they are on it already.
pub async fn add_assignee(
    tx: &mut PgConnection,
    a: &AssignmentRow,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Option<NewEvent>, sqlx::Error> {
    let due = a.due_at.unwrap_or_else(|| now + Duration::days(i64::from(a.due_days.unwrap_or(30))));
    let Some(r) = store::assignee_insert(tx, a, user, due).await? else { return Ok(None) };
    track::schedule(tx, a, &r, now).await?;
    Ok(Some(
        AssigneeAdded {
            tenant_id: a.tenant_id,
            assignment_id: a.id,
            user_id: user,
            course_id: a.course_id,
            title: a.title.clone(),
            due_at: r.due_at,
            at: r.assigned_at,
        }
        .into(),
    ))
}

/// Cancels an assignment: no more reminders, nobody added; the record stays.
pub async fn cancel(state: &AppState, p: &Principal, id: AssignmentId) -> Result<Assignment, AppError> {
    let tenant = p.own_tenant(ASSIGNERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::assignment_get(&mut tx, id, true).await?.ok_or_else(|| AppError::not_found("assignment", id))?;
    if row.status != "active" {
        tx.commit().await?;
        return Ok(row.into());
    }
    // A manager cancels what they assigned.
    if !p.has_role(Role::OrgAdmin) && row.created_by != p.subject {
        return Err(AppError::Forbidden("a manager cancels only the assignments they made".into()));
    }
    let row = store::assignment_cancel(&mut tx, id).await?;
    let ev = AssignmentCanceled {
        tenant_id: tenant,
        assignment_id: id,
        canceled_by: p.subject.clone(),
        at: row.canceled_at.unwrap_or_else(Utc::now),
    };
    state.ctx.emit(&mut tx, &p.event_meta(), [ev.into()]).await?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn get(state: &AppState, p: &Principal, id: AssignmentId) -> Result<Assignment, AppError> {
    let tenant = p.own_tenant(READERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let reach = reach(&mut tx, p).await?;
    let row = store::assignment_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("assignment", id))?;
    if !store::assignment_visible(&mut tx, id, reach.as_deref(), &p.subject).await? {
        return Err(AppError::not_found("assignment", id));
    }
    let counts = store::assignment_summary(&mut tx, id, reach.as_deref()).await?;
    let mut s = Summary::default();
    for (status, n) in counts {
        match status.as_str() {
            "not_started" => s.not_started = n,
            "in_progress" => s.in_progress = n,
            "completed_on_time" => s.completed_on_time = n,
            "completed_late" => s.completed_late = n,
            "overdue" => s.overdue = n,
            _ => s.expired = n,
        }
    }
    let mut a = scoped(&mut tx, row, reach.as_deref()).await?;
    tx.commit().await?;
    a.summary = Some(s);
    Ok(a)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssignmentQuery {
    #[param(value_type = Option<uuid::Uuid>)]
    pub course_id: Option<CourseId>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub async fn list(state: &AppState, p: &Principal, q: AssignmentQuery) -> Result<Page<Assignment>, AppError> {
    let tenant = p.own_tenant(READERS)?;
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let reach = reach(&mut tx, p).await?;
    let rows =
        store::assignments_list(&mut tx, q.course_id, reach.as_deref(), &p.subject, page.cursor()?, limit).await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    let mut data = Vec::with_capacity(page.data.len());
    for row in page.data {
        data.push(scoped(&mut tx, row, reach.as_deref()).await?);
    }
    tx.commit().await?;
    Ok(Page { data, next_cursor: page.next_cursor })
}

/// What a manager sees of an assignment: the people named in their units only.
async fn scoped(
    tx: &mut PgConnection,
    mut row: AssignmentRow,
    reach: Option<&[OrgUnitId]>,
) -> Result<Assignment, AppError> {
    if let Some(units) = reach {
        let inside = store::members_in(tx, &row.users, units).await?;
        row.users.retain(|u| inside.contains(u));
        row.org_units.retain(|u| units.contains(u));
    }
    Ok(row.into())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    #[param(value_type = Option<uuid::Uuid>)]
    pub assignment_id: Option<AssignmentId>,
    #[param(value_type = Option<uuid::Uuid>)]
    pub course_id: Option<CourseId>,
    #[param(value_type = Option<uuid::Uuid>)]
    pub user_id: Option<UserId>,
    /// Only people of this org unit and the units below it.
    #[param(value_type = Option<uuid::Uuid>)]
    pub org_unit_id: Option<OrgUnitId>,
    /// One compliance status.
    pub status: Option<String>,
    /// `json` (default, paged) or `csv` (every matching line).
    pub format: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub const STATUSES: &[&str] =
    &["not_started", "in_progress", "completed_on_time", "completed_late", "overdue", "expired"];

async fn filter(tx: &mut PgConnection, p: &Principal, q: &ReportQuery) -> Result<ReportFilter, AppError> {
    if let Some(s) = &q.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(AppError::invalid("status", format!("must be one of {}", STATUSES.join(", "))));
    }
    let mut units = reach(tx, p).await?;
    if let Some(unit) = q.org_unit_id {
        let below = store::units_down(tx, unit).await?;
        if below.is_empty() {
            return Err(AppError::invalid("org_unit_id", "is not an org unit of the tenant"));
        }
        units = Some(match units {
            Some(reach) => below.into_iter().filter(|u| reach.contains(u)).collect(),
            None => below,
        });
    }
    Ok(ReportFilter {
        assignment: q.assignment_id,
        course: q.course_id,
        user: q.user_id,
        status: q.status.clone(),
        units,
    })
}

/// The compliance report: a page of assignees matching the query (a manager sees the
/// people of their units).
pub async fn report(state: &AppState, p: &Principal, q: ReportQuery) -> Result<Page<Assignee>, AppError> {
    let tenant = p.own_tenant(READERS)?;
    let page = PageParams { limit: q.limit, cursor: q.cursor.clone() };
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let f = filter(&mut tx, p, &q).await?;
    let rows = store::report(&mut tx, &f, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.assignee.assigned_at, id: r.assignee.id });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

/// The caller's own assignments.
pub async fn mine(state: &AppState, p: &Principal, page: PageParams) -> Result<Page<Assignee>, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let user =
        UserId::from(p.user_id.ok_or_else(|| AppError::Forbidden("an API key has no assignments of its own".into()))?);
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let f = ReportFilter { user: Some(user), ..ReportFilter::default() };
    let rows = store::report(&mut tx, &f, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.assignee.assigned_at, id: r.assignee.id });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

/// The compliance report as CSV: every matching line, oldest first, one header row.
/// Text a spreadsheet would run as a formula is quoted with a leading `'`.
pub async fn report_csv(state: &AppState, p: &Principal, q: ReportQuery) -> Result<Vec<u8>, AppError> {
    let tenant = p.own_tenant(READERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let f = filter(&mut tx, p, &q).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| AppError::Internal(anyhow::anyhow!(e));
    out.write_record([
        "assignment_id",
        "title",
        "course_id",
        "user_id",
        "org_unit_id",
        "status",
        "assigned_at",
        "due_at",
        "started_at",
        "completed_at",
        "expires_at",
        "escalated_at",
        "enrollment",
    ])
    .map_err(csv_err)?;
    let (mut after, mut lines) = (None, 0usize);
    loop {
        let rows = store::report(&mut tx, &f, after, 1000).await?;
        let more = rows.len() > 1000;
        for r in rows.iter().take(1000) {
            lines += 1;
            if lines > MAX_CSV_ROWS {
                return Err(AppError::client(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "report-too-large",
                    "Report too large",
                    format!("more than {MAX_CSV_ROWS} lines; filter by assignment, course, org unit or status"),
                ));
            }
            let a = &r.assignee;
            let t = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
            out.write_record([
                a.assignment_id.to_string(),
                spreadsheet_safe(&r.title),
                a.course_id.to_string(),
                a.user_id.to_string(),
                r.org_unit_id.map(|u| u.to_string()).unwrap_or_default(),
                a.status.clone(),
                a.assigned_at.to_rfc3339(),
                a.due_at.to_rfc3339(),
                t(a.started_at),
                t(a.completed_at),
                t(a.expires_at),
                t(a.escalated_at),
                a.enrollment.clone(),
            ])
            .map_err(csv_err)?;
        }
        match (more, rows.get(999)) {
            (true, Some(last)) => {
                after = Some(Cursor { created_at: last.assignee.assigned_at, id: last.assignee.id });
            }
            _ => break,
        }
    }
    tx.commit().await?;
    out.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!(e.to_string())))
}

/// A cell a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, CR) gets a leading `'`.
fn spreadsheet_safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() }
}

/// A member who joined (or came back, or moved into `unit`) gets the active assignments
/// that name them, a group of theirs or reach their unit.
pub async fn on_joined(
    tx: &mut PgConnection,
    user: UserId,
    unit: Option<OrgUnitId>,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, sqlx::Error> {
    let mut reaching = store::assignments_naming(tx, user).await?;
    reaching.extend(store::assignments_for_groups_of(tx, user).await?);
    if let Some(unit) = unit {
        let up = store::units_up(tx, unit).await?;
        reaching.extend(store::assignments_for_units(tx, &up).await?);
    }
    let mut events = vec![];
    for a in reaching {
        events.extend(add_assignee(tx, &a, user, now).await?);
    }
    Ok(events)
}

/// Enqueues a job of this service for one assignee.
pub(crate) async fn job_at(
    tx: &mut PgConnection,
    kind: &str,
    r: &AssigneeRow,
    at: DateTime<Utc>,
    extra: Option<i32>,
) -> Result<(), sqlx::Error> {
    let key = format!("{kind}:{}:{}:{}:{}", r.assignment_id, r.user_id, r.cycle, extra.unwrap_or(0));
    let job = jobs::NewJob {
        tenant_id: Some(r.tenant_id.into()),
        run_at: at,
        dedupe_key: Some(key),
        ..jobs::NewJob::new(
            kind,
            serde_json::json!({ "assignment_id": r.assignment_id, "user_id": r.user_id, "cycle": r.cycle, "days": extra }),
        )
    };
    jobs::enqueue(tx, job).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CreateAssignment {
        CreateAssignment {
            course_id: CourseId::new(),
            title: "Safety".into(),
            users: vec![UserId::new()],
            org_units: vec![],
            groups: vec![],
            due_at: None,
            due_days: Some(30),
            recurrence_months: None,
            remind_days_before: None,
            escalate_after_days: None,
        }
    }

    #[test]
    fn an_assignment_needs_one_due_rule_targets_and_sane_numbers() {
        let now = Utc::now();
        assert_eq!(validate(&input(), now).unwrap(), (vec![7, 1], 7));
        let both = CreateAssignment { due_at: Some(now + Duration::days(1)), ..input() };
        assert!(validate(&both, now).is_err());
        let past = CreateAssignment { due_at: Some(now - Duration::days(1)), due_days: None, ..input() };
        assert!(validate(&past, now).is_err());
        assert!(validate(&CreateAssignment { users: vec![], ..input() }, now).is_err());
        assert!(validate(&CreateAssignment { recurrence_months: Some(0), ..input() }, now).is_err());
        assert!(validate(&CreateAssignment { remind_days_before: Some(vec![0]), ..input() }, now).is_err());
        assert!(validate(&CreateAssignment { title: " ".into(), ..input() }, now).is_err());
        let remind = CreateAssignment { remind_days_before: Some(vec![1, 14, 1]), ..input() };
        assert_eq!(validate(&remind, now).unwrap().0, vec![14, 1]);
    }

    #[test]
    fn formulas_do_not_run_in_a_spreadsheet() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("-1"), "'-1");
        assert_eq!(spreadsheet_safe("Fire safety"), "Fire safety");
    }
}
