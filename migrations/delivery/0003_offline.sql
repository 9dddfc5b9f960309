-- Offline play: the devices a learner registered (their X25519 public keys) and the
-- bundles issued to them. A bundle's id is its license's; a revoked one (or one whose
-- enrollment ended) is reported to its device at its next check-in and stops opening.

CREATE TABLE devices (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    user_id          uuid NOT NULL,
    name             text NOT NULL,
    public_key       bytea NOT NULL CHECK (length(public_key) = 32),
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_check_in_at timestamptz,
    -- Per tenant: a person in two tenants registers the same device in each.
    UNIQUE (tenant_id, user_id, public_key)
);
SELECT enable_tenant_rls('devices');

CREATE TABLE bundles (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    session_id  uuid NOT NULL REFERENCES sessions (id),
    device_id   uuid NOT NULL REFERENCES devices (id),
    user_id     uuid NOT NULL,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    -- The license's check-in interval, as signed into every download of it.
    check_in_every_secs bigint NOT NULL CHECK (check_in_every_secs > 0),
    revoked_at  timestamptz,
    revoked_by  text
);
CREATE INDEX bundles_of_device ON bundles (device_id);
SELECT enable_tenant_rls('bundles');
