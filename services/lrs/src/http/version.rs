//! `X-Experience-API-Version`: required on every xAPI request except `about` (400
//! otherwise); 1.0.x is served as 1.0.3, 2.0.x as 2.0.0; echoed on every response.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use mirai_kit::AppError;

use crate::app::statement::XapiVersion;

pub const VERSION: HeaderName = HeaderName::from_static("x-experience-api-version");

pub async fn require(mut req: Request, next: Next) -> Response {
    // Only the xAPI resources speak xAPI versions; operator endpoints do not.
    if !req.uri().path().contains("/xapi/") {
        return next.run(req).await;
    }
    let header = req.headers().get(&VERSION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let version = match header.as_deref().map(XapiVersion::parse) {
        Some(Some(v)) => v,
        Some(None) => {
            return AppError::client(
                StatusCode::BAD_REQUEST,
                "xapi-version",
                "Unsupported xAPI version",
                format!(
                    "X-Experience-API-Version `{}` is not supported; use 1.0.3 or 2.0.0",
                    header.unwrap_or_default()
                ),
            )
            .into_response();
        }
        None if req.uri().path().ends_with("/xapi/about") => XapiVersion::V20,
        None => {
            return AppError::client(
                StatusCode::BAD_REQUEST,
                "xapi-version",
                "Missing xAPI version",
                "send X-Experience-API-Version (1.0.3 or 2.0.0)",
            )
            .into_response();
        }
    };
    req.extensions_mut().insert(version);
    let mut res = next.run(req).await;
    res.headers_mut().insert(VERSION, HeaderValue::from_static(version.as_str()));
    res
}
