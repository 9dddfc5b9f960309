-- ai-gateway: the one door to model vendors. Per tenant: provider configurations (the API
-- key sealed under the tenant's data key, itself wrapped by the KMS's KEK), routes per
-- feature (ordered targets, a cheaper degrade target, a pinned prompt), budgets per
-- feature or for the whole tenant per day or month, the usage they are checked against,
-- in-flight reservations (so concurrent calls cannot overshoot a budget by more than one
-- call), the safety policy, and the projection of the tenant's AI feature flags.

CREATE TABLE features (
    tenant_id uuid NOT NULL,
    key       text NOT NULL,
    enabled   boolean NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE data_keys (
    tenant_id  uuid PRIMARY KEY,
    kek_id     text NOT NULL,
    wrapped    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE providers (
    tenant_id      uuid NOT NULL,
    name           text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('openai', 'anthropic', 'gemini')),
    base_url       text NOT NULL,
    key_nonce      bytea,
    key_ciphertext bytea,
    timeout_ms     integer NOT NULL CHECK (timeout_ms > 0),
    cloud          boolean NOT NULL,
    version        bigint NOT NULL DEFAULT 1,
    updated_by     text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name),
    CHECK ((key_nonce IS NULL) = (key_ciphertext IS NULL))
);

CREATE TABLE routes (
    tenant_id  uuid NOT NULL,
    feature    text NOT NULL,
    targets    jsonb NOT NULL,
    degrade    jsonb,
    prompt     text,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, feature)
);

-- scope: '*' (the whole tenant) or a feature.
CREATE TABLE budgets (
    tenant_id          uuid NOT NULL,
    scope              text NOT NULL,
    period             text NOT NULL CHECK (period IN ('day', 'month')),
    max_tokens         bigint CHECK (max_tokens > 0),
    max_cost_micros    bigint CHECK (max_cost_micros > 0),
    degrade_at_percent integer NOT NULL CHECK (degrade_at_percent BETWEEN 1 AND 100),
    updated_by         text NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, scope, period),
    CHECK (max_tokens IS NOT NULL OR max_cost_micros IS NOT NULL)
);

CREATE TABLE usage (
    tenant_id    uuid NOT NULL,
    scope        text NOT NULL,
    period       text NOT NULL CHECK (period IN ('day', 'month')),
    period_start date NOT NULL,
    tokens       bigint NOT NULL DEFAULT 0,
    cost_micros  bigint NOT NULL DEFAULT 0,
    calls        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, scope, period, period_start)
);

-- A call's estimate, held from the budget check until the call settles; one that a
-- crashed replica never settled stops counting when it expires.
CREATE TABLE reservations (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    feature     text NOT NULL,
    tokens      bigint NOT NULL,
    cost_micros bigint NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX reservations_by_tenant ON reservations (tenant_id, expires_at);

CREATE TABLE policies (
    tenant_id          uuid PRIMARY KEY,
    blocked_categories text[] NOT NULL,
    blocked_terms      text[] NOT NULL,
    redact_pii         boolean NOT NULL,
    moderate_output    boolean NOT NULL,
    updated_by         text NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

SELECT enable_tenant_rls('features');
SELECT enable_tenant_rls('data_keys');
SELECT enable_tenant_rls('providers');
SELECT enable_tenant_rls('routes');
SELECT enable_tenant_rls('budgets');
SELECT enable_tenant_rls('usage');
SELECT enable_tenant_rls('reservations');
SELECT enable_tenant_rls('policies');
