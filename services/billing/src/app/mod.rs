//! billing's use-cases: payments (and their jobs), the provider's webhooks,
//! reconciliation, the ledger, payouts, receipts and credit notes, and the periods of
//! subscription orders.

pub mod documents;
pub mod ledger;
pub mod payments;
pub mod payouts;
pub mod reconcile;
pub mod subscriptions;
pub mod webhook;
