//! lrs's SQL.

pub mod documents;
pub mod statements;
