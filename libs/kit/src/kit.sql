-- Kit tables every service schema has. Not tenant tables: the outbox and inbox are
-- infrastructure queues read across tenants by the relay and consumers; the idempotency
-- store is keyed by principal and RLS-scoped by tenant where it has one.

-- Fail-closed tenant isolation for a tenant table (tenant_id uuid NOT NULL): service
-- migrations call `SELECT enable_tenant_rls('<table>')` for every tenant table. FORCE
-- makes the policy bind the owner too; with no tenant set, nothing is visible or writable.
CREATE FUNCTION enable_tenant_rls(tbl regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %s
        USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
        WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)$p$, tbl);
END $$;
REVOKE EXECUTE ON FUNCTION enable_tenant_rls(regclass) FROM PUBLIC;

CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    tenant_id    uuid,
    subject      text NOT NULL,
    payload      jsonb NOT NULL,
    traceparent  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mirai_outbox_{schema}', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE inbox (
    consumer   text NOT NULL,
    event_id   uuid NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE idempotency_keys (
    tenant_id     uuid,
    principal     text NOT NULL,
    key           text NOT NULL,
    fingerprint   text NOT NULL,
    state         text NOT NULL CHECK (state IN ('in_flight', 'done')),
    status        int,
    headers       jsonb,
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
-- RLS binds the runtime role; the owner is exempt (no FORCE) only so that the purge
-- function below, which runs as the owner, can expire every tenant's keys in one pass.
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (tenant_id IS NOT DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id IS NOT DISTINCT FROM NULLIF(current_setting('app.tenant_id', true), '')::uuid);

CREATE FUNCTION purge_idempotency_keys(older_than interval) RETURNS bigint
    LANGUAGE sql SECURITY DEFINER SET search_path = {schema} AS $$
    WITH gone AS (DELETE FROM idempotency_keys WHERE created_at < now() - older_than RETURNING 1)
    SELECT count(*) FROM gone
$$;

-- Background jobs: run once across replicas (SKIP LOCKED), retried with backoff, dead
-- after max_attempts. Recurring work is a schedule that enqueues one job per period.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL,
    tenant_id    uuid,
    payload      jsonb NOT NULL DEFAULT '{}',
    run_at       timestamptz NOT NULL DEFAULT now(),
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempts     int NOT NULL DEFAULT 0,
    max_attempts int NOT NULL DEFAULT 10,
    locked_until timestamptz,
    last_error   text,
    dedupe_key   text UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('pending', 'running');

CREATE TABLE job_schedules (
    name        text PRIMARY KEY,
    kind        text NOT NULL,
    every_secs  int NOT NULL CHECK (every_secs > 0),
    next_run_at timestamptz NOT NULL
);
