-- Subscription orders (per seat per month or year) are paid period by period: a
-- subscription holds the schedule, and each period is a payment of its own (period 1 is
-- the order's payment; later ones are renewals, each with its ledger entries and
-- receipt). With Stripe, a Stripe Subscription drives the periods and its invoices'
-- webhooks record them; with `manual`, a job raises the next period's invoice ahead of
-- the end of the one paid.
CREATE TABLE subscriptions (
    id                    uuid PRIMARY KEY,
    tenant_id             uuid NOT NULL,
    order_id              uuid NOT NULL UNIQUE,
    provider              text NOT NULL,
    -- The provider's subscription (`sub_…`); none for `manual`.
    provider_ref          text UNIQUE,
    interval              text NOT NULL CHECK (interval IN ('month', 'year')),
    status                text NOT NULL CHECK (status IN ('incomplete', 'active', 'past_due', 'canceled')),
    cancel_at_period_end  boolean NOT NULL DEFAULT false,
    -- Periods run from the anchor: period n ends at anchor + n intervals.
    anchor                timestamptz,
    periods_paid          integer NOT NULL DEFAULT 0 CHECK (periods_paid >= 0),
    paid_through          timestamptz,
    canceled_at           timestamptz,
    -- The seats charged each period (the order's, less seats taken back).
    seats                 integer NOT NULL CHECK (seats >= 0),
    -- false while a renewal change the buyer made has not reached the provider: until
    -- it has, the provider's word on it is older than ours.
    renewal_synced        boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_by_created ON subscriptions (created_at DESC, id DESC);
SELECT enable_tenant_rls('subscriptions');

-- An order now has one payment per period.
ALTER TABLE payments DROP CONSTRAINT payments_order_id_key;
ALTER TABLE payments ADD COLUMN subscription_id uuid REFERENCES subscriptions (id);
ALTER TABLE payments ADD COLUMN period integer NOT NULL DEFAULT 1 CHECK (period >= 1);
-- The provider's invoice a period was paid by (`in_…`): an invoice is one period.
ALTER TABLE payments ADD COLUMN provider_invoice text UNIQUE;
CREATE UNIQUE INDEX payments_order_period ON payments (order_id, period);

-- The license the order was granted (from marketplace's event): a revoked license ends
-- its subscription at once.
ALTER TABLE subscriptions ADD COLUMN license_id uuid UNIQUE;

-- Platform-wide: the provider's invoices billing has recorded as a period's payment, so
-- reconciliation asks the provider about the others only.
CREATE TABLE recorded_invoices (
    provider     text NOT NULL,
    invoice      text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, invoice)
);
