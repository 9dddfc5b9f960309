//! One transport-agnostic error for use-cases, and the single place that turns it into an
//! RFC 9457 `application/problem+json` response. A 5xx body reveals nothing; the internal
//! cause rides in a response extension for the logging middleware.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::telemetry::RequestContext;

pub const PROBLEM_BASE: &str = "https://mirai.dev/problems/";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A field-level validation failure.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON pointer or parameter name of the offending field.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{detail}")]
    Invalid { detail: String, errors: Vec<FieldError> },
    /// A 4xx with its own problem type (malformed JSON, unsupported media type, ...).
    #[error("{detail}")]
    Client { status: StatusCode, slug: &'static str, title: &'static str, detail: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after_secs: u64 },
    /// A write based on a stale version (`If-Match`): 412 with the current version in the
    /// problem (`current_version`) and as the `ETag`, so the client can reload and retry.
    #[error("{detail}")]
    PreconditionFailed { detail: String, current_version: i64 },
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A dependency outside the platform (a model vendor) failed or refused: a problem
    /// type of its own, a detail the caller may read, and when to retry.
    #[error("{detail}")]
    Upstream {
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: String,
        retry_after_secs: Option<u64>,
    },
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        Self::NotFound { kind, id: id.to_string() }
    }
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Invalid { detail: format!("{field}: {message}"), errors: vec![FieldError::new(field, message)] }
    }
    pub fn client(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::Client { status, slug, title, detail: detail.into() }
    }
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Client { status, .. } | Self::Upstream { status, .. } => *status,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn slug_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::NotFound { .. } => ("not-found", "Resource not found"),
            Self::Conflict(_) => ("conflict", "Conflict"),
            Self::Invalid { .. } => ("validation", "Request validation failed"),
            Self::Client { slug, title, .. } | Self::Upstream { slug, title, .. } => (slug, title),
            Self::Unauthenticated(_) => ("unauthenticated", "Authentication required"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::TooManyRequests { .. } => ("rate-limited", "Too many requests"),
            Self::PreconditionFailed { .. } => ("stale-version", "Stale version"),
            Self::Unavailable(_) => ("unavailable", "Service unavailable"),
            Self::Internal(_) => ("internal", "Internal server error"),
        }
    }
}

/// Database errors: unique violations are conflicts; the rest are internal.
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        // The database is away (no connection within the acquire timeout, a connection
        // lost mid-request, the server shutting down or starting): a fast 503 with
        // Retry-After, never a 500 or a hang.
        let unavailable = match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
            // A server going down or coming up can answer a new connection's handshake
            // with garbage (seen: a 0x00 byte for the SSLRequest while Postgres restarts).
            sqlx::Error::Protocol(m) => m.contains("SSLRequest") || m.contains("startup"),
            sqlx::Error::Database(db) => {
                db.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03"))
            }
            _ => false,
        };
        if unavailable {
            return AppError::Unavailable(format!("database: {e}"));
        }
        if let sqlx::Error::Database(db) = &e {
            match db.code().as_deref() {
                Some("23505") => {
                    return AppError::Conflict("a resource with these values already exists".into());
                }
                // Input Postgres cannot store: NUL characters, untranslatable text, values
                // out of range. The caller sent it, so it is their error, not ours.
                Some("22021" | "22P05") => {
                    return AppError::client(
                        StatusCode::BAD_REQUEST,
                        "unstorable-input",
                        "Unstorable input",
                        "text must not contain NUL (\\u0000) or characters that are not valid UTF-8",
                    );
                }
                Some("22001" | "22003" | "22008") => {
                    return AppError::client(
                        StatusCode::BAD_REQUEST,
                        "unstorable-input",
                        "Unstorable input",
                        "a value is out of the range this field can hold",
                    );
                }
                Some("23503") => {
                    return AppError::invalid("reference", "refers to a resource that does not exist");
                }
                _ => {}
            }
        }
        AppError::Internal(e.into())
    }
}

impl From<mirai_events::outbox::OutboxError> for AppError {
    fn from(e: mirai_events::outbox::OutboxError) -> Self {
        match e {
            mirai_events::outbox::OutboxError::Db(d) => d.into(),
            other => AppError::Internal(other.into()),
        }
    }
}

/// The problem document (RFC 9457) with Mirai's extensions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// On a 412: the resource's current version (also its `ETag`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
}

/// The internal cause of a 5xx, for the logging middleware.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

impl AppError {
    /// The problem document this error answers with, for an error reported elsewhere than
    /// in this response (an event, an SSE frame): a 5xx reveals nothing.
    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        let (slug, title) = self.slug_title();
        let ctx = RequestContext::current();
        let detail = match self {
            Self::Internal(_) => "an unexpected error occurred; quote the trace_id when reporting it".to_owned(),
            Self::Unavailable(_) => "the service is temporarily unavailable; retry later".to_owned(),
            other => other.to_string(),
        };
        let errors = match self {
            Self::Invalid { errors, .. } => errors.clone(),
            _ => vec![],
        };
        Problem {
            kind: format!("{PROBLEM_BASE}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            instance: ctx.as_ref().map(|c| c.path.clone()),
            trace_id: ctx.as_ref().map(|c| c.trace_id.clone()),
            errors,
            current_version: match self {
                Self::PreconditionFailed { current_version, .. } => Some(*current_version),
                _ => None,
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = self.to_problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            Self::TooManyRequests { retry_after_secs, .. }
            | Self::Upstream { retry_after_secs: Some(retry_after_secs), .. } => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::Unavailable(e) => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS));
                res.extensions_mut().insert(InternalCause(e.clone()));
            }
            Self::Unauthenticated(_) => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"mirai\", Basic realm=\"mirai\""),
                );
            }
            Self::Internal(e) => {
                res.extensions_mut().insert(InternalCause(format!("{e:#}")));
            }
            Self::PreconditionFailed { current_version, .. } => {
                if let Ok(v) = HeaderValue::from_str(&format!("\"{current_version}\"")) {
                    res.headers_mut().insert(header::ETAG, v);
                }
            }
            _ => {}
        }
        res
    }
}

/// What a 503 tells clients to wait before retrying.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::AppError;

    #[test]
    fn a_database_that_is_away_is_a_503_not_a_500() {
        for e in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
            sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into()),
        ] {
            let shown = e.to_string();
            assert!(matches!(AppError::from(e), AppError::Unavailable(_)), "{shown}");
        }
        assert!(matches!(AppError::from(sqlx::Error::Protocol("bad row".into())), AppError::Internal(_)));
    }
}
