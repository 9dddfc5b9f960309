//! The search service on its OpenSearch engine, as production would run it: the `mirai`
//! binary serving search with `MIRAI_SEARCH__ENGINE=opensearch`, against a local HTTP
//! server answering as OpenSearch documents (no OpenSearch server can be had here).
//! Authoring publishes in this process; the subprocess learns it from the stream, empties
//! the indexes (a new epoch), bulk-indexes the course through the shared alias, and
//! answers the search API from OpenSearch's hits, with the tenant filter in the query.

use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{Method, StatusCode, Uri},
    response::IntoResponse,
};
use mirai_kit::Role;
use mirai_testkit::{TestApp, poll, url_for_db};
use serde_json::{Value, json};
use uuid::Uuid;

type Log = Arc<Mutex<Vec<(String, String)>>>;

/// Answers as OpenSearch documents; remembers `METHOD path` and the body of each request.
async fn opensearch(
    State((log, hits)): State<(Log, Value)>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> axum::response::Response {
    let path = uri.path().to_owned();
    let body = String::from_utf8_lossy(&body).into_owned();
    log.lock().unwrap().push((format!("{method} {path}"), body.clone()));
    let ok = |v: Value| axum::Json(v).into_response();
    match method.as_str() {
        "HEAD" => StatusCode::NOT_FOUND.into_response(),
        "PUT" => {
            ok(json!({ "acknowledged": true, "shards_acknowledged": true, "index": path.trim_start_matches('/') }))
        }
        _ if path.ends_with("/_bulk") => {
            let items: Vec<Value> = body
                .lines()
                .step_by(2)
                .map(|l| {
                    let id = serde_json::from_str::<Value>(l).unwrap()["index"]["_id"].clone();
                    json!({ "index": { "_index": "mirai-search-shared-v1", "_id": id, "result": "created", "status": 201 } })
                })
                .collect();
            ok(json!({ "took": 1, "errors": false, "items": items }))
        }
        _ if path.ends_with("/_delete_by_query") => {
            ok(json!({ "took": 1, "timed_out": false, "total": 0, "deleted": 0,
            "batches": 0, "version_conflicts": 0, "noops": 0, "retries": { "bulk": 0, "search": 0 }, "failures": [] }))
        }
        _ if path.ends_with("/_search") => ok(json!({ "took": 1, "timed_out": false,
            "_shards": { "total": 1, "successful": 1, "skipped": 0, "failed": 0 },
            "hits": { "total": { "value": 1, "relation": "eq" }, "max_score": 3.0, "hits": hits } })),
        _ => StatusCode::BAD_REQUEST.into_response(),
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_search_service_runs_on_opensearch_behind_the_same_api() {
    let app = TestApp::spawn(&[mirai_authoring::service()]).await;
    app.share_signing_key().await;
    let tenant = Uuid::now_v7();
    let publisher = app.token(Some(tenant), &[Role::ProviderAdmin]);

    // The course authoring publishes, and the hit the fake will answer with.
    let course = json!({ "title": "Ladder safety", "summary": "Three points of contact.", "locale": "en",
        "visibility": "tenant", "modules": [{ "title": "M", "lessons": [{ "title": "Before you climb",
            "blocks": [{ "kind": "text", "content": { "markdown": "Inspect the ladder's feet." } }] }] }] });
    let (s, c) = app.post("/api/v1/authoring/courses", Some(&publisher), course).await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();
    let hits = json!([{ "_index": "mirai-search-shared-v1", "_id": id, "_score": 3.0,
        "_source": { "course_id": id, "kind": "course", "title": "Ladder safety", "locale": "en" },
        "highlight": { "body": ["Inspect the <mark>ladder</mark>&#x27;s feet."] } }]);
    let log: Log = Arc::default();
    let fake = Router::new().fallback(opensearch).with_state((log.clone(), hits));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let os_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, fake).await.unwrap() });

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _search = Killed(
        Command::new(env!("CARGO_BIN_EXE_mirai"))
            .args(["serve", "search", "--migrate"])
            .env("MIRAI_ALLOW_DEV_SECRETS", "1")
            .env("DATABASE_URL", url_for_db(&app.database))
            .env("MIRAI_NATS_PREFIX", &app.prefix)
            .env("MIRAI_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("MIRAI_PUBLIC_URL", &app.url)
            .env("MIRAI_SEARCH__ENGINE", "opensearch")
            .env("MIRAI_SEARCH__OPENSEARCH_URL", &os_url)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    poll("the search service to be ready", Duration::from_secs(30), || async {
        let r = app.http.get(format!("{base}/readyz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;

    let res = app
        .http
        .post(app.url(&format!("/api/v1/authoring/courses/{id}/publish")))
        .bearer_auth(&publisher)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // The subprocess made its indexes, emptied them (a new epoch), then replaced the course.
    let requests = poll("the course bulk-indexed", Duration::from_secs(20), || async {
        let l = log.lock().unwrap().clone();
        l.iter().any(|(r, _)| r.ends_with("/_bulk")).then_some(l)
    })
    .await;
    let order: Vec<&str> = requests.iter().map(|(r, _)| r.as_str()).filter(|r| !r.starts_with("HEAD")).collect();
    assert_eq!(
        order,
        [
            "PUT /mirai-search-shared-v1",
            "POST /mirai-search-*/_delete_by_query",
            "POST /mirai-search-shared/_delete_by_query",
            "POST /mirai-search-shared/_bulk"
        ]
    );
    let bulk: Vec<Value> = requests[requests.len() - 1].1.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(bulk.len(), 4, "the course and its lesson");
    assert_eq!(bulk[1]["tenant_id"], tenant.to_string());
    assert_eq!(bulk[1]["title"], "Ladder safety");
    assert!(bulk[3]["body_english"].as_str().unwrap().contains("Inspect the ladder"));

    // The same API answers from OpenSearch, with the caller's tenant in the filter.
    let learner = app.token(Some(tenant), &[Role::Learner]);
    let res = app.http.get(format!("{base}/api/v1/search/search?q=ladder")).bearer_auth(&learner).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["hits"][0]["course_id"], id);
    assert_eq!(body["hits"][0]["highlight"], "Inspect the <mark>ladder</mark>&#x27;s feet.");
    let (_, query) = log.lock().unwrap().iter().rev().find(|(r, _)| r.ends_with("/_search")).cloned().unwrap();
    let query: Value = serde_json::from_str(&query).unwrap();
    assert_eq!(query["query"]["bool"]["filter"][0]["bool"]["should"][0]["term"]["tenant_id"], tenant.to_string());
    // Bad input is still the service's 422, never a request to OpenSearch.
    let before = log.lock().unwrap().len();
    let res = app.http.get(format!("{base}/api/v1/search/search?q=")).bearer_auth(&learner).send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(log.lock().unwrap().len(), before);
    app.stop().await;
}
