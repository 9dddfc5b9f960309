//! Enrollment's use-cases: enroll (take a seat), withdraw (give it back), read; and the
//! pools' side of marketplace's licenses (granted, shrunk, revoked, expired).

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use mirai_contracts::{
    events::{
        assignment::AssigneeAdded,
        assignment::AssignmentCanceled,
        enrollment::{EnrollmentCreated, EnrollmentEnded, EnrollmentRefused, SeatsChanged},
        marketplace::{LicenseChanged, LicenseGranted, LicenseRenewed},
    },
    ids::{CourseId, EnrollmentId, LicenseId, TenantId, UserId},
};
use mirai_events::{
    Cx, EventMeta, HandleError, NewEvent,
    jobs::{self, Job, JobHandler, NewJob},
    outbox,
};
use mirai_kit::{
    AppError, Principal, Role,
    pagination::{Cursor, Page, PageParams},
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::{
    AppState,
    store::{self, EnrollmentRow, PoolRow},
};

/// Who enrolls a tenant's learners.
pub const MANAGERS: &[Role] = &[Role::OrgAdmin, Role::OrgManager];
pub const EXPIRE_JOB: &str = "expire-pool";

#[derive(Debug, Serialize, ToSchema)]
pub struct Enrollment {
    #[schema(value_type = uuid::Uuid)]
    pub id: EnrollmentId,
    #[schema(value_type = uuid::Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub version: i32,
    /// The license whose seat it holds.
    #[schema(value_type = uuid::Uuid)]
    pub license_id: LicenseId,
    /// `active` (the learner may launch the course) or `ended`.
    pub status: String,
    /// `withdrawn` or `license_ended`.
    pub end_reason: Option<String>,
    pub enrolled_by: String,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl From<EnrollmentRow> for Enrollment {
    fn from(r: EnrollmentRow) -> Self {
        Self {
            id: r.id,
            tenant_id: r.tenant_id,
            user_id: r.user_id,
            course_id: r.course_id,
            version: r.version,
            license_id: r.license_id,
            status: r.status,
            end_reason: r.end_reason,
            enrolled_by: r.enrolled_by,
            created_at: r.created_at,
            ended_at: r.ended_at,
        }
    }
}

/// A license's seats as a pool.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pool {
    #[schema(value_type = uuid::Uuid)]
    pub license_id: LicenseId,
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
    pub version: i32,
    pub seats: i32,
    pub in_use: i32,
    /// `active` or `ended`.
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// The listing lets the org open this pool to self-enrollment.
    pub self_enrollment_allowed: bool,
    /// Members may take a seat for themselves (`POST /me/enrollments`).
    pub self_enrollment_open: bool,
}

impl From<PoolRow> for Pool {
    fn from(r: PoolRow) -> Self {
        Self {
            license_id: r.license_id,
            course_id: r.course_id,
            version: r.version,
            seats: r.seats,
            in_use: r.in_use,
            status: r.status,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            self_enrollment_allowed: r.self_enrollment_allowed,
            self_enrollment_open: r.self_enrollment_open,
        }
    }
}

fn seats_changed(p: &PoolRow) -> NewEvent {
    SeatsChanged {
        tenant_id: p.tenant_id,
        license_id: p.license_id,
        seats: p.seats,
        in_use: p.in_use,
        revision: p.revision,
        at: p.updated_at,
    }
    .into()
}

fn ended(e: &EnrollmentRow) -> NewEvent {
    EnrollmentEnded {
        tenant_id: e.tenant_id,
        enrollment_id: e.id,
        user_id: e.user_id,
        course_id: e.course_id,
        license_id: e.license_id,
        reason: e.end_reason.clone().unwrap_or_else(|| "withdrawn".into()),
        at: e.ended_at.unwrap_or_else(Utc::now),
    }
    .into()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enroll {
    /// A member of the tenant.
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    /// A course the tenant holds a license with a free seat for.
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
}

/// Why no seat could be taken: the problem type's slug and what a person reads.
pub struct Refusal {
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        if r.slug == "not-a-member" {
            return AppError::invalid("user_id", "is not a member of the tenant");
        }
        AppError::client(axum::http::StatusCode::CONFLICT, r.slug, r.title, r.detail)
    }
}

/// Takes a seat of the oldest active pool of the course with one free, in the caller's
/// transaction: the enrollment and its events (none when the learner is enrolled
/// already), or why not.
async fn take_seat(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    course: CourseId,
    by: &str,
    check_member: bool,
    self_only: bool,
) -> Result<Result<(EnrollmentRow, Vec<NewEvent>), Refusal>, sqlx::Error> {
    if check_member && !store::member_exists(tx, user).await? {
        return Ok(Err(Refusal {
            slug: "not-a-member",
            title: "Not a member",
            detail: format!("user {user} is not a member of the tenant"),
        }));
    }
    // The pools are locked first, so two enrollments of one learner queue too.
    let mut pools = store::pools_for_course(tx, course).await?;
    if let Some(existing) = store::enrollment_active(tx, user, course).await? {
        return Ok(Ok((existing, vec![])));
    }
    if self_only {
        pools.retain(|p| p.self_enrollment_open);
        if pools.is_empty() {
            return Ok(Err(Refusal {
                slug: "self-enrollment-closed",
                title: "Self-enrollment closed",
                detail: format!("no seat of course {course} is open to self-enrollment; ask a manager to enroll you"),
            }));
        }
    }
    let Some(pool) = pools.iter().find(|p| p.in_use < p.seats) else {
        return Ok(Err(if pools.is_empty() {
            Refusal {
                slug: "no-license",
                title: "No license",
                detail: format!("the tenant holds no active license for course {course}"),
            }
        } else {
            let named: Vec<String> = pools
                .iter()
                .map(|p| format!("license {} ({} of {} seats in use)", p.license_id, p.in_use, p.seats))
                .collect();
            Refusal {
                slug: "seats-exhausted",
                title: "No seat left",
                detail: format!("no seat left for course {course}: {}", named.join(", ")),
            }
        }));
    };
    let pool = store::pool_set(tx, pool.license_id, pool.seats, pool.in_use + 1, "active").await?;
    let row = store::enrollment_insert(tx, &pool, user, by).await?;
    let created = EnrollmentCreated {
        tenant_id: tenant,
        enrollment_id: row.id,
        user_id: row.user_id,
        course_id: row.course_id,
        version: row.version,
        license_id: row.license_id,
        enrolled_by: by.to_owned(),
        at: row.created_at,
    };
    Ok(Ok((row, vec![created.into(), seats_changed(&pool)])))
}

/// Takes a seat of the oldest active pool of the course with one free. Enrolling a
/// learner already enrolled answers their enrollment (`false`: nothing new).
#[tracing::instrument(skip_all)]
pub async fn enroll(state: &AppState, p: &Principal, input: Enroll) -> Result<(Enrollment, bool), AppError> {
    let tenant = p.own_tenant(MANAGERS)?;
    seat_in_request(state, p, tenant, input.user_id, input.course_id, false).await
}

/// [`take_seat`] for a member, asked by `p` over the API: in a transaction of its own,
/// its events published, a refusal answered as a problem.
async fn seat_in_request(
    state: &AppState,
    p: &Principal,
    tenant: TenantId,
    user: UserId,
    course: CourseId,
    self_only: bool,
) -> Result<(Enrollment, bool), AppError> {
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let (row, events) = take_seat(&mut tx, tenant, user, course, &p.subject, true, self_only).await??;
    let new = !events.is_empty();
    state.ctx.emit(&mut tx, &p.event_meta(), events).await?;
    tx.commit().await?;
    Ok((row.into(), new))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfEnroll {
    /// A course whose seats the caller's organization opened to self-enrollment.
    #[schema(value_type = uuid::Uuid)]
    pub course_id: CourseId,
}

/// A member takes a seat for themself, of a pool open to self-enrollment. Enrolled
/// already: their enrollment (`false`: nothing new).
#[tracing::instrument(skip_all)]
pub async fn self_enroll(state: &AppState, p: &Principal, input: SelfEnroll) -> Result<(Enrollment, bool), AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let user = UserId::from(p.user_id.ok_or_else(|| AppError::Forbidden("an API key does not enroll itself".into()))?);
    seat_in_request(state, p, tenant, user, input.course_id, true).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfEnrollment {
    /// Open (`true`) or close the pool to its members' self-enrollment.
    pub open: bool,
}

/// Opens or closes a pool to self-enrollment (org admins; only where its listing allows).
pub async fn set_self_enrollment(
    state: &AppState,
    p: &Principal,
    license: LicenseId,
    input: SelfEnrollment,
) -> Result<Pool, AppError> {
    let tenant = p.own_tenant(&[Role::OrgAdmin])?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let pool = store::pool_get(&mut tx, license).await?.ok_or_else(|| AppError::not_found("pool", license))?;
    if input.open && !pool.self_enrollment_allowed {
        return Err(AppError::client(
            axum::http::StatusCode::CONFLICT,
            "self-enrollment-not-allowed",
            "Self-enrollment not allowed",
            format!("the listing of license {license} does not allow self-enrollment"),
        ));
    }
    let pool = store::pool_self_enrollment(&mut tx, license, input.open).await?;
    tx.commit().await?;
    Ok(pool.into())
}

/// A person was assigned a course: they get a seat, or the assignment hears why not.
/// Assignment names members only (from the same tenant events this service may not have
/// read yet), so membership is not checked again here.
pub async fn on_assigned(cx: Cx<'_>, e: AssigneeAdded) -> Result<(), HandleError> {
    let meta = cx.following();
    let by = format!("assignment:{}", e.assignment_id);
    let events = match take_seat(cx.tx, e.tenant_id, e.user_id, e.course_id, &by, false, false).await? {
        Ok((_, events)) => events,
        // Assignment assigns licensed courses only: a license it knew of and this service
        // has not projected yet is on its way.
        Err(r) if r.slug == "no-license" && !store::pool_known(cx.tx, e.course_id).await? => {
            return Err(HandleError::Transient(anyhow::anyhow!(
                "course {} assigned before its license reached enrollment",
                e.course_id
            )));
        }
        Err(r) => {
            // No seat now: the assignee waits for one.
            if matches!(r.slug, "seats-exhausted" | "no-license") {
                store::waiting_put(cx.tx, e.tenant_id, e.user_id, e.course_id, &by).await?;
            }
            vec![
                EnrollmentRefused {
                    tenant_id: e.tenant_id,
                    user_id: e.user_id,
                    course_id: e.course_id,
                    reason: r.slug.into(),
                    detail: r.detail,
                    requested_by: by,
                    at: Utc::now(),
                }
                .into(),
            ]
        }
    };
    outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
    Ok(())
}

/// A canceled assignment's assignees no longer wait for seats.
pub async fn on_assignment_canceled(cx: Cx<'_>, e: AssignmentCanceled) -> Result<(), HandleError> {
    store::waiting_delete_by(cx.tx, &format!("assignment:{}", e.assignment_id)).await?;
    Ok(())
}

/// Seats of a course may have come free: the oldest waiting take them, until none is left.
/// Returns the events to publish.
pub async fn fill(tx: &mut PgConnection, course: CourseId) -> Result<Vec<NewEvent>, sqlx::Error> {
    let mut events = vec![];
    for (tenant, user, by) in store::waiting_for(tx, course, 500).await? {
        match take_seat(tx, tenant, user, course, &by, false, false).await? {
            Ok((_, mut taken)) => {
                store::waiting_delete(tx, user, course, &by).await?;
                events.append(&mut taken);
            }
            Err(r) if matches!(r.slug, "seats-exhausted" | "no-license") => break,
            Err(_) => store::waiting_delete(tx, user, course, &by).await?,
        }
    }
    Ok(events)
}

/// Ends an enrollment and gives its seat back.
pub async fn withdraw(state: &AppState, p: &Principal, id: EnrollmentId) -> Result<Enrollment, AppError> {
    let tenant = p.own_tenant(MANAGERS)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::enrollment_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("enrollment", id))?;
    if row.status != "active" {
        tx.commit().await?;
        return Ok(row.into());
    }
    // The course's pools first (oldest first, as enroll and `fill` lock them), then the
    // enrollment.
    store::pools_for_course(&mut tx, row.course_id).await?;
    let pool =
        store::pool_get(&mut tx, row.license_id).await?.ok_or_else(|| AppError::not_found("pool", row.license_id))?;
    let row = store::enrollment_get(&mut tx, id, true).await?.ok_or_else(|| AppError::not_found("enrollment", id))?;
    if row.status != "active" {
        tx.commit().await?;
        return Ok(row.into());
    }
    let row = store::enrollment_end(&mut tx, id, "withdrawn").await?;
    let pool = store::pool_set(&mut tx, pool.license_id, pool.seats, (pool.in_use - 1).max(0), &pool.status).await?;
    let mut events = vec![ended(&row), seats_changed(&pool)];
    // The seat given back goes to whoever waits for one.
    events.extend(fill(&mut tx, pool.course_id).await?);
    state.ctx.emit(&mut tx, &p.event_meta(), events).await?;
    tx.commit().await?;
    Ok(row.into())
}

pub async fn get(state: &AppState, p: &Principal, id: EnrollmentId) -> Result<Enrollment, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let row = store::enrollment_get(&mut tx, id, false).await?.ok_or_else(|| AppError::not_found("enrollment", id))?;
    tx.commit().await?;
    // A learner sees their own; managers see everyone's.
    let own = p.user_id.is_some_and(|u| u == row.user_id.into_uuid());
    if !own {
        p.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::OrgManager, Role::ComplianceOfficer])?;
    }
    Ok(row.into())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EnrollmentQuery {
    #[param(value_type = Option<uuid::Uuid>)]
    pub user_id: Option<UserId>,
    #[param(value_type = Option<uuid::Uuid>)]
    pub course_id: Option<CourseId>,
    /// `true`: active enrollments only.
    pub active: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The tenant's enrollments (managers), or (`mine`) the caller's own.
pub async fn list(
    state: &AppState,
    p: &Principal,
    q: EnrollmentQuery,
    mine: bool,
) -> Result<Page<Enrollment>, AppError> {
    let tenant = p.own_tenant(&Role::ALL)?;
    let user = if mine {
        Some(UserId::from(
            p.user_id.ok_or_else(|| AppError::Forbidden("an API key has no enrollments of its own".into()))?,
        ))
    } else {
        p.require_in_tenant(tenant.into(), &[Role::OrgAdmin, Role::OrgManager, Role::ComplianceOfficer])?;
        q.user_id
    };
    let page = PageParams { limit: q.limit, cursor: q.cursor };
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows =
        store::enrollments_list(&mut tx, user, q.course_id, q.active.unwrap_or(false), page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

pub async fn pools(state: &AppState, p: &Principal, page: PageParams) -> Result<Page<Pool>, AppError> {
    let tenant = p.own_tenant(&[Role::OrgAdmin, Role::OrgManager, Role::ComplianceOfficer])?;
    let limit = page.limit()?;
    let mut tx = state.ctx.db.tenant_tx(tenant.into()).await?;
    let rows = store::pools_list(&mut tx, page.cursor()?, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r| Cursor { created_at: r.created_at, id: r.license_id.into() });
    Ok(Page { data: page.data.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor })
}

// ---- the licenses' side --------------------------------------------------------------

/// A license is a pool; one with a term ends by a job at its end. An individual who
/// bought for themself is enrolled on it at once.
pub async fn on_granted(cx: Cx<'_>, e: LicenseGranted) -> Result<(), HandleError> {
    let new = store::pool_put(
        cx.tx,
        e.license_id,
        e.tenant_id,
        e.course_id,
        e.version,
        e.seats,
        e.starts_at,
        e.ends_at,
        e.self_enrollment,
    )
    .await?;
    if let (true, Some(user)) = (new, e.for_user) {
        let meta = cx.following();
        let by = format!("order:{}", e.order_id);
        match take_seat(cx.tx, e.tenant_id, user, e.course_id, &by, false, false).await? {
            Ok((_, events)) => {
                outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
            }
            Err(r) => tracing::warn!(license = %e.license_id, reason = r.slug, "the buyer's own seat was not taken"),
        }
    }
    if let (true, Some(end)) = (new, e.ends_at) {
        expire_at(cx.tx, e.tenant_id, e.license_id, end).await?;
    }
    if new {
        let events = fill(cx.tx, e.course_id).await?;
        outbox::enqueue_all(cx.tx, crate::NAME, &cx.following(), events).await?;
    }
    Ok(())
}

/// The job that ends a pool at its term's end (one per end: a renewal adds a later one,
/// and the earlier one finds the pool running on).
async fn expire_at(
    tx: &mut PgConnection,
    tenant: TenantId,
    license: LicenseId,
    end: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let job = NewJob {
        tenant_id: Some(tenant.into()),
        run_at: end,
        dedupe_key: Some(format!("expire-pool:{license}:{}", end.timestamp())),
        ..NewJob::new(EXPIRE_JOB, serde_json::json!({ "license_id": license }))
    };
    jobs::enqueue(tx, job).await.map(drop)
}

/// A subscription license's next period was paid: its pool runs to the new end (and a
/// pool that had lapsed opens again; the enrollments it ended stay ended).
pub async fn on_renewed(cx: Cx<'_>, e: LicenseRenewed) -> Result<(), HandleError> {
    let Some(pool) = store::pool_get(cx.tx, e.license_id).await? else {
        return Err(HandleError::Transient(anyhow::anyhow!(
            "license {} renewed before its grant reached enrollment",
            e.license_id
        )));
    };
    if e.revision <= pool.license_revision || pool.ends_at.is_some_and(|end| end >= e.ends_at) {
        return Ok(());
    }
    store::pool_license_revision(cx.tx, e.license_id, e.revision).await?;
    let renewed = store::pool_renew(cx.tx, e.license_id, e.seats, e.ends_at).await?;
    expire_at(cx.tx, e.tenant_id, e.license_id, e.ends_at).await?;
    if pool.status != renewed.status || pool.seats != renewed.seats {
        let meta = cx.following();
        outbox::enqueue(cx.tx, crate::NAME, &meta, seats_changed(&renewed)).await?;
        let events = fill(cx.tx, renewed.course_id).await?;
        outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
    }
    Ok(())
}

/// Sets a pool to `seats` (ending it when `status` is not active), ending the newest
/// enrollments that no longer have a seat. A license change older than the one applied
/// changes nothing; one for a pool not projected yet waits for its grant.
async fn resize(
    tx: &mut PgConnection,
    meta: &EventMeta,
    license: LicenseId,
    seats: i32,
    active: bool,
    revision: Option<i64>,
) -> Result<(), HandleError> {
    let Some(pool) = store::pool_get(tx, license).await? else {
        return match revision {
            Some(_) => Err(HandleError::Transient(anyhow::anyhow!(
                "license {license} changed before its grant reached enrollment"
            ))),
            None => Ok(()),
        };
    };
    if let Some(r) = revision {
        if r <= pool.license_revision {
            return Ok(());
        }
        store::pool_license_revision(tx, license, r).await?;
    }
    let seats = if active { seats } else { 0 };
    let over = i64::from(pool.in_use - seats);
    let ended_now = if over > 0 { store::enrollments_end_newest(tx, license, Some(over)).await? } else { vec![] };
    let in_use = pool.in_use - ended_now.len() as i32;
    if pool.seats == seats && ended_now.is_empty() && (pool.status == "active") == active {
        return Ok(());
    }
    let pool = store::pool_set(tx, license, seats, in_use, if active { "active" } else { "ended" }).await?;
    let mut events: Vec<NewEvent> = ended_now.iter().map(ended).collect();
    events.push(seats_changed(&pool));
    outbox::enqueue_all(tx, crate::NAME, meta, events).await?;
    Ok(())
}

/// A refund shrank the license or it was revoked: the pool follows.
pub async fn on_license_changed(cx: Cx<'_>, e: LicenseChanged) -> Result<(), HandleError> {
    let meta = cx.following();
    resize(cx.tx, &meta, e.license_id, e.seats, e.status == "active", Some(e.revision)).await?;
    if let Some(pool) = store::pool_get(cx.tx, e.license_id).await?
        && pool.in_use < pool.seats
    {
        let events = fill(cx.tx, pool.course_id).await?;
        outbox::enqueue_all(cx.tx, crate::NAME, &meta, events).await?;
    }
    Ok(())
}

/// A license's term ended: its pool ends and every seat goes back.
pub struct Expire;

impl Expire {
    async fn run(tx: &mut PgConnection, job: &Job) -> Result<(), HandleError> {
        let license: LicenseId = job.payload["license_id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| HandleError::Permanent("an expiry without a license_id".into()))?;
        // Renewed since this job was queued: a later one ends it.
        if let Some(pool) = store::pool_get(tx, license).await?
            && pool.ends_at.is_some_and(|end| end > Utc::now())
        {
            return Ok(());
        }
        let meta = EventMeta { actor: Some("enrollment".into()), ..EventMeta::default() };
        resize(tx, &meta, license, 0, false, None).await
    }
}

impl JobHandler for Expire {
    fn run<'a>(&'a self, tx: &'a mut PgConnection, job: &'a Job) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(Expire::run(tx, job))
    }
}
