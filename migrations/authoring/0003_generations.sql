-- AI-assisted authoring: a generation an author asked for (an outline from a brief, a
-- lesson's blocks, quiz questions, a rewrite), sent to the ai-gateway as a command and
-- followed through its events until its result lands in the draft as `draft_ai` blocks.
-- `features` projects the tenant's `ai.authoring` flag.

CREATE TABLE generations (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    course_id    uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('outline', 'lesson', 'quiz', 'rewrite')),
    lesson_id    uuid,
    block_id     uuid,
    status       text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    stage        text NOT NULL,
    sources      text[] NOT NULL DEFAULT '{}',
    blocks_added integer NOT NULL DEFAULT 0,
    error        jsonb,
    requested_by text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX generations_by_course ON generations (course_id, created_at DESC);
SELECT enable_tenant_rls('generations');

CREATE TABLE features (
    tenant_id uuid NOT NULL,
    key       text NOT NULL,
    enabled   boolean NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
SELECT enable_tenant_rls('features');
