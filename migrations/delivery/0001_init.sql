-- delivery: the player. Published course versions (projected from authoring), who may
-- launch what (projected from enrollment) and the learners' play sessions.

-- A course version as published, in its provider's tenant. A tenant reads a version only
-- while one of its enrollments points at it (the second policy below): an org sees the
-- content it licensed, nothing else of the provider's.
CREATE TABLE course_versions (
    course_id    uuid NOT NULL,
    version      integer NOT NULL,
    tenant_id    uuid NOT NULL,
    title        text NOT NULL,
    locale       text NOT NULL,
    content_hash text NOT NULL,
    outline      jsonb NOT NULL,
    published_at timestamptz NOT NULL,
    PRIMARY KEY (course_id, version)
);
SELECT enable_tenant_rls('course_versions');

-- Enrollments as enrollment announces them: a learner may launch while one is active.
CREATE TABLE enrollments (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    course_id  uuid NOT NULL,
    version    integer NOT NULL,
    active     boolean NOT NULL,
    created_at timestamptz NOT NULL,
    ended_at   timestamptz
);
CREATE INDEX enrollments_of_learner ON enrollments (user_id, course_id) WHERE active;
CREATE INDEX enrollments_of_version ON enrollments (course_id, version);
SELECT enable_tenant_rls('enrollments');

-- Policies are permissive (OR-ed): the subquery reads `enrollments` under its own RLS, so
-- it sees only the current tenant's.
CREATE POLICY enrolled_read ON course_versions FOR SELECT USING (
    EXISTS (SELECT 1 FROM enrollments e
            WHERE e.course_id = course_versions.course_id AND e.version = course_versions.version)
);

-- One play session per enrollment: its id is the xAPI registration of every statement the
-- player records for it. `completed_lessons` is the progress; `position` where to resume.
CREATE TABLE sessions (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL,
    enrollment_id     uuid NOT NULL UNIQUE REFERENCES enrollments (id),
    user_id           uuid NOT NULL,
    course_id         uuid NOT NULL,
    version           integer NOT NULL,
    status            text NOT NULL CHECK (status IN ('in_progress', 'completed')),
    position          uuid,
    completed_lessons uuid[] NOT NULL DEFAULT '{}',
    launches          integer NOT NULL DEFAULT 1,
    started_at        timestamptz NOT NULL,
    last_launched_at  timestamptz NOT NULL,
    completed_at      timestamptz,
    revision          bigint NOT NULL DEFAULT 1
);
CREATE INDEX sessions_of_learner ON sessions (user_id, last_launched_at DESC);
SELECT enable_tenant_rls('sessions');
