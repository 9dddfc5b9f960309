//! The typed payload (`data`) of every event subject, one module per bounded context: the
//! single definition its producer serializes and its consumers deserialize. The tests in
//! the crate root hold each struct to its JSON Schema and golden example.

pub mod ai_gateway;
pub mod assessment;
pub mod assignment;
pub mod authoring;
pub mod billing;
pub mod content;
pub mod delivery;
pub mod enrollment;
pub mod identity;
pub mod lrs;
pub mod marketplace;
pub mod media;
pub mod notification;
pub mod template;
pub mod tenant;
