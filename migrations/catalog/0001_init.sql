-- catalog: a read model of published course versions, projected from authoring's
-- events (the latest version of each course; a retired course leaves the catalog). A
-- tenant sees its own entries (under the usual tenant policy) and every public one (a
-- second, read-only policy): the public catalog is the same table.

CREATE TABLE entries (
    course_id     uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    version       integer NOT NULL,
    title         text NOT NULL,
    summary       text NOT NULL,
    locale        text NOT NULL,
    tags          text[] NOT NULL,
    visibility    text NOT NULL CHECK (visibility IN ('private', 'tenant', 'public')),
    content_hash  text NOT NULL,
    lessons       integer NOT NULL,
    minutes       integer NOT NULL,
    outline       jsonb NOT NULL,
    published_at  timestamptz NOT NULL,
    retired_at    timestamptz
);
CREATE INDEX entries_by_published ON entries (published_at DESC, course_id DESC) WHERE retired_at IS NULL;
CREATE INDEX entries_by_tags ON entries USING gin (tags);

-- What the events have said of each course, whatever order they arrive in: the newest
-- version seen, and whether it was retired (`mirai_kit::projection`). Only news changes
-- the read model.
CREATE TABLE courses_seen (
    aggregate_id uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    version      integer NOT NULL,
    ended        boolean NOT NULL DEFAULT false
);
SELECT enable_tenant_rls('courses_seen');

SELECT enable_tenant_rls('entries');
-- Public entries are readable by every tenant (policies are permissive: OR-ed with the
-- tenant policy); writes still need the entry's own tenant.
CREATE POLICY public_read ON entries FOR SELECT USING (visibility = 'public');
