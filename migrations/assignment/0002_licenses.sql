-- What may be assigned is what the tenant holds a license for now: licenses (from
-- marketplace's events) replace the list of courses ever licensed, so a revoked or
-- expired license no longer lets a course be assigned.
CREATE TABLE licenses (
    license_id  uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    course_id   uuid NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    ends_at     timestamptz,
    -- The newest marketplace.license.changed.v1 applied (1: as granted).
    revision    bigint NOT NULL DEFAULT 1
);
CREATE INDEX licenses_by_course ON licenses (course_id) WHERE active;
SELECT enable_tenant_rls('licenses');

DROP TABLE courses;
