//! marketplace's use-cases: listings, orders (and the saga's handlers of billing's
//! events), licenses.

pub mod licenses;
pub mod listings;
pub mod orders;
