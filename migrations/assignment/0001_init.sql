-- assignment: courses assigned to people with due dates, each person's compliance status
-- (fed by the LRS's completions), and the projections it needs: the tenant's members with
-- their roles and org units, the org unit tree, the courses the tenant holds a license for
-- and who is enrolled in which (from tenant's, marketplace's and enrollment's events).

CREATE TABLE members (
    tenant_id    uuid NOT NULL,
    user_id      uuid NOT NULL,
    roles        text[] NOT NULL,
    org_unit_id  uuid,
    revision     bigint NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX members_by_unit ON members (org_unit_id) WHERE active;
SELECT enable_tenant_rls('members');

CREATE TABLE org_units (
    tenant_id  uuid NOT NULL,
    id         uuid NOT NULL,
    parent_id  uuid,
    name       text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
SELECT enable_tenant_rls('org_units');

CREATE TABLE courses (
    tenant_id  uuid NOT NULL,
    course_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, course_id)
);
SELECT enable_tenant_rls('courses');

-- Who holds a seat of which course now (from enrollment's events).
CREATE TABLE enrollments (
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    course_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, user_id, course_id)
);
SELECT enable_tenant_rls('enrollments');

CREATE TABLE assignments (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL,
    course_id            uuid NOT NULL,
    title                text NOT NULL,
    due_at               timestamptz,
    due_days             integer CHECK (due_days BETWEEN 1 AND 3650),
    recurrence_months    integer CHECK (recurrence_months BETWEEN 1 AND 120),
    remind_days_before   integer[] NOT NULL,
    escalate_after_days  integer NOT NULL CHECK (escalate_after_days BETWEEN 0 AND 365),
    users                uuid[] NOT NULL,
    org_units            uuid[] NOT NULL,
    status               text NOT NULL CHECK (status IN ('active', 'canceled')),
    created_by           text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    canceled_at          timestamptz,
    CHECK ((due_at IS NULL) <> (due_days IS NULL))
);
CREATE INDEX assignments_page ON assignments (created_at DESC, id DESC);
CREATE INDEX assignments_by_unit ON assignments USING gin (org_units) WHERE status = 'active';
SELECT enable_tenant_rls('assignments');

CREATE TABLE assignees (
    -- For paging (UUIDv7); the key is (assignment_id, user_id).
    id                 uuid NOT NULL UNIQUE,
    tenant_id          uuid NOT NULL,
    assignment_id      uuid NOT NULL REFERENCES assignments (id),
    user_id            uuid NOT NULL,
    course_id          uuid NOT NULL,
    assigned_at        timestamptz NOT NULL DEFAULT now(),
    -- The current cycle's due date (after a recurring completion: when it lapses).
    due_at             timestamptz NOT NULL,
    status             text NOT NULL CHECK (status IN
                         ('not_started', 'in_progress', 'completed_on_time', 'completed_late', 'overdue', 'expired')),
    -- Counts completions of a recurring assignment; jobs of an older cycle do nothing.
    cycle              integer NOT NULL DEFAULT 0,
    started_at         timestamptz,
    completed_at       timestamptz,
    -- The due date the completion was measured against (restored if it is voided).
    completed_due_at   timestamptz,
    statement_id       uuid,
    expires_at         timestamptz,
    escalated_at       timestamptz,
    -- What enrollment answered: pending, enrolled, refused or ended (with why).
    enrollment         text NOT NULL DEFAULT 'pending' CHECK (enrollment IN ('pending', 'enrolled', 'refused', 'ended')),
    enrollment_detail  text,
    removed_at         timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (assignment_id, user_id)
);
CREATE INDEX assignees_by_learner ON assignees (user_id, course_id);
CREATE INDEX assignees_page ON assignees (assigned_at, id);
SELECT enable_tenant_rls('assignees');
