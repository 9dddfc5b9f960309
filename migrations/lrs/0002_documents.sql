-- lrs documents (State, Activity Profile, Agent Profile) and the canonical definitions
-- of activities seen in statements.

CREATE TABLE documents (
    tenant_id    uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('state', 'activity_profile', 'agent_profile')),
    activity_id  text NOT NULL DEFAULT '',
    agent        text NOT NULL DEFAULT '',
    registration text NOT NULL DEFAULT '',
    doc_id       text NOT NULL,
    content_type text NOT NULL,
    content      bytea NOT NULL,
    etag         text NOT NULL,
    updated      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, kind, activity_id, agent, registration, doc_id)
);
CREATE INDEX documents_updated ON documents (tenant_id, kind, activity_id, agent, registration, updated);

CREATE TABLE activities (
    tenant_id   uuid NOT NULL,
    id          text NOT NULL,
    definition  jsonb NOT NULL,
    updated     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

SELECT enable_tenant_rls('documents');
SELECT enable_tenant_rls('activities');
