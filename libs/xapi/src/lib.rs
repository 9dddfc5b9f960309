//! xAPI statements as Mirai checks them wherever they arrive: the LRS's resources, and
//! the endpoint delivery serves a cmi5 AU (which must refuse what the LRS would, before
//! the statement reaches the outbox and cannot be refused any more).

pub mod statement;
pub mod strict_json;

pub use statement::*;
