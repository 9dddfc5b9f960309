-- What the payment provider kept of a payment (Stripe's fee, from the charge's balance
-- transaction), booked once: the platform, as merchant of record, bears it.
ALTER TABLE payments ADD COLUMN processor_fee bigint CHECK (processor_fee >= 0);
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('payment', 'refund', 'payout', 'processor_fee'));
