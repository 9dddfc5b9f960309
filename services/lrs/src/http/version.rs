//! `X-Experience-API-Version`: required on every xAPI request except `about` (400
//! otherwise); 1.0.x is served as 1.0.3, 2.0.x as 2.0.0; echoed on every response.
//! Statement reads also always carry `X-Experience-API-Consistent-Through`.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use mirai_kit::AppError;

use chrono::Utc;

use crate::app::{
    statement::{XapiVersion, format_ts},
    statements::STORE_TIMEOUT_SECS,
};

pub const VERSION: HeaderName = HeaderName::from_static("x-experience-api-version");

pub const CONSISTENT_THROUGH: HeaderName = HeaderName::from_static("x-experience-api-consistent-through");

pub async fn require(req: Request, next: Next) -> Response {
    // Only the xAPI resources speak xAPI versions; operator endpoints do not.
    if !req.uri().path().contains("/xapi/") {
        return next.run(req).await;
    }
    // Communication 2.1.3: on all responses to Statements resource requests.
    let statements_resource = req.uri().path().ends_with("/xapi/statements");
    let header = req.headers().get(&VERSION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (version, mut res) = match header.as_deref().map(XapiVersion::parse) {
        Some(Some(v)) => (v, with_version(req, next, v).await),
        Some(None) => (
            XapiVersion::NEWEST,
            AppError::client(
                StatusCode::BAD_REQUEST,
                "xapi-version",
                "Unsupported xAPI version",
                format!(
                    "X-Experience-API-Version `{}` is not supported; this LRS speaks 2.0.0 and 1.0.3",
                    header.unwrap_or_default()
                ),
            )
            .into_response(),
        ),
        None if req.uri().path().ends_with("/xapi/about") => {
            (XapiVersion::V20, with_version(req, next, XapiVersion::V20).await)
        }
        None => (
            XapiVersion::NEWEST,
            AppError::client(
                StatusCode::BAD_REQUEST,
                "xapi-version",
                "Missing xAPI version",
                "send X-Experience-API-Version: this LRS speaks 2.0.0 and 1.0.3",
            )
            .into_response(),
        ),
    };
    // Every response says which version answered; a request without a version it may
    // speak is answered in the newest this LRS supports (1.0.3 and 2.0 Communication
    // 3.3: "set this header to the latest patch version"), and every statement read says how consistent it is, whatever its
    // status and method (Communication 2.1.3). A write or an error lists no statements,
    // so any past instant is true of it; the transaction cap (five seconds) is a safe one.
    res.headers_mut().insert(VERSION, HeaderValue::from_static(version.as_str()));
    if statements_resource {
        ensure_consistent_through(&mut res);
    }
    res
}

/// Adds `X-Experience-API-Consistent-Through` to a Statements response that lists no
/// statements (a write or a refusal): any past instant is true of it, and the storing
/// transactions' cap (five seconds) is a safe one.
pub fn ensure_consistent_through(res: &mut Response) {
    if !res.headers().contains_key(&CONSISTENT_THROUGH)
        && let Ok(v) = HeaderValue::from_str(&format_ts(Utc::now() - chrono::Duration::seconds(STORE_TIMEOUT_SECS)))
    {
        res.headers_mut().insert(CONSISTENT_THROUGH, v);
    }
}

async fn with_version(mut req: Request, next: Next, version: XapiVersion) -> Response {
    req.extensions_mut().insert(version);
    next.run(req).await
}
