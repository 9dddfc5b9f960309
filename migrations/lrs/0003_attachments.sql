-- lrs attachment contents, stored once per tenant and SHA-2 (statements reference them
-- by the `sha2` of their attachment objects).

CREATE TABLE attachments (
    tenant_id    uuid NOT NULL,
    sha2         text NOT NULL,
    content_type text NOT NULL,
    content      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, sha2)
);

SELECT enable_tenant_rls('attachments');
