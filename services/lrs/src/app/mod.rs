//! lrs use-cases.

pub mod access;
pub mod documents;
pub mod erasure;
pub mod format;
pub mod multipart;
pub mod player;
pub mod purge;
pub mod signature;
pub use mirai_xapi::statement;
pub mod statements;
pub use mirai_xapi::strict_json;

use axum::http::StatusCode;
use mirai_kit::AppError;

/// The LRS's 400: a request the xAPI rules refuse, with the rule in the detail.
pub fn bad(detail: impl Into<String>) -> AppError {
    AppError::client(StatusCode::BAD_REQUEST, "xapi-bad-request", "Invalid xAPI request", detail)
}
