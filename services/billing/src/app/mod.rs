//! billing's use-cases: payments (and their jobs), the provider's webhooks,
//! reconciliation, the ledger.

pub mod ledger;
pub mod payments;
pub mod reconcile;
pub mod webhook;
