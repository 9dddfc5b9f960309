-- Keys of the service itself (not of a tenant): the one that signs one-click unsubscribe
-- links, made on first start, sealed by the service's KEK, the same for every replica.
CREATE TABLE service_keys (
    name       text PRIMARY KEY,
    kek_id     text NOT NULL,
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
