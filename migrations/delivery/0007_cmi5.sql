-- cmi5 (ADR 0016): the AU sessions delivery launches and serves an xAPI endpoint for,
-- what each registration (a play session) achieved of each AU, the statements the AUs
-- sent (so a retry is answered, not applied twice), and the State documents the AUs keep
-- (LMS.LaunchData among them, written by delivery).

ALTER TABLE packages ADD COLUMN course_iri text;

-- An AU session: one launch of an AU. Three capabilities, each a random token kept
-- hashed: `content` serves the package's files, `fetch` answers the auth token once,
-- `auth` (set at the fetch) authorizes the AU's xAPI requests.
CREATE TABLE cmi5_sessions (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    session_id    uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    lesson_id     uuid NOT NULL,
    package_id    uuid NOT NULL,
    au            text NOT NULL,
    user_id       uuid NOT NULL,
    number        integer NOT NULL CHECK (number > 0),
    launch_mode   text NOT NULL CHECK (launch_mode IN ('Normal', 'Browse', 'Review')),
    state         text NOT NULL CHECK (state IN ('launched', 'initialized', 'terminated', 'abandoned')),
    verbs         text[] NOT NULL DEFAULT '{}',
    prefs_read    boolean NOT NULL DEFAULT false,
    score         jsonb,
    content_hash  bytea NOT NULL UNIQUE,
    fetch_hash    bytea NOT NULL UNIQUE,
    fetched_at    timestamptz,
    auth_hash     bytea UNIQUE,
    expires_at    timestamptz NOT NULL,
    launched_at   timestamptz NOT NULL,
    last_at       timestamptz NOT NULL,
    UNIQUE (session_id, lesson_id, number)
);
SELECT enable_tenant_rls('cmi5_sessions');

-- What a registration achieved of an AU (cmi5 moveOn).
CREATE TABLE cmi5_aus (
    tenant_id   uuid NOT NULL,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    package_id  uuid NOT NULL,
    au          text NOT NULL,
    completed   boolean NOT NULL DEFAULT false,
    passed      boolean NOT NULL DEFAULT false,
    failed      boolean NOT NULL DEFAULT false,
    satisfied   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (session_id, package_id, au)
);
SELECT enable_tenant_rls('cmi5_aus');

-- The statements an AU session sent: id and digest of the statement as sent.
CREATE TABLE cmi5_statements (
    tenant_id     uuid NOT NULL,
    au_session_id uuid NOT NULL REFERENCES cmi5_sessions (id) ON DELETE CASCADE,
    statement_id  uuid NOT NULL,
    digest        bytea NOT NULL,
    PRIMARY KEY (au_session_id, statement_id)
);
SELECT enable_tenant_rls('cmi5_statements');

-- State documents of a registration's AU (the agent is the session's learner).
CREATE TABLE cmi5_state (
    tenant_id    uuid NOT NULL,
    session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    activity_id  text NOT NULL,
    state_id     text NOT NULL,
    content_type text NOT NULL,
    content      bytea NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (session_id, activity_id, state_id)
);
SELECT enable_tenant_rls('cmi5_state');
