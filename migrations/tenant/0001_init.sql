-- tenant: tenants (a platform table), and per-tenant org units, memberships and
-- invitations (tenant tables under fail-closed RLS).

CREATE TABLE tenants (
    id         uuid PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('org', 'provider', 'individual')),
    name       text NOT NULL,
    slug       text NOT NULL UNIQUE,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_page ON tenants (created_at DESC, id DESC);

CREATE TABLE org_units (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    parent_id  uuid REFERENCES org_units (id),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, parent_id, name)
);

CREATE TABLE memberships (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    user_id     uuid NOT NULL,
    roles       text[] NOT NULL,
    org_unit_id uuid REFERENCES org_units (id),
    active      boolean NOT NULL DEFAULT true,
    revision    bigint NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, user_id)
);
CREATE INDEX memberships_page ON memberships (tenant_id, created_at DESC, id DESC);

CREATE TABLE invitations (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    email_norm  text NOT NULL,
    roles       text[] NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

SELECT enable_tenant_rls('org_units');
SELECT enable_tenant_rls('memberships');
SELECT enable_tenant_rls('invitations');
