-- Invitations as tenant announced them (tenant.invitation.created.v1): the token's hash
-- lets its holder sign up for an account with the invited email (POST /signup). The
-- token itself never leaves tenant.
CREATE TABLE invitations (
    token_sha256  text PRIMARY KEY,
    invitation_id uuid NOT NULL,
    tenant_id     uuid NOT NULL,
    email         text NOT NULL,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

SELECT enable_tenant_rls('invitations');
