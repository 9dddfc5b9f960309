-- What kind of tenant each buyer is (from tenant's events): an individual buys one seat
-- for themself and is enrolled on it at once.
CREATE TABLE tenant_kinds (
    tenant_id  uuid PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('org', 'provider', 'individual'))
);
SELECT enable_tenant_rls('tenant_kinds');
