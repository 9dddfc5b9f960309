//! The About resource.

use mirai_kit::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct About {
    /// Every xAPI version this LRS speaks.
    version: Vec<&'static str>,
    extensions: serde_json::Value,
}

/// The xAPI versions this LRS supports (no version header needed).
#[utoipa::path(get, path = "/xapi/about", tag = "xapi", security(()), responses((status = 200, description = "About", body = About)))]
async fn about() -> Json<About> {
    Json(About { version: vec!["1.0.3", "2.0.0"], extensions: serde_json::json!({}) })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(about))
}
