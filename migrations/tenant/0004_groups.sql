-- Groups: named sets of a tenant's members apart from the org-unit tree (a project team,
-- everyone who drives a forklift), for assignments and reports.
CREATE TABLE groups (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);
CREATE INDEX groups_page ON groups (tenant_id, created_at DESC, id DESC);
SELECT enable_tenant_rls('groups');

CREATE TABLE group_members (
    tenant_id  uuid NOT NULL,
    group_id   uuid NOT NULL REFERENCES groups (id),
    user_id    uuid NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);
SELECT enable_tenant_rls('group_members');
