//! lrs use-cases.

pub mod documents;
pub mod format;
pub mod statement;
pub mod statements;
