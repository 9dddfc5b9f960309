-- identity: users, their tenant roles (projected from tenant's events), signing keys,
-- refresh-token families, API keys, and login throttling.

CREATE TABLE users (
    id                uuid PRIMARY KEY,
    email             text NOT NULL,
    email_norm        text NOT NULL UNIQUE,
    display_name      text,
    password_hash     text NOT NULL,
    is_platform_admin boolean NOT NULL DEFAULT false,
    default_tenant_id uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_platform_admin ON users (id) WHERE is_platform_admin;

-- Read model of tenant.membership.* events: which roles a user holds in a tenant.
CREATE TABLE memberships (
    tenant_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    roles      text[] NOT NULL,
    active     boolean NOT NULL,
    revision   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE signing_keys (
    kid           text PRIMARY KEY,
    -- The PKCS#8 private key sealed under identity's KEK (AES-256-GCM, bound to the kid).
    kek_id        text NOT NULL,
    sealed_key    bytea NOT NULL,
    public_jwk    jsonb NOT NULL,
    not_before    timestamptz NOT NULL,
    retired_at    timestamptz,
    verify_until  timestamptz,
    revision      bigint NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refresh_tokens (
    id         uuid PRIMARY KEY,
    family_id  uuid NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id),
    tenant_id  uuid,
    token_hash bytea NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    name          text NOT NULL,
    secret_sha256 text NOT NULL,
    roles         text[] NOT NULL,
    scopes        text[] NOT NULL,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    created_by    text NOT NULL,
    revision      bigint NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC, id DESC);

CREATE TABLE login_attempts (
    key          text PRIMARY KEY,
    failures     int NOT NULL,
    window_start timestamptz NOT NULL
);

SELECT enable_tenant_rls('memberships');
SELECT enable_tenant_rls('api_keys');
