//! lrs's SQL.

pub mod statements;
