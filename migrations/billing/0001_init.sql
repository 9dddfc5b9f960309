-- billing: payments of marketplace orders through a payment provider (Stripe, or
-- "manual" for invoices paid outside), refunds, the provider's webhooks (deduplicated),
-- and a double-entry ledger.

-- The provider's customer for each paying tenant.
CREATE TABLE customers (
    tenant_id     uuid NOT NULL,
    provider      text NOT NULL,
    provider_ref  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, provider)
);
SELECT enable_tenant_rls('customers');

CREATE TABLE payments (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL,
    order_id            uuid NOT NULL UNIQUE,
    provider_tenant_id  uuid NOT NULL,
    amount              bigint NOT NULL CHECK (amount > 0),
    currency            text NOT NULL,
    revenue_share_bps   integer NOT NULL CHECK (revenue_share_bps BETWEEN 0 AND 10000),
    payment_method      text,
    provider            text NOT NULL,
    provider_ref        text UNIQUE,
    client_secret       text,
    -- creating: the provider has not been asked yet; requires_action: the buyer confirms
    -- (or the invoice is paid outside, for `manual`).
    status              text NOT NULL CHECK (status IN ('creating', 'requires_action', 'succeeded', 'failed', 'canceled')),
    failure             text,
    refunded            bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= amount),
    -- When marketplace granted the order's license (from its event).
    provisioned_at      timestamptz,
    succeeded_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_by_created ON payments (created_at DESC, id DESC);
SELECT enable_tenant_rls('payments');

CREATE TABLE refunds (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    payment_id    uuid NOT NULL REFERENCES payments (id),
    -- What was asked (none: what remains); what was refunded.
    requested     bigint,
    amount        bigint,
    reason        text NOT NULL,
    requested_by  text NOT NULL,
    -- held: the provider has been paid out more than the refund would leave it owed; a
    -- platform admin recovers the money first (the platform never pays a provider's refund).
    status        text NOT NULL CHECK (status IN ('pending', 'succeeded', 'skipped', 'held')),
    provider_ref  text,
    -- The command that asked for it: a command delivered twice refunds once.
    command_id    uuid NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
SELECT enable_tenant_rls('refunds');

-- Webhook events from the payment provider already applied (platform-wide, no tenant:
-- the provider's event ids are unique across its account).
CREATE TABLE provider_events (
    provider     text NOT NULL,
    id           text NOT NULL,
    type         text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, id)
);

-- The double-entry ledger, platform-wide: every transaction's entries sum to zero per
-- currency. Debits are positive, credits negative. Accounts: `cash:<provider>` (money
-- held at the payment provider), `revenue:platform` (the platform's share),
-- `payable:<provider tenant id>` (owed to a course provider).
CREATE TABLE ledger_entries (
    id          bigserial PRIMARY KEY,
    txn_id      uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('payment', 'refund', 'payout')),
    account     text NOT NULL,
    amount      bigint NOT NULL,
    currency    text NOT NULL,
    payment_id  uuid,
    tenant_id   uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_by_account ON ledger_entries (account, currency);
CREATE INDEX ledger_by_txn ON ledger_entries (txn_id);
