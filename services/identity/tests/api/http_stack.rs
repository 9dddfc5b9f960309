//! The shared HTTP stack: request ids and trace context echoed, CORS for browsers,
//! health, readiness and metrics at the root.

use reqwest::Method;

use crate::helpers::spawn;

#[tokio::test]
async fn request_ids_trace_context_cors_health_and_metrics() {
    let app = spawn().await;
    let res = app
        .http
        .get(app.url("/api/v1/identity/jwks.json"))
        .header("x-request-id", "req-123")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "req-123");
    let tp = res.headers()["traceparent"].to_str().unwrap();
    assert!(tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "the trace continues: {tp}");
    assert!(!tp.contains("00f067aa0ba902b7"), "with a span of our own");

    // A problem carries the caller's trace id.
    let res = app
        .http
        .get(app.url("/api/v1/identity/me"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");

    let pre = app
        .http
        .request(Method::OPTIONS, app.url("/api/v1/identity/api-keys"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type,idempotency-key")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success());
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");

    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(app.http.get(app.url("/livez")).send().await.unwrap().status(), 200);
    let ready: serde_json::Value = app.http.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("mirai_http_requests_total"), "RED metrics are exported");
    assert!(metrics.contains("route=\"/api/v1/identity/jwks.json\""), "labelled by route template");
    app.stop().await;
}
