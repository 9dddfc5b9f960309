-- enrollment: seat pools (one per license, from marketplace's events), enrollments that
-- hold a seat each, and the members a tenant may enroll (from tenant's events).

CREATE TABLE pools (
    license_id  uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    course_id   uuid NOT NULL,
    version     integer NOT NULL,
    seats       integer NOT NULL CHECK (seats >= 0),
    in_use      integer NOT NULL DEFAULT 0 CHECK (in_use >= 0),
    status      text NOT NULL CHECK (status IN ('active', 'ended')),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz,
    -- Counts every change of `in_use` or `seats`, for readers of enrollment.seats.changed.v1.
    revision    bigint NOT NULL DEFAULT 0,
    -- The newest marketplace.license.changed.v1 applied (1: as granted).
    license_revision  bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pools_by_course ON pools (course_id, created_at) WHERE status = 'active';
SELECT enable_tenant_rls('pools');

CREATE TABLE enrollments (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    user_id      uuid NOT NULL,
    course_id    uuid NOT NULL,
    version      integer NOT NULL,
    license_id   uuid NOT NULL REFERENCES pools (license_id),
    status       text NOT NULL CHECK (status IN ('active', 'ended')),
    end_reason   text CHECK (end_reason IN ('withdrawn', 'license_ended')),
    enrolled_by  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz
);
-- One active enrollment per learner and course.
CREATE UNIQUE INDEX enrollments_one_active ON enrollments (tenant_id, user_id, course_id) WHERE status = 'active';
CREATE INDEX enrollments_by_created ON enrollments (created_at DESC, id DESC);
CREATE INDEX enrollments_by_pool ON enrollments (license_id, created_at DESC) WHERE status = 'active';
SELECT enable_tenant_rls('enrollments');

CREATE TABLE members (
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
SELECT enable_tenant_rls('members');
