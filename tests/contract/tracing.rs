//! One trace spans request → publish → consume, and reaches an OTLP collector (a fake one
//! on loopback) over OTLP/HTTP: JSON from a test fleet, protobuf from the real binary,
//! which exports what it buffered when SIGTERM stops it.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use mirai_kit::telemetry::{OtlpProtocol, flush_traces};
use mirai_testkit::{TestApp, drop_database, nats_prefix, scratch_database, url_for_db, wait_until};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

/// What the fake collector received: spans and resources (JSON), or raw bodies.
#[derive(Default)]
struct Received {
    spans: Vec<Value>,
    resources: Vec<Value>,
    bodies: Vec<Bytes>,
}

type Collector = Arc<Mutex<Received>>;

/// Records OTLP/HTTP JSON. It asserts nothing itself: a panic would fail the export, and
/// every test in this process exports through the same exporter.
async fn collect_json(State(got): State<Collector>, axum::Json(body): axum::Json<Value>) -> &'static str {
    let mut got = got.lock().unwrap();
    for rs in body["resourceSpans"].as_array().into_iter().flatten() {
        got.resources.push(rs["resource"].clone());
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            got.spans.extend(ss["spans"].as_array().into_iter().flatten().cloned());
        }
    }
    "{}"
}

/// Records OTLP/HTTP protobuf bodies as they came.
async fn collect_raw(State(got): State<Collector>, body: Bytes) -> &'static str {
    got.lock().unwrap().bodies.push(body);
    ""
}

/// Starts a fake collector accepting `/v1/traces` with `handler`; returns its base URL.
async fn collector<H, T>(handler: H) -> (String, Collector)
where
    H: axum::handler::Handler<T, Collector>,
    T: 'static,
{
    let got = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new().route("/v1/traces", post(handler)).with_state(got.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn a_request_its_event_and_the_consumer_share_one_trace_exported_over_otlp() {
    let (endpoint, got) = collector(collect_json).await;
    let app = TestApp::spawn_with(&mirai::services(), |cfg| {
        cfg.otlp_endpoint = Some(endpoint);
        cfg.otlp_protocol = OtlpProtocol::HttpJson;
    })
    .await
    .unwrap();
    let admin = app.platform_admin();
    let (_, t) =
        app.post("/api/v1/tenant/tenants", Some(&admin), json!({ "kind": "org", "name": "T", "slug": "traced" })).await;
    let tenant = t["id"].as_str().unwrap();

    // The caller's trace: our server span continues it, the relay publishes the
    // membership event under a producer span, and identity's consumer continues that.
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

    // OTLP JSON: camelCase names, ids as lowercase hex, kind as an integer.
    let find =
        |name: &str| got.lock().unwrap().spans.iter().find(|s| s["traceId"] == trace_id && s["name"] == name).cloned();
    let (server_name, producer_name, consumer_name) = (
        "POST /api/v1/tenant/tenants/{tenant_id}/memberships",
        "publish tenant.membership.granted.v1",
        "consume tenant.membership.granted.v1",
    );
    // Identity's consumer of the event (notification consumes it too, in its own span).
    let find_consumer = || {
        got.lock()
            .unwrap()
            .spans
            .iter()
            .find(|s| {
                s["traceId"] == trace_id
                    && s["name"] == consumer_name
                    && s["attributes"].as_array().is_some_and(|a| {
                        a.iter().any(|a| {
                            a["key"] == "messaging.consumer.group.name"
                                && a["value"]["stringValue"] == "identity-memberships"
                        })
                    })
            })
            .cloned()
    };
    wait_until("the server, producer and consumer spans reach the collector", Duration::from_secs(20), || async {
        flush_traces().await;
        find(server_name).is_some() && find(producer_name).is_some() && find_consumer().is_some()
    })
    .await;
    let server = find(server_name).unwrap();
    let producer = find(producer_name).unwrap();
    let consumer = find_consumer().unwrap();
    assert_eq!(server["parentSpanId"], "b7ad6b7169203331", "the server span's parent is the caller's span");
    assert_eq!(server["kind"], 2, "SERVER");
    assert_eq!(producer["parentSpanId"], server["spanId"], "the event is published under the request's span");
    assert_eq!(producer["kind"], 4, "PRODUCER");
    assert_eq!(consumer["parentSpanId"], producer["spanId"], "the consumer continues the producer's span");
    assert_eq!(consumer["kind"], 5, "CONSUMER");
    let attr = |s: &Value, k: &str| {
        s["attributes"].as_array().unwrap().iter().find(|a| a["key"] == k).map(|a| a["value"].clone())
    };
    assert_eq!(attr(&server, "http.response.status_code"), Some(json!({ "intValue": "201" })));
    assert_eq!(
        attr(&server, "http.route"),
        Some(json!({ "stringValue": "/api/v1/tenant/tenants/{tenant_id}/memberships" }))
    );
    assert_eq!(attr(&producer, "messaging.system"), Some(json!({ "stringValue": "nats" })));
    assert_eq!(
        attr(&consumer, "messaging.consumer.group.name"),
        Some(json!({ "stringValue": "identity-memberships" }))
    );
    let service = json!({ "key": "service.name", "value": { "stringValue": "mirai" } });
    assert!(
        got.lock().unwrap().resources.iter().all(|r| r["attributes"].as_array().unwrap().contains(&service)),
        "every batch names the service"
    );
    app.stop().await;
}

/// The real binary, with a schedule delay no test outlives: only the flush on SIGTERM
/// can deliver the request's span.
#[tokio::test]
async fn spans_are_flushed_on_sigterm() {
    let (endpoint, got) = collector(collect_raw).await;
    let db = scratch_database(&[("identity", mirai_identity::service().migrations)]).await.unwrap();
    let prefix = nats_prefix();
    let state = std::env::temp_dir().join(format!("mirai-state-{}", Uuid::new_v4()));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mirai"))
        .args(["serve", "identity", "--migrate"])
        .env("MIRAI_ALLOW_DEV_SECRETS", "1")
        .env("DATABASE_URL", url_for_db(&db))
        .env("MIRAI_NATS_PREFIX", &prefix)
        .env("MIRAI_HTTP_ADDR", "127.0.0.1:0")
        .env("MIRAI_STATE_DIR", &state)
        .env("MIRAI_SHUTDOWN_GRACE_SECS", "5")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // The bound address is in the "fleet listening" log line; the rest of the output is
    // drained so the child never blocks on a full pipe.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(log) = serde_json::from_str::<Value>(&line) else { continue };
            if log["message"] == "fleet listening" {
                return log["addr"].as_str().unwrap().to_owned();
            }
        }
        panic!("the binary exited before listening");
    })
    .await
    .expect("the binary listens within 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/identity/jwks.json"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert!(res.headers()["traceparent"].to_str().unwrap().contains(trace_id));
    assert!(got.lock().unwrap().bodies.is_empty(), "nothing is exported before the schedule or a flush");

    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success(), "SIGTERM sent");
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("exits within 30 s").unwrap();
    assert!(exit.success(), "a SIGTERM stop is clean: {exit}");

    // Protobuf carries strings as raw UTF-8 and ids as raw bytes.
    let span_name = b"GET /api/v1/identity/jwks.json";
    let trace_bytes = hex::decode(trace_id).unwrap();
    let bodies = got.lock().unwrap().bodies.clone();
    assert!(
        bodies.iter().any(|b| contains(b, span_name) && contains(b, &trace_bytes)),
        "the request's span was exported at shutdown ({} bodies)",
        bodies.len()
    );
    drop_database(&db).await;
    let _ = mirai_testkit::bus(&prefix).await.delete_prefixed_streams().await;
    let _ = std::fs::remove_dir_all(&state);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
