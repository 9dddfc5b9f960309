//! lrs use-cases.

pub mod documents;
pub mod format;
pub mod multipart;
pub mod purge;
pub mod statement;
pub mod statements;
