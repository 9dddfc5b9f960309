//! Payloads enrollment publishes: a learner enrolled in a course (consuming a seat of a
//! license's pool), an enrollment ended (seat released), and a pool's seats in use.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    event::event,
    ids::{CourseId, EnrollmentId, LicenseId, TenantId, UserId},
};

/// A learner may launch a course version now: they hold a seat of `license_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentCreated {
    pub tenant_id: TenantId,
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub version: i32,
    pub license_id: LicenseId,
    /// Who enrolled them (`user:<id>`, `apikey:<id>`).
    pub enrolled_by: String,
    pub at: DateTime<Utc>,
}

event!(EnrollmentCreated, "enrollment.enrollment.created.v1", aggregate = enrollment_id, tenant = tenant_id);

/// An enrollment ended and its seat went back to the pool: `withdrawn` (unenrolled) or
/// `license_ended` (the license was revoked, or shrunk below the seats in use).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentEnded {
    pub tenant_id: TenantId,
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub license_id: LicenseId,
    pub reason: String,
    pub at: DateTime<Utc>,
}

event!(EnrollmentEnded, "enrollment.enrollment.ended.v1", aggregate = enrollment_id, tenant = tenant_id);

/// A license's seats in use changed (marketplace keeps it beside the license).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatsChanged {
    pub tenant_id: TenantId,
    pub license_id: LicenseId,
    pub seats: i32,
    pub in_use: i32,
    /// Counts up with every change, so a reader keeps the newest.
    pub revision: i64,
    pub at: DateTime<Utc>,
}

event!(SeatsChanged, "enrollment.seats.changed.v1", aggregate = license_id, tenant = tenant_id);

/// An enrollment asked for by another context (an assignment) could not be made; the
/// asker shows why. `reason` is the problem type's slug: `no-license`, `seats-exhausted`
/// or `not-a-member`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRefused {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub course_id: CourseId,
    pub reason: String,
    /// What a person reads, e.g. which licenses are full.
    pub detail: String,
    /// Who asked (`assignment:<id>`).
    pub requested_by: String,
    pub at: DateTime<Utc>,
}

event!(EnrollmentRefused, "enrollment.enrollment.refused.v1", aggregate = user_id, tenant = tenant_id);
