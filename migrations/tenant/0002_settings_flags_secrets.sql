-- Tenant settings, feature flags, and envelope-encrypted secrets (all tenant rows, RLS).

CREATE TABLE tenant_settings (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id),
    settings   jsonb NOT NULL,
    revision   bigint NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE feature_flags (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    key        text NOT NULL,
    enabled    boolean NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);

-- One data key per tenant, stored only wrapped by a key-encryption key held by the KMS.
CREATE TABLE tenant_data_keys (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id),
    kek_id      text NOT NULL,
    wrapped_dek bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_secrets (
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    name       text NOT NULL,
    nonce      bytea NOT NULL,
    ciphertext bytea NOT NULL,
    version    bigint NOT NULL DEFAULT 1,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

SELECT enable_tenant_rls('tenant_settings');
SELECT enable_tenant_rls('feature_flags');
SELECT enable_tenant_rls('tenant_data_keys');
SELECT enable_tenant_rls('tenant_secrets');
