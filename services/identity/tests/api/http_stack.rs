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

/// Each instance caps one tenant's request rate (after authentication, whatever the
/// credential): over it, a 429 problem with Retry-After; other tenants are unaffected.
#[tokio::test]
async fn a_noisy_tenant_is_capped_and_others_are_not() {
    let app = mirai_testkit::TestApp::spawn_with(&[mirai_identity::service()], |c| {
        c.tenant_rate_per_sec = 2;
        c.tenant_rate_burst = 5;
    })
    .await
    .unwrap();
    let (noisy, quiet) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let noisy_token = app.token(Some(noisy), &[mirai_kit::Role::Learner]);
    let mut limited = None;
    for _ in 0..20 {
        let res = app.http.get(app.url("/api/v1/identity/me")).bearer_auth(&noisy_token).send().await.unwrap();
        if res.status() == 429 {
            limited = Some(res);
            break;
        }
        assert_eq!(res.status(), 200);
    }
    let res = limited.expect("the tenant is capped within 20 requests");
    assert!(res.headers().get("retry-after").is_some());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "https://mirai.dev/problems/rate-limited");
    let quiet_token = app.token(Some(quiet), &[mirai_kit::Role::Learner]);
    let res = app.http.get(app.url("/api/v1/identity/me")).bearer_auth(&quiet_token).send().await.unwrap();
    assert_eq!(res.status(), 200, "another tenant is not affected");
    app.stop().await;
}
