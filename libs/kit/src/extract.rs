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
            JsonRejection::BytesRejection(e) => body_rejection(e.status(), e.body_text()),
            other => AppError::client(other.status(), "bad-request", "Bad request", other.body_text()),
        }
    }
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
