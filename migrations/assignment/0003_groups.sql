-- Groups as assignment targets: the tenant's groups and who is in them (from tenant's
-- events), and the groups an assignment names.
CREATE TABLE groups (
    tenant_id  uuid NOT NULL,
    id         uuid NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
SELECT enable_tenant_rls('groups');

CREATE TABLE group_members (
    tenant_id  uuid NOT NULL,
    group_id   uuid NOT NULL,
    user_id    uuid NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);
SELECT enable_tenant_rls('group_members');

ALTER TABLE assignments ADD COLUMN groups uuid[] NOT NULL DEFAULT '{}';
CREATE INDEX assignments_by_group ON assignments USING gin (groups) WHERE status = 'active';
