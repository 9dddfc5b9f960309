-- notification: outbound webhooks (Standard Webhooks). A tenant's endpoints with their
-- event-type filters and signing secrets (sealed by the KMS; a rotated one stays valid
-- until `expires_at`); every deliverable event of the tenant as a message (its `seq` is
-- the replay cursor); one delivery per (endpoint, message) with its attempts, the log a
-- tenant reads. Retries are jobs on the kit's job table, scheduled per delivery.

CREATE TABLE endpoints (
    id                   uuid PRIMARY KEY,
    tenant_id            uuid NOT NULL,
    url                  text NOT NULL,
    description          text NOT NULL DEFAULT '',
    event_types          text[] NOT NULL DEFAULT '{}',
    enabled              boolean NOT NULL DEFAULT true,
    disabled_reason      text,
    failing_since        timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_by_tenant ON endpoints (tenant_id, created_at DESC, id DESC);
SELECT enable_tenant_rls('endpoints');

CREATE TABLE endpoint_secrets (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    endpoint_id uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    kek_id      text NOT NULL,
    sealed      bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz
);
CREATE INDEX endpoint_secrets_by_endpoint ON endpoint_secrets (endpoint_id, created_at DESC);
SELECT enable_tenant_rls('endpoint_secrets');

CREATE TABLE messages (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    event_type  text NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_by_tenant ON messages (tenant_id, seq);
SELECT enable_tenant_rls('messages');

CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    endpoint_id     uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    message_id      uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, message_id)
);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, created_at DESC, id DESC);
SELECT enable_tenant_rls('deliveries');

CREATE TABLE attempts (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    delivery_id     uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    trigger         text NOT NULL CHECK (trigger IN ('scheduled', 'manual', 'replay')),
    at              timestamptz NOT NULL DEFAULT now(),
    response_status integer,
    response_body   text,
    error           text,
    duration_ms     integer NOT NULL
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, at);
SELECT enable_tenant_rls('attempts');
