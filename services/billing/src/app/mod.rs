//! billing's use-cases: payments (and their jobs), the provider's webhooks,
//! reconciliation, the ledger, payouts, and receipts and credit notes.

pub mod documents;
pub mod ledger;
pub mod payments;
pub mod payouts;
pub mod reconcile;
pub mod webhook;
