-- A refund held because the provider was already paid out can be released by a platform
-- admin: the buyer gets the money and the provider's share becomes a debt of the
-- provider (its `payable:` balance goes positive and later sales settle it first).
ALTER TABLE refunds ADD COLUMN released_by text;
