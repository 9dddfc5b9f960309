-- lrs: xAPI statements, stored as the LRS returns them (`body`) and as received
-- (`submitted`, for conflict checks), with normalized columns and one index per filter
-- the xAPI query allows, all led by tenant_id (RLS) and ending in the paging order.

CREATE TABLE statements (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL,
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    stored           timestamptz NOT NULL,
    ts               timestamptz NOT NULL,
    version          text NOT NULL,
    actor            text NOT NULL,
    verb             text NOT NULL,
    object_activity  text,
    object_agent     text,
    object_statement uuid,
    registration     uuid,
    authority        text NOT NULL,
    voided           boolean NOT NULL DEFAULT false,
    voids            uuid,
    agents           text[] NOT NULL,
    activities       text[] NOT NULL,
    body             jsonb NOT NULL,
    submitted        jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX statements_by_stored ON statements (tenant_id, stored, seq);
CREATE INDEX statements_by_actor ON statements (tenant_id, actor, stored, seq);
CREATE INDEX statements_by_object_agent ON statements (tenant_id, object_agent, stored, seq) WHERE object_agent IS NOT NULL;
CREATE INDEX statements_by_verb ON statements (tenant_id, verb, stored, seq);
CREATE INDEX statements_by_activity ON statements (tenant_id, object_activity, stored, seq) WHERE object_activity IS NOT NULL;
CREATE INDEX statements_by_registration ON statements (tenant_id, registration, stored, seq) WHERE registration IS NOT NULL;
CREATE INDEX statements_by_authority ON statements (tenant_id, authority, stored, seq);
CREATE INDEX statements_related_agents ON statements USING gin (agents);
CREATE INDEX statements_related_activities ON statements USING gin (activities);

SELECT enable_tenant_rls('statements');
