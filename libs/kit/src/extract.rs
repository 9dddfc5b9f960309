//! Extractors whose rejections are problem+json: `Json`, `Path`, `Query`.

use axum::{
    extract::{
        FromRequest, FromRequestParts,
        rejection::{JsonRejection, PathRejection, QueryRejection},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::error::AppError;

/// JSON body in, JSON body out; a bad body is a 400/413/415/422 problem.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => AppError::client(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "expected `Content-Type: application/json`",
            ),
            JsonRejection::JsonSyntaxError(e) => AppError::client(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                format!("the body is not valid JSON: {}", inner(&e)),
            ),
            JsonRejection::JsonDataError(e) => {
                let message = inner(&e);
                let field = message.split(':').next().unwrap_or("body").trim().to_owned();
                AppError::Invalid {
                    detail: format!("the body does not match the schema: {message}"),
                    errors: vec![crate::error::FieldError::new(field, message)],
                }
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                body_rejection(e.status(), e.body_text())
            }
            JsonRejection::BytesRejection(e) => body_read_error(&e),
            other => AppError::client(other.status(), "bad-request", "Bad request", other.body_text()),
        }
    }
}

/// A body that could not be read: too large (413), not sent in time (408, the connection
/// is then closed), or broken off (400).
pub fn body_read_error(e: &(dyn std::error::Error + 'static)) -> AppError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return body_rejection(StatusCode::PAYLOAD_TOO_LARGE, String::new());
        }
        if err.is::<tower_http::timeout::TimeoutError>() {
            return AppError::client(
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timeout",
                "the request body did not arrive in time",
            );
        }
        cur = err.source();
    }
    AppError::client(StatusCode::BAD_REQUEST, "bad-request", "Bad request", "the request body could not be read")
}

fn body_rejection(status: StatusCode, text: String) -> AppError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::client(status, "payload-too-large", "Payload too large", "the request body exceeds the size limit")
    } else {
        AppError::client(status, "bad-request", "Bad request", text)
    }
}

/// The innermost error message (serde's, with its path), without axum's wrapping.
fn inner(e: &dyn std::error::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Path parameters; a malformed one (a bad UUID) is a 400 problem.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> Self {
        AppError::client(
            StatusCode::BAD_REQUEST,
            "invalid-path-parameter",
            "Invalid path parameter",
            match &r {
                PathRejection::FailedToDeserializePathParams(e) => e.body_text(),
                other => other.body_text(),
            },
        )
    }
}

/// Query parameters; a malformed one is a 400 problem.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::client(StatusCode::BAD_REQUEST, "invalid-query-parameter", "Invalid query parameter", r.body_text())
    }
}
