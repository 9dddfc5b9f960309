//! The HTTP stack: request context, server spans and trace propagation, RED metrics by
//! route, JSON access logs, authentication, CORS, body limits, problem fallbacks, and the
//! `/healthz`, `/readyz` and `/metrics` endpoints.

use std::{
    sync::{Arc, OnceLock},
    time::Instant,
};

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::{
    auth::{AuthFailure, KeyStore},
    config::Config,
    error::{AppError, InternalCause},
    telemetry::{RequestContext, TraceParent},
};
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Filled by the route layer with the matched route template, read by the outer middleware.
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<String>>);

/// Outermost middleware: request id, the server span and its trace context, access log,
/// RED metrics.
async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let slot = RouteSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let client = req.extensions().get::<crate::client_ip::ClientIp>().and_then(|c| c.0);
    let client = client.map(|ip| ip.to_string()).unwrap_or_default();
    // The server span continues the caller's trace (or starts one). Routing has not run
    // yet, so it is named by the method until the route is known.
    let span = tracing::info_span!(
        "request",
        otel.name = method.as_str(),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method.as_str(),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        url.path = path.as_str(),
        trace_id = tracing::field::Empty,
        request_id = request_id.as_str(),
    );
    let incoming = req.headers().get(&TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(TraceParent::parse);
    if let Some(parent) = &incoming {
        mirai_trace::continue_trace(&span, parent);
    }
    // The span's own context is what the response and the events this request produces
    // carry, so their consumers continue the same trace under this span.
    let traceparent = mirai_trace::traceparent(&span)
        .unwrap_or_else(|| incoming.as_ref().map_or_else(TraceParent::new_root, TraceParent::child));
    span.record("trace_id", traceparent.trace_id.as_str());
    let ctx = RequestContext {
        request_id: request_id.clone(),
        trace_id: traceparent.trace_id.clone(),
        traceparent: traceparent.clone(),
        path: path.clone(),
    };
    let mut res = ctx.scope(next.run(req)).instrument(span.clone()).await;
    let status = res.status();
    let matched = slot.0.get().cloned();
    let route = matched.clone().unwrap_or_else(|| "unmatched".into());
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("mirai_http_requests_total", "route" => route.clone(), "method" => method.to_string(), "status" => status.as_u16().to_string()).increment(1);
    metrics::histogram!("mirai_http_request_duration_seconds", "route" => route.clone(), "method" => method.to_string()).record(elapsed);
    if let Some(InternalCause(cause)) = res.extensions().get::<InternalCause>() {
        // A 503 is a dependency outage the client was told to retry (Retry-After): a
        // warning per request; the outage itself is alerted on. A 500 is a bug: an error.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(trace_id = %traceparent.trace_id, request_id = %request_id, %method, %path, %route, %client, status = status.as_u16(), cause = %cause, "request refused: dependency unavailable");
        } else {
            tracing::error!(trace_id = %traceparent.trace_id, request_id = %request_id, %method, %path, %route, %client, status = status.as_u16(), cause = %cause, "request failed");
        }
    } else if !matches!(path.as_str(), "/healthz" | "/livez" | "/readyz" | "/metrics") {
        tracing::info!(trace_id = %traceparent.trace_id, request_id = %request_id, %method, %path, %route, %client, status = status.as_u16(), latency_ms = elapsed * 1000.0, "request");
    }
    if let Some(route) = &matched {
        mirai_trace::rename(&span, format!("{method} {route}"));
        span.record("http.route", route.as_str());
    }
    // As an i64: the layer turns unsigned values into strings.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    drop(span);
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&traceparent.header()) {
        h.insert(TRACEPARENT, v);
    }
    res
}

/// Route layer for service routers: records the matched route template.
pub async fn capture_route(req: Request, next: Next) -> Response {
    if let (Some(slot), Some(path)) = (req.extensions().get::<RouteSlot>(), req.extensions().get::<MatchedPath>()) {
        let _ = slot.0.set(path.as_str().to_owned());
    }
    next.run(req).await
}

/// Authenticates the `Authorization` header, if any, into a `Principal` extension. A
/// credential that is present but invalid is remembered as an `AuthFailure`: whatever
/// needs a principal answers 401 with its reason, inside the service's own layers (so,
/// say, the LRS still adds its version header), and endpoints that need none ignore it.
async fn authenticate(State(keys): State<KeyStore>, mut req: Request, next: Next) -> Response {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let verified = match value.to_str() {
            Ok(text) => keys.verify_header(text).map_err(|e| e.to_string()),
            Err(_) => Err("the Authorization header is not valid text".to_owned()),
        };
        match verified {
            Ok(p) => {
                req.extensions_mut().insert(p);
            }
            Err(reason) => {
                req.extensions_mut().insert(AuthFailure(reason));
            }
        }
    }
    next.run(req).await
}

pub async fn not_found() -> AppError {
    AppError::client(StatusCode::NOT_FOUND, "not-found", "Resource not found", "no resource at this path")
}

pub async fn method_not_allowed() -> AppError {
    AppError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this resource does not support the method",
    )
}

/// Something `/readyz` asks.
pub type ReadyCheck = (String, Arc<dyn Fn() -> futures::future::BoxFuture<'static, Result<(), String>> + Send + Sync>);

/// How long readiness waits for each check: a probe gets its answer within its own
/// deadline even when a dependency hangs.
const READY_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1000);

async fn readyz(State(checks): State<Arc<Vec<ReadyCheck>>>) -> Response {
    let results = futures::future::join_all(checks.iter().map(|(name, c)| async move {
        tokio::time::timeout(READY_CHECK_TIMEOUT, c())
            .await
            .unwrap_or_else(|_| Err(format!("{name}: no answer within {READY_CHECK_TIMEOUT:?}")))
    }))
    .await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if failures.is_empty() {
        (StatusCode::OK, axum::Json(serde_json::json!({ "status": "ready" }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "not_ready", "failures": failures })),
        )
            .into_response()
    }
}

async fn metrics_text() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::telemetry::prometheus().render())
}

/// Wraps the fleet's service routers with the shared stack and the root endpoints.
pub fn app(
    config: &Config,
    services: Router,
    keys: KeyStore,
    ready: Vec<ReadyCheck>,
    cors_anywhere: Vec<String>,
) -> Router {
    let root = Router::new()
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }))
        // Liveness (Kubernetes' name for it): the process serves, whatever its dependencies.
        .route("/livez", get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }))
        .route("/readyz", get(readyz).with_state(Arc::new(ready)))
        .route("/metrics", get(metrics_text));
    let mut app = root
        .merge(services)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(config.body_limit));
    // Inside authentication, so the tenant is known whatever the credential.
    if let Some(limit) = crate::tenant_limit::TenantLimit::new(config.tenant_rate_per_sec, config.tenant_rate_burst) {
        app = app.layer(middleware::from_fn_with_state(limit, crate::tenant_limit::layer));
    }
    let mut app = app.layer(middleware::from_fn_with_state(keys, authenticate));
    if let Some(cors) = cors(config, cors_anywhere) {
        app = app.layer(cors);
    }
    // Outermost: the client address is known to everything, the request log included.
    app.layer(middleware::from_fn(observe)).layer(middleware::from_fn_with_state(
        std::sync::Arc::<[crate::client_ip::Cidr]>::from(config.trusted_proxies.clone()),
        crate::client_ip::layer,
    ))
}

/// CORS: the configured origins (`MIRAI_CORS_ORIGINS`) everywhere, and any origin on the
/// paths services open to content hosted anywhere (`Started::cors_anywhere`).
fn cors(config: &Config, anywhere: Vec<String>) -> Option<CorsLayer> {
    if config.cors_origins.is_empty() && anywhere.is_empty() {
        return None;
    }
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::ACCEPT_LANGUAGE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-experience-api-version"),
            REQUEST_ID,
            TRACEPARENT,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::LAST_MODIFIED,
            HeaderName::from_static("x-experience-api-version"),
            HeaderName::from_static("x-experience-api-consistent-through"),
            REQUEST_ID,
            TRACEPARENT,
        ])
        .max_age(std::time::Duration::from_secs(600));
    let any = config.cors_origins.iter().any(|o| o == "*");
    if any {
        return Some(base.allow_origin(Any));
    }
    let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    Some(base.allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, parts: &http::request::Parts| {
        origins.contains(origin) || anywhere.iter().any(|p| parts.uri.path().starts_with(p.as_str()))
    })))
}
