-- Refunds made at the provider (its dashboard) are booked once: a provider refund id is
-- one refund.
CREATE UNIQUE INDEX refunds_provider_ref ON refunds (provider_ref) WHERE provider_ref IS NOT NULL;
