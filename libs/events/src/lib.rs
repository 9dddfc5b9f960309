//! Events: the CloudEvents envelope, the transactional outbox and its relay to JetStream,
//! stream provisioning, and the consumer runtime (inbox dedupe, backoff, dead letters).
//!
//! The rule this crate enforces: a domain write and its event commit together
//! (`outbox::enqueue` takes the caller's transaction), and only the relay publishes.

pub mod bus;
pub mod consumer;
pub mod envelope;
pub mod handler;
pub mod jobs;
pub mod outbox;
pub mod relay;
pub mod spec;
pub mod tenancy;

pub use bus::Bus;
pub use consumer::{Batch, ConsumerSpec, Cx, HandleError};
pub use envelope::{Envelope, EventMeta, NewEvent};
