-- authoring: courses as aggregates. A course row holds its metadata and its draft outline
-- (modules → lessons → typed blocks, validated by the service) under one `revision`, the
-- version every write names with If-Match. Publishing freezes the draft into an
-- immutable, numbered `course_versions` row with its content hash; `course_history`
-- records who changed what, when.

CREATE TABLE courses (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL,
    title          text NOT NULL,
    summary        text NOT NULL DEFAULT '',
    locale         text NOT NULL,
    tags           text[] NOT NULL DEFAULT '{}',
    visibility     text NOT NULL CHECK (visibility IN ('private', 'tenant', 'public')),
    status         text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'retired')),
    draft          jsonb NOT NULL,
    revision       bigint NOT NULL DEFAULT 1,
    latest_version integer,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX courses_by_tenant ON courses (tenant_id, created_at DESC, id DESC);

CREATE TABLE course_versions (
    tenant_id    uuid NOT NULL,
    course_id    uuid NOT NULL REFERENCES courses (id) ON DELETE RESTRICT,
    number       integer NOT NULL CHECK (number >= 1),
    snapshot     jsonb NOT NULL,
    content_hash text NOT NULL,
    published_by text NOT NULL,
    published_at timestamptz NOT NULL,
    PRIMARY KEY (course_id, number)
);

CREATE TABLE course_history (
    id        bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL,
    course_id uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    revision  bigint NOT NULL,
    actor     text NOT NULL,
    action    text NOT NULL,
    detail    jsonb NOT NULL DEFAULT '{}',
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX course_history_by_course ON course_history (course_id, id);

SELECT enable_tenant_rls('courses');
SELECT enable_tenant_rls('course_versions');
SELECT enable_tenant_rls('course_history');
