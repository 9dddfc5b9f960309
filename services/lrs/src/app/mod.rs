//! lrs use-cases.

pub mod format;
pub mod statement;
pub mod statements;
