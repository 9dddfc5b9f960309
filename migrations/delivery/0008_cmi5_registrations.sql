-- A cmi5 course (one package's structure) played in a session has a registration of its
-- own: cmi5's statements of it read apart from the player's (and CATAPULT reads them by
-- index). An AU's statement id is unique in the tenant, not only in its AU session: an
-- id reused from another session would be refused by the LRS after delivery accepted it.

CREATE TABLE cmi5_registrations (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    package_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (session_id, package_id)
);
SELECT enable_tenant_rls('cmi5_registrations');

ALTER TABLE cmi5_sessions ADD COLUMN registration uuid REFERENCES cmi5_registrations (id) ON DELETE CASCADE;

ALTER TABLE cmi5_statements DROP CONSTRAINT cmi5_statements_pkey;
ALTER TABLE cmi5_statements ADD PRIMARY KEY (tenant_id, statement_id);
