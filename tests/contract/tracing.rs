//! One trace spans request → event → consumer, and reaches an OTLP collector (a fake
//! one, speaking OTLP/HTTP JSON on loopback) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::State, routing::post};
use mirai_testkit::{TestApp, wait_until};
use serde_json::{Value, json};
use uuid::Uuid;

type Spans = Arc<Mutex<Vec<Value>>>;

async fn collect(State(spans): State<Spans>, axum::Json(body): axum::Json<Value>) -> &'static str {
    for rs in body["resourceSpans"].as_array().into_iter().flatten() {
        assert_eq!(rs["resource"]["attributes"][0]["key"], "service.name");
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            spans.lock().unwrap().extend(ss["spans"].as_array().into_iter().flatten().cloned());
        }
    }
    "{}"
}

#[tokio::test]
async fn a_request_its_event_and_the_consumer_share_one_trace_exported_over_otlp() {
    let spans: Spans = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new().route("/v1/traces", post(collect)).with_state(spans.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let app = TestApp::spawn_with(&mirai::services(), |cfg| cfg.otlp_endpoint = Some(collector)).await.unwrap();
    let admin = app.platform_admin();
    let (_, t) =
        app.post("/api/v1/tenant/tenants", Some(&admin), json!({ "kind": "org", "name": "T", "slug": "traced" })).await;
    let tenant = t["id"].as_str().unwrap();

    // The caller's trace: our server span continues it, the membership event carries it,
    // and identity's consumer continues it again.
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let res = app
        .http
        .post(app.url(&format!("/api/v1/tenant/tenants/{tenant}/memberships")))
        .bearer_auth(&admin)
        .header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"))
        .json(&json!({ "user_id": Uuid::now_v7(), "roles": ["learner"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let find = |name: &str| {
        spans.lock().unwrap().iter().find(|s| s["traceId"] == trace_id && s["name"].as_str() == Some(name)).cloned()
    };
    wait_until("the server and consumer spans reach the collector", Duration::from_secs(10), || async {
        find("POST /api/v1/tenant/tenants/{tenant_id}/memberships").is_some()
            && find("consume tenant.membership.granted.v1").is_some()
    })
    .await;
    let server = find("POST /api/v1/tenant/tenants/{tenant_id}/memberships").unwrap();
    let consumer = find("consume tenant.membership.granted.v1").unwrap();
    assert_eq!(server["parentSpanId"], "b7ad6b7169203331", "the server span's parent is the caller's span");
    assert_eq!(server["kind"], 2);
    assert_eq!(consumer["parentSpanId"], server["spanId"], "the consumer span's parent is the request's span");
    assert_eq!(consumer["kind"], 5);
    let attr = |s: &Value, k: &str| {
        s["attributes"].as_array().unwrap().iter().find(|a| a["key"] == k).map(|a| a["value"].clone())
    };
    assert_eq!(attr(&server, "http.response.status_code"), Some(json!({ "intValue": "201" })));
    assert_eq!(
        attr(&consumer, "messaging.consumer.group.name"),
        Some(json!({ "stringValue": "identity-memberships" }))
    );
    app.stop().await;
}
