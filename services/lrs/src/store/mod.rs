//! lrs's SQL.

pub mod attachments;
pub mod documents;
pub mod statements;
