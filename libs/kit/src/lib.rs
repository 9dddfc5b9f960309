//! The service kit: what every Mirai service is built from — configuration, telemetry,
//! the HTTP stack with problem details, authentication that never calls identity,
//! tenant-scoped transactions, idempotent writes, and the fleet runner.

pub mod auth;
pub mod client_ip;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod features;
pub mod fleet;
pub mod http;
pub mod idempotency;
pub mod kms;
pub mod maintenance;
pub mod nats_auth;
pub mod openapi;
pub mod outbound;
pub mod pagination;
pub mod projection;
pub mod serve;
pub mod service;
pub mod telemetry;
pub mod tenant_limit;
pub mod validated;

pub use auth::{Principal, Role};
pub use config::Config;
pub use db::{Db, Migration};
pub use error::{AppError, FieldError};
pub use extract::{Json, Path, Query};
pub use service::{ServiceCtx, ServiceDef, Started};
pub use validated::{Email, Iri, Locale, Slug};
