//! delivery's tables. Every function takes the caller's transaction (scoped to a tenant,
//! so RLS holds) and typed ids.

use chrono::{DateTime, Utc};
use mirai_contracts::{
    events::{
        authoring::{CoursePublished, OutlineModule},
        enrollment::{EnrollmentCreated, EnrollmentEnded},
        media::AssetReady,
    },
    ids::{CourseId, EnrollmentId, LessonId, PlaySessionId, TenantId, UserId},
};
use sqlx::{FromRow, PgConnection, types::Json};
use uuid::Uuid;

pub mod cmi5;
pub mod runtime;

#[derive(Debug, Clone, FromRow)]
pub struct VersionRow {
    pub course_id: CourseId,
    pub version: i32,
    pub tenant_id: TenantId,
    pub title: String,
    pub locale: String,
    pub content_hash: String,
    pub outline: Json<Vec<OutlineModule>>,
}

#[derive(Debug, Clone, FromRow)]
pub struct EnrollmentRow {
    pub id: EnrollmentId,
    pub version: i32,
}

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: PlaySessionId,
    pub tenant_id: TenantId,
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub version: i32,
    pub status: String,
    pub position: Option<LessonId>,
    pub completed_lessons: Vec<Uuid>,
    pub opened_lessons: Vec<Uuid>,
    pub launches: i32,
    pub started_at: DateTime<Utc>,
    pub last_launched_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub revision: i64,
}

const SESSION: &str = "id, tenant_id, enrollment_id, user_id, course_id, version, status, position, \
     completed_lessons, opened_lessons, launches, started_at, last_launched_at, completed_at, revision";

/// A published version: written once (a redelivery or a replay changes nothing).
pub async fn course_version_put(tx: &mut PgConnection, e: &CoursePublished) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO course_versions (course_id, version, tenant_id, title, locale, content_hash, outline, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (course_id, version) DO NOTHING",
    )
    .bind(e.course_id)
    .bind(e.version)
    .bind(e.tenant_id)
    .bind(&e.title)
    .bind(&e.locale)
    .bind(&e.content_hash)
    .bind(Json(&e.outline))
    .bind(e.published_at)
    .execute(&mut *tx)
    .await?;
    // The packages its package blocks launch (read by the orgs enrolled in it).
    let packages: Vec<Uuid> = e
        .outline
        .iter()
        .flat_map(|m| &m.lessons)
        .flat_map(|l| &l.blocks)
        .filter_map(|b| b.package_id.map(|p| p.into_uuid()))
        .collect();
    sqlx::query(
        "INSERT INTO version_packages (course_id, version, package_id, tenant_id) \
         SELECT $1, $2, p, $3 FROM unnest($4::uuid[]) AS p ON CONFLICT DO NOTHING",
    )
    .bind(e.course_id)
    .bind(e.version)
    .bind(e.tenant_id)
    .bind(&packages)
    .execute(&mut *tx)
    .await?;
    // The media its image, video and file blocks show.
    let assets: Vec<Uuid> = e
        .outline
        .iter()
        .flat_map(|m| &m.lessons)
        .flat_map(|l| &l.blocks)
        .filter_map(|b| b.media_id.map(|a| a.into_uuid()))
        .collect();
    sqlx::query(
        "INSERT INTO version_assets (course_id, version, asset_id, tenant_id) \
         SELECT $1, $2, a, $3 FROM unnest($4::uuid[]) AS a ON CONFLICT DO NOTHING",
    )
    .bind(e.course_id)
    .bind(e.version)
    .bind(e.tenant_id)
    .bind(&assets)
    .execute(tx)
    .await?;
    Ok(())
}

/// A media asset as media announced it ready (written once).
pub async fn asset_put(tx: &mut PgConnection, e: &AssetReady) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO assets (id, tenant_id, filename, content_type, size, object_key) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(e.asset_id)
    .bind(e.tenant_id)
    .bind(&e.filename)
    .bind(&e.content_type)
    .bind(e.size)
    .bind(&e.object_key)
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct AssetRow {
    pub id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub object_key: String,
}

/// The assets among `ids` the current tenant may read (its own, or shown by a version it
/// is enrolled in).
pub async fn assets_get(tx: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<AssetRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, filename, content_type, size, object_key FROM assets WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(tx)
        .await
}

/// The version the current tenant may read (its own, or one an enrollment of it points at).
pub async fn course_version_get(
    tx: &mut PgConnection,
    course: CourseId,
    version: i32,
) -> Result<Option<VersionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT course_id, version, tenant_id, title, locale, content_hash, outline FROM course_versions \
         WHERE course_id = $1 AND version = $2",
    )
    .bind(course)
    .bind(version)
    .fetch_optional(tx)
    .await
}

/// An enrollment as created; when its end came first, fills in the tombstone's version
/// and leaves it ended.
pub async fn enrollment_put(tx: &mut PgConnection, e: &EnrollmentCreated) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enrollments (id, tenant_id, user_id, course_id, version, active, created_at) \
         VALUES ($1, $2, $3, $4, $5, true, $6) \
         ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, created_at = EXCLUDED.created_at \
         WHERE enrollments.version IS NULL",
    )
    .bind(e.enrollment_id)
    .bind(e.tenant_id)
    .bind(e.user_id)
    .bind(e.course_id)
    .bind(e.version)
    .bind(e.at)
    .execute(tx)
    .await?;
    Ok(())
}

/// An enrollment ended; before its creation was applied, a tombstone.
pub async fn enrollment_end(tx: &mut PgConnection, e: &EnrollmentEnded) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO enrollments (id, tenant_id, user_id, course_id, version, active, created_at, ended_at) \
         VALUES ($1, $2, $3, $4, NULL, false, $5, $5) \
         ON CONFLICT (id) DO UPDATE SET active = false, ended_at = COALESCE(enrollments.ended_at, EXCLUDED.ended_at)",
    )
    .bind(e.enrollment_id)
    .bind(e.tenant_id)
    .bind(e.user_id)
    .bind(e.course_id)
    .bind(e.at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The learner's active enrollment in the course, locked: launches of one enrollment
/// take turns, so two first launches make one session.
pub async fn enrollment_active(
    tx: &mut PgConnection,
    user: UserId,
    course: CourseId,
) -> Result<Option<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, version FROM enrollments WHERE user_id = $1 AND course_id = $2 AND active \
         ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
    )
    .bind(user)
    .bind(course)
    .fetch_optional(tx)
    .await
}

/// Whether the enrollment is active; `lock` holds it so (FOR SHARE) until the transaction
/// ends: its end waits for the change being made under it.
pub async fn enrollment_is_active(tx: &mut PgConnection, id: EnrollmentId, lock: bool) -> Result<bool, sqlx::Error> {
    let lock = if lock { " FOR SHARE" } else { "" };
    let active: Option<bool> = sqlx::query_scalar(&format!("SELECT active FROM enrollments WHERE id = $1{lock}"))
        .bind(id)
        .fetch_optional(tx)
        .await?;
    Ok(active == Some(true))
}

pub async fn session_of_enrollment(
    tx: &mut PgConnection,
    enrollment: EnrollmentId,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {SESSION} FROM sessions WHERE enrollment_id = $1 FOR UPDATE"))
        .bind(enrollment)
        .fetch_optional(tx)
        .await
}

/// A session of the current tenant; `lock` takes its row for an update.
pub async fn session_get(
    tx: &mut PgConnection,
    id: PlaySessionId,
    lock: bool,
) -> Result<Option<SessionRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!("SELECT {SESSION} FROM sessions WHERE id = $1{lock}")).bind(id).fetch_optional(tx).await
}

pub async fn session_insert(tx: &mut PgConnection, s: &SessionRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, tenant_id, enrollment_id, user_id, course_id, version, status, position, \
           completed_lessons, opened_lessons, launches, started_at, last_launched_at, completed_at, revision) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(s.id)
    .bind(s.tenant_id)
    .bind(s.enrollment_id)
    .bind(s.user_id)
    .bind(s.course_id)
    .bind(s.version)
    .bind(&s.status)
    .bind(s.position)
    .bind(&s.completed_lessons)
    .bind(&s.opened_lessons)
    .bind(s.launches)
    .bind(s.started_at)
    .bind(s.last_launched_at)
    .bind(s.completed_at)
    .bind(s.revision)
    .execute(tx)
    .await?;
    Ok(())
}

/// Saves what changes over a session's life, and counts the revision up.
pub async fn session_save(tx: &mut PgConnection, s: &SessionRow) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE sessions SET status = $2, position = $3, completed_lessons = $4, opened_lessons = $8, \
           launches = $5, last_launched_at = $6, completed_at = $7, revision = revision + 1 WHERE id = $1 RETURNING revision",
    )
    .bind(s.id)
    .bind(&s.status)
    .bind(s.position)
    .bind(&s.completed_lessons)
    .bind(s.launches)
    .bind(s.last_launched_at)
    .bind(s.completed_at)
    .bind(&s.opened_lessons)
    .fetch_one(tx)
    .await
}

/// The learner's sessions, newest first (by when they started, which never moves), after
/// the cursor.
pub async fn sessions_of_learner(
    tx: &mut PgConnection,
    user: UserId,
    after: Option<(DateTime<Utc>, PlaySessionId)>,
    limit: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    let (at, id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    sqlx::query_as(&format!(
        "SELECT {SESSION} FROM sessions WHERE user_id = $1 \
           AND ($2::timestamptz IS NULL OR (started_at, id) < ($2, $3::uuid)) \
         ORDER BY started_at DESC, id DESC LIMIT $4"
    ))
    .bind(user)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Deletes what delivery holds of a person in the current tenant (a GDPR erasure): their
/// bundles, devices and sessions. Returns how many of each.
pub async fn person_erase(tx: &mut PgConnection, user: UserId) -> Result<(u64, u64, u64), sqlx::Error> {
    let bundles = sqlx::query("DELETE FROM bundles WHERE user_id = $1").bind(user).execute(&mut *tx).await?;
    let devices = sqlx::query("DELETE FROM devices WHERE user_id = $1").bind(user).execute(&mut *tx).await?;
    let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user).execute(&mut *tx).await?;
    Ok((sessions.rows_affected(), devices.rows_affected(), bundles.rows_affected()))
}

// ---- offline play ----------------------------------------------------------------------

#[derive(Debug, Clone, FromRow)]
pub struct DeviceRow {
    pub id: Uuid,
    pub user_id: UserId,
    pub name: String,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub last_check_in_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromRow)]
pub struct BundleRow {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub session_id: PlaySessionId,
    pub device_id: Uuid,
    pub user_id: UserId,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub check_in_every_secs: i64,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

const DEVICE: &str = "id, user_id, name, public_key, created_at, last_check_in_at";
const BUNDLE: &str =
    "id, tenant_id, session_id, device_id, user_id, issued_at, expires_at, check_in_every_secs, revoked_at, revoked_by";

/// Registers a device, or returns the learner's device with that key already.
pub async fn device_put(
    tx: &mut PgConnection,
    tenant: TenantId,
    user: UserId,
    name: &str,
    key: &[u8; 32],
) -> Result<(DeviceRow, bool), sqlx::Error> {
    let new: Option<DeviceRow> = sqlx::query_as(&format!(
        "INSERT INTO devices (id, tenant_id, user_id, name, public_key) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, user_id, public_key) DO NOTHING RETURNING {DEVICE}"
    ))
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(user)
    .bind(name)
    .bind(key.as_slice())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(d) = new {
        return Ok((d, true));
    }
    let d = sqlx::query_as(&format!(
        "SELECT {DEVICE} FROM devices WHERE tenant_id = $1 AND user_id = $2 AND public_key = $3"
    ))
    .bind(tenant)
    .bind(user)
    .bind(key.as_slice())
    .fetch_one(tx)
    .await?;
    Ok((d, false))
}

pub async fn device_get(tx: &mut PgConnection, id: Uuid) -> Result<Option<DeviceRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {DEVICE} FROM devices WHERE id = $1")).bind(id).fetch_optional(tx).await
}

pub async fn device_checked_in(tx: &mut PgConnection, id: Uuid, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE devices SET last_check_in_at = $2 WHERE id = $1").bind(id).bind(at).execute(tx).await?;
    Ok(())
}

pub async fn bundle_insert(tx: &mut PgConnection, b: &BundleRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bundles (id, tenant_id, session_id, device_id, user_id, issued_at, expires_at, check_in_every_secs) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(b.id)
    .bind(b.tenant_id)
    .bind(b.session_id)
    .bind(b.device_id)
    .bind(b.user_id)
    .bind(b.issued_at)
    .bind(b.expires_at)
    .bind(b.check_in_every_secs)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn bundle_get(tx: &mut PgConnection, id: Uuid) -> Result<Option<BundleRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {BUNDLE} FROM bundles WHERE id = $1")).bind(id).fetch_optional(tx).await
}

pub async fn bundle_revoke(tx: &mut PgConnection, id: Uuid, by: &str) -> Result<Option<BundleRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE bundles SET revoked_at = COALESCE(revoked_at, now()), revoked_by = COALESCE(revoked_by, $2) \
         WHERE id = $1 RETURNING {BUNDLE}"
    ))
    .bind(id)
    .bind(by)
    .fetch_optional(tx)
    .await
}

/// The device's licenses that no longer hold: revoked, or their enrollment ended.
pub async fn revoked_for_device(tx: &mut PgConnection, device: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT b.id FROM bundles b JOIN sessions s ON s.id = b.session_id JOIN enrollments e ON e.id = s.enrollment_id \
         WHERE b.device_id = $1 AND (b.revoked_at IS NOT NULL OR NOT e.active) ORDER BY b.id",
    )
    .bind(device)
    .fetch_all(tx)
    .await
}

#[cfg(test)]
mod tests {
    use mirai_contracts::ids::LicenseId;
    use sqlx::{Connection, Executor};

    use super::*;

    /// A retried creation redelivered after the enrollment's end (consumers do not hold
    /// back later events for a retried one) must not bring the enrollment back.
    #[tokio::test]
    async fn an_enrollment_ended_before_it_was_created_stays_ended() {
        let db = mirai_testkit::scratch_database(&[("delivery", crate::service().migrations)]).await.unwrap();
        let mut c = PgConnection::connect(&mirai_testkit::url_for_db(&db)).await.unwrap();
        c.execute("SET search_path TO delivery").await.unwrap();
        let (tenant, user, course, id) = (TenantId::new(), UserId::new(), CourseId::new(), EnrollmentId::new());
        let at = Utc::now();
        let ended = EnrollmentEnded {
            tenant_id: tenant,
            enrollment_id: id,
            user_id: user,
            course_id: course,
            license_id: LicenseId::new(),
            reason: "withdrawn".into(),
            at,
        };
        enrollment_end(&mut c, &ended).await.unwrap();
        let created = EnrollmentCreated {
            tenant_id: tenant,
            enrollment_id: id,
            user_id: user,
            course_id: course,
            version: 3,
            license_id: ended.license_id,
            enrolled_by: "user:someone".into(),
            at,
        };
        enrollment_put(&mut c, &created).await.unwrap();
        enrollment_put(&mut c, &created).await.unwrap();
        assert!(enrollment_active(&mut c, user, course).await.unwrap().is_none(), "the end holds");
        let (active, version): (bool, Option<i32>) =
            sqlx::query_as("SELECT active, version FROM enrollments WHERE id = $1")
                .bind(id)
                .fetch_one(&mut c)
                .await
                .unwrap();
        assert_eq!((active, version), (false, Some(3)), "the creation filled in the tombstone");
        // In order, the same two events end the same way.
        let other = EnrollmentId::new();
        enrollment_put(&mut c, &EnrollmentCreated { enrollment_id: other, ..created.clone() }).await.unwrap();
        assert!(enrollment_active(&mut c, user, course).await.unwrap().is_some());
        enrollment_end(&mut c, &EnrollmentEnded { enrollment_id: other, ..ended }).await.unwrap();
        assert!(enrollment_active(&mut c, user, course).await.unwrap().is_none());
        drop(c);
        mirai_testkit::drop_database(&db).await;
    }
}
