//! enrollment's tables, in the caller's tenant transaction (RLS) with typed ids.

use chrono::{DateTime, Utc};
use mirai_contracts::ids::{CourseId, EnrollmentId, LicenseId, TenantId, UserId};
use mirai_kit::pagination::Cursor;
use sqlx::{FromRow, PgConnection};

pub async fn member_put(tx: &mut PgConnection, tenant: TenantId, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO members (tenant_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(tenant)
        .bind(user)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn member_delete(tx: &mut PgConnection, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM members WHERE user_id = $1").bind(user).execute(tx).await?;
    Ok(())
}

pub async fn member_exists(tx: &mut PgConnection, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM members WHERE user_id = $1)").bind(user).fetch_one(tx).await
}

pub const POOL: &str = "license_id, tenant_id, course_id, version, seats, in_use, status, starts_at, ends_at, revision, \
     license_revision, self_enrollment_allowed, self_enrollment_open, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct PoolRow {
    pub license_id: LicenseId,
    pub tenant_id: TenantId,
    pub course_id: CourseId,
    pub version: i32,
    pub seats: i32,
    pub in_use: i32,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub revision: i64,
    pub license_revision: i64,
    pub self_enrollment_allowed: bool,
    pub self_enrollment_open: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[allow(clippy::too_many_arguments)]
pub async fn pool_put(
    tx: &mut PgConnection,
    license: LicenseId,
    tenant: TenantId,
    course: CourseId,
    version: i32,
    seats: i32,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    self_enrollment: bool,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "INSERT INTO pools (license_id, tenant_id, course_id, version, seats, status, starts_at, ends_at, \
         self_enrollment_allowed) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8) ON CONFLICT (license_id) DO NOTHING",
    )
    .bind(license)
    .bind(tenant)
    .bind(course)
    .bind(version)
    .bind(seats)
    .bind(starts_at)
    .bind(ends_at)
    .bind(self_enrollment)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn pool_get(tx: &mut PgConnection, license: LicenseId) -> Result<Option<PoolRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {POOL} FROM pools WHERE license_id = $1 FOR UPDATE"))
        .bind(license)
        .fetch_optional(tx)
        .await
}

/// The course's active pools, locked, oldest first: the pools an enrollment may take a
/// seat of. Under READ COMMITTED a waiter re-reads each locked row, so concurrent
/// enrollments queue on the pool and each sees the seats the one before it took.
pub async fn pools_for_course(tx: &mut PgConnection, course: CourseId) -> Result<Vec<PoolRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {POOL} FROM pools WHERE course_id = $1 AND status = 'active' AND starts_at <= now() \
         AND (ends_at IS NULL OR ends_at > now()) ORDER BY created_at, license_id FOR UPDATE"
    ))
    .bind(course)
    .fetch_all(tx)
    .await
}

pub async fn pools_list(tx: &mut PgConnection, after: Option<Cursor>, limit: i64) -> Result<Vec<PoolRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {POOL} FROM pools WHERE ($1::timestamptz IS NULL OR (created_at, license_id) < ($1, $2)) \
         ORDER BY created_at DESC, license_id DESC LIMIT $3"
    ))
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

/// Sets a pool's seats, status and use (one revision more).
pub async fn pool_set(
    tx: &mut PgConnection,
    license: LicenseId,
    seats: i32,
    in_use: i32,
    status: &str,
) -> Result<PoolRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE pools SET seats = $2, in_use = $3, status = $4, revision = revision + 1, updated_at = now() \
         WHERE license_id = $1 RETURNING {POOL}"
    ))
    .bind(license)
    .bind(seats)
    .bind(in_use)
    .bind(status)
    .fetch_one(tx)
    .await
}

pub const ENROLLMENT: &str =
    "id, tenant_id, user_id, course_id, version, license_id, status, end_reason, enrolled_by, created_at, ended_at";

#[derive(Debug, Clone, FromRow)]
pub struct EnrollmentRow {
    pub id: EnrollmentId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub version: i32,
    pub license_id: LicenseId,
    pub status: String,
    pub end_reason: Option<String>,
    pub enrolled_by: String,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

pub async fn enrollment_active(
    tx: &mut PgConnection,
    user: UserId,
    course: CourseId,
) -> Result<Option<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENROLLMENT} FROM enrollments WHERE user_id = $1 AND course_id = $2 AND status = 'active'"
    ))
    .bind(user)
    .bind(course)
    .fetch_optional(tx)
    .await
}

pub async fn enrollment_insert(
    tx: &mut PgConnection,
    pool: &PoolRow,
    user: UserId,
    by: &str,
) -> Result<EnrollmentRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO enrollments (id, tenant_id, user_id, course_id, version, license_id, status, enrolled_by) \
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7) RETURNING {ENROLLMENT}"
    ))
    .bind(EnrollmentId::new())
    .bind(pool.tenant_id)
    .bind(user)
    .bind(pool.course_id)
    .bind(pool.version)
    .bind(pool.license_id)
    .bind(by)
    .fetch_one(tx)
    .await
}

pub async fn enrollment_get(
    tx: &mut PgConnection,
    id: EnrollmentId,
    lock: bool,
) -> Result<Option<EnrollmentRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {ENROLLMENT} FROM enrollments WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(tx)
        .await
}

pub async fn enrollments_list(
    tx: &mut PgConnection,
    user: Option<UserId>,
    course: Option<CourseId>,
    active_only: bool,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENROLLMENT} FROM enrollments WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::uuid IS NULL OR course_id = $2) \
         AND (NOT $3 OR status = 'active') AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5)) \
         ORDER BY created_at DESC, id DESC LIMIT $6"
    ))
    .bind(user)
    .bind(course)
    .bind(active_only)
    .bind(after.map(|c| c.created_at))
    .bind(after.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(tx)
    .await
}

pub async fn enrollment_end(
    tx: &mut PgConnection,
    id: EnrollmentId,
    reason: &str,
) -> Result<EnrollmentRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE enrollments SET status = 'ended', end_reason = $2, ended_at = now() WHERE id = $1 RETURNING {ENROLLMENT}"
    ))
    .bind(id)
    .bind(reason)
    .fetch_one(tx)
    .await
}

/// Ends the newest `n` active enrollments of a pool (all of them when `n` is None).
pub async fn enrollments_end_newest(
    tx: &mut PgConnection,
    license: LicenseId,
    n: Option<i64>,
) -> Result<Vec<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE enrollments SET status = 'ended', end_reason = 'license_ended', ended_at = now() WHERE id IN \
         (SELECT id FROM enrollments WHERE license_id = $1 AND status = 'active' ORDER BY created_at DESC, id DESC LIMIT $2) \
         RETURNING {ENROLLMENT}"
    ))
    .bind(license)
    .bind(n)
    .fetch_all(tx)
    .await
}

/// A renewed license's pool runs to its new end (active again if it had lapsed).
pub async fn pool_renew(
    tx: &mut PgConnection,
    license: LicenseId,
    seats: i32,
    ends_at: DateTime<Utc>,
) -> Result<PoolRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE pools SET ends_at = $3, seats = CASE WHEN status = 'ended' THEN $2 ELSE seats END, status = 'active', \
         revision = revision + 1, updated_at = now() WHERE license_id = $1 RETURNING {POOL}"
    ))
    .bind(license)
    .bind(seats)
    .bind(ends_at)
    .fetch_one(tx)
    .await
}

pub async fn pool_license_revision(
    tx: &mut PgConnection,
    license: LicenseId,
    revision: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE pools SET license_revision = $2 WHERE license_id = $1")
        .bind(license)
        .bind(revision)
        .execute(tx)
        .await?;
    Ok(())
}

/// Whether the tenant has (or had) any pool of the course.
pub async fn pool_known(tx: &mut PgConnection, course: CourseId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pools WHERE course_id = $1)").bind(course).fetch_one(tx).await
}

/// Opens or closes a pool to self-enrollment.
pub async fn pool_self_enrollment(
    tx: &mut PgConnection,
    license: LicenseId,
    open: bool,
) -> Result<PoolRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE pools SET self_enrollment_open = $2, updated_at = now() WHERE license_id = $1 RETURNING {POOL}"
    ))
    .bind(license)
    .bind(open)
    .fetch_one(tx)
    .await
}

// ---- waiting for a seat --------------------------------------------------------------

pub async fn waiting_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    course: CourseId,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO waiting (tenant_id, user_id, course_id, requested_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(user)
    .bind(course)
    .bind(by)
    .execute(tx)
    .await?;
    Ok(())
}

/// Who waits for a seat of a course, oldest first (locked; at most `limit`).
pub async fn waiting_for(
    tx: &mut PgConnection,
    course: CourseId,
    limit: i64,
) -> Result<Vec<(TenantId, UserId, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tenant_id, user_id, requested_by FROM waiting WHERE course_id = $1 \
         ORDER BY created_at, user_id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(course)
    .bind(limit)
    .fetch_all(tx)
    .await
}

pub async fn waiting_delete(
    tx: &mut PgConnection,
    user: UserId,
    course: CourseId,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM waiting WHERE user_id = $1 AND course_id = $2 AND requested_by = $3")
        .bind(user)
        .bind(course)
        .bind(by)
        .execute(tx)
        .await?;
    Ok(())
}

/// What one requester asked is withdrawn (its assignment was canceled).
pub async fn waiting_delete_by(tx: &mut PgConnection, by: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM waiting WHERE requested_by = $1").bind(by).execute(tx).await?;
    Ok(())
}

pub async fn waiting_delete_user(tx: &mut PgConnection, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM waiting WHERE user_id = $1").bind(user).execute(tx).await?;
    Ok(())
}
