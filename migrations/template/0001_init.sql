-- template: the tenants it has heard of (a projection of tenant.tenant.created.v1) and
-- their notes. Both are tenant tables under fail-closed RLS.

CREATE TABLE known_tenants (
    tenant_id uuid PRIMARY KEY,
    name      text NOT NULL
);

CREATE TABLE notes (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES known_tenants (tenant_id),
    title      text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

SELECT enable_tenant_rls('known_tenants');
SELECT enable_tenant_rls('notes');
