-- Payouts: what the platform pays course providers from their `payable:` balances, per
-- run and currency, by Stripe Connect transfer or by a CSV for the bank.

-- How a provider is paid (its own setting).
CREATE TABLE payout_accounts (
    tenant_id       uuid PRIMARY KEY,
    method          text NOT NULL CHECK (method IN ('stripe_connect', 'csv')),
    stripe_account  text,
    updated_by      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((method = 'stripe_connect') = (stripe_account IS NOT NULL))
);
SELECT enable_tenant_rls('payout_accounts');

-- A run (platform-wide: it pays every provider owed something). `lines` is what it paid
-- whom, the source of the bank's CSV.
CREATE TABLE payout_runs (
    id          uuid PRIMARY KEY,
    started_by  text NOT NULL,
    lines       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payouts (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    run_id        uuid NOT NULL REFERENCES payout_runs (id),
    currency      text NOT NULL,
    amount        bigint NOT NULL CHECK (amount > 0),
    method        text NOT NULL CHECK (method IN ('stripe_connect', 'csv')),
    destination   text,
    -- pending: a transfer is queued; paid: transferred; exported: in the run's CSV for the
    -- bank; failed: refused by the provider (the ledger gives the balance back).
    status        text NOT NULL CHECK (status IN ('pending', 'paid', 'exported', 'failed')),
    provider_ref  text,
    failure       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, tenant_id, currency)
);
CREATE INDEX payouts_by_created ON payouts (created_at DESC, id DESC);
SELECT enable_tenant_rls('payouts');
