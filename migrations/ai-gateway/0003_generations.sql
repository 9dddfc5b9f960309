-- Asynchronous generations asked for with `cmd.ai-gateway.generate.v1` (authoring): run
-- as jobs, answered with `ai-gateway.generation.progressed.v1` and `…completed.v1`. A
-- cancel (`cmd.ai-gateway.cancel.v1`) that arrives first leaves a `cancelled` row, so the
-- generation never starts.

CREATE TABLE generations (
    request_id uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL,
    feature    text NOT NULL,
    prompt     text,
    input      jsonb NOT NULL,
    actor      text NOT NULL,
    status     text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
SELECT enable_tenant_rls('generations');
