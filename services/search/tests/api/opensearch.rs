//! The OpenSearch engine at the wire: a local HTTP server that answers the way OpenSearch
//! documents (index creation, `_bulk`, `_delete_by_query`, `_search` with highlights),
//! recording every request, so the tests read exactly what the adapter sends: NDJSON bulk
//! bodies through the right alias, the tenant filter in every query, and what it makes of
//! the answers, errors included.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{Method, StatusCode, Uri},
    response::IntoResponse,
};
use chrono::Utc;
use mirai_contracts::ids::{CourseId, TenantId};
use mirai_search::engine::{Doc, opensearch::Os};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: String,
    body: String,
}

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Aliases that exist.
    aliases: Arc<Mutex<HashSet<String>>>,
    /// The next `_search` answer's hits.
    hits: Arc<Mutex<Value>>,
    /// Fail the next bulk item / answer 503.
    fail_bulk_item: Arc<Mutex<bool>>,
    unavailable: Arc<Mutex<bool>>,
}

async fn answer(State(f): State<Fake>, method: Method, uri: Uri, body: Bytes) -> axum::response::Response {
    let path = uri.path().to_owned();
    let body = String::from_utf8_lossy(&body).into_owned();
    f.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        query: uri.query().unwrap_or("").to_owned(),
        body: body.clone(),
    });
    if *f.unavailable.lock().unwrap() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "error": { "type": "cluster_block_exception",
            "reason": "blocked by: [SERVICE_UNAVAILABLE/2/no master];" }, "status": 503 })),
        )
            .into_response();
    }
    let json = |v: Value| axum::Json(v).into_response();
    match (method.as_str(), path.as_str()) {
        ("HEAD", p) if p.starts_with("/_alias/") => {
            let alias = p.trim_start_matches("/_alias/");
            if f.aliases.lock().unwrap().contains(alias) {
                StatusCode::OK.into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }
        ("PUT", p) => {
            let index = p.trim_start_matches('/').to_owned();
            let v: Value = serde_json::from_str(&body).unwrap();
            for alias in v["aliases"].as_object().unwrap().keys() {
                f.aliases.lock().unwrap().insert(alias.clone());
            }
            json(json!({ "acknowledged": true, "shards_acknowledged": true, "index": index }))
        }
        ("POST", p) if p.ends_with("/_bulk") => {
            let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            let fail = std::mem::take(&mut *f.fail_bulk_item.lock().unwrap());
            let index = p.trim_start_matches('/').trim_end_matches("/_bulk").to_owned();
            let items: Vec<Value> = lines
                .chunks(2)
                .enumerate()
                .map(|(i, pair)| {
                    let id = pair[0]["index"]["_id"].clone();
                    if fail && i == 1 {
                        json!({ "index": { "_index": index, "_id": id, "status": 400, "error": { "type": "mapper_parsing_exception",
                            "reason": "failed to parse field [published_at] of type [date]" } } })
                    } else {
                        json!({ "index": { "_index": format!("{index}-v1"), "_id": id, "_version": 1, "result": "created",
                            "_shards": { "total": 2, "successful": 1, "failed": 0 }, "_seq_no": i, "_primary_term": 1, "status": 201 } })
                    }
                })
                .collect();
            json(json!({ "took": 3, "errors": fail, "items": items }))
        }
        ("POST", p) if p.ends_with("/_delete_by_query") => {
            json(json!({ "took": 2, "timed_out": false, "total": 1, "deleted": 1,
            "batches": 1, "version_conflicts": 0, "noops": 0, "retries": { "bulk": 0, "search": 0 },
            "throttled_millis": 0, "requests_per_second": -1.0, "throttled_until_millis": 0, "failures": [] }))
        }
        ("POST", p) if p.ends_with("/_search") => {
            let hits = f.hits.lock().unwrap().clone();
            json(
                json!({ "took": 4, "timed_out": false, "_shards": { "total": 2, "successful": 2, "skipped": 0, "failed": 0 },
                "hits": { "total": { "value": hits.as_array().map_or(0, Vec::len), "relation": "eq" }, "max_score": 1.0, "hits": hits } }),
            )
        }
        _ => (StatusCode::BAD_REQUEST, format!("the fake does not know {method} {path}")).into_response(),
    }
}

async fn fake() -> (Fake, String) {
    let f = Fake::default();
    let app = Router::new().fallback(answer).with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (f, url)
}

fn doc(tenant: TenantId, course: CourseId, kind: &'static str, title: &str, body: &str, locale: &str) -> Doc {
    Doc {
        id: if kind == "course" { course.into() } else { Uuid::now_v7() },
        tenant_id: tenant,
        course_id: course,
        kind,
        locale: locale.into(),
        visibility: "tenant".into(),
        title: title.into(),
        body: body.into(),
        version: 2,
        published_at: Utc::now(),
    }
}

#[tokio::test]
async fn documents_are_bulk_indexed_through_the_tenants_alias_after_the_old_ones_go() {
    let (f, url) = fake().await;
    let (small, large) = (TenantId::new(), TenantId::new());
    let os = Os::new(&url, "mirai-search", [Uuid::from(large)].into()).unwrap();
    os.ensure().await.unwrap();
    // The shared alias and the large tenant's, each over a -v1 index with the mappings.
    let created: Vec<Seen> = f.seen.lock().unwrap().iter().filter(|s| s.method == Method::PUT).cloned().collect();
    let names: HashSet<&str> = created.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(names, HashSet::from(["/mirai-search-shared-v1", &*format!("/mirai-search-t-{large}-v1")]));
    let mapping: Value = serde_json::from_str(&created[0].body).unwrap();
    assert_eq!(mapping["mappings"]["properties"]["tenant_id"]["type"], "keyword");
    assert!(mapping["mappings"]["dynamic_templates"].to_string().contains("\"analyzer\":\"german\""));
    // Ensuring again creates nothing.
    f.seen.lock().unwrap().clear();
    os.ensure().await.unwrap();
    assert!(f.seen.lock().unwrap().iter().all(|s| s.method == Method::HEAD));

    for (tenant, alias) in [(small, "mirai-search-shared".to_owned()), (large, format!("mirai-search-t-{large}"))] {
        f.seen.lock().unwrap().clear();
        let course = CourseId::new();
        let docs = [
            doc(tenant, course, "course", "Brandschutz", "Fluchtwege <und> Feuerlöscher", "de-DE"),
            doc(tenant, course, "lesson", "Fluchtwege", "Zwei Wege nach draußen", "de-DE"),
        ];
        os.replace_course(tenant, course, &docs).await.unwrap();
        let seen = f.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        // First the course's old documents go, by tenant and course …
        assert_eq!(seen[0].path, format!("/{alias}/_delete_by_query"));
        assert!(seen[0].query.contains("conflicts=proceed"), "{}", seen[0].query);
        let q: Value = serde_json::from_str(&seen[0].body).unwrap();
        assert_eq!(q["query"]["bool"]["filter"][0]["term"]["tenant_id"], json!(tenant));
        assert_eq!(q["query"]["bool"]["filter"][1]["term"]["course_id"], json!(course));
        // … then the new ones, NDJSON through the alias: an action line, a source line.
        assert_eq!(seen[1].path, format!("/{alias}/_bulk"));
        let lines: Vec<Value> = seen[1].body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(seen[1].body.ends_with('\n'), "NDJSON ends with a newline");
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["index"]["_id"], json!(docs[0].id));
        assert_eq!(lines[1]["tenant_id"], json!(tenant));
        assert_eq!(lines[1]["kind"], "course");
        assert_eq!(lines[1]["body"], "Fluchtwege <und> Feuerlöscher");
        // Stemmed in the document's language, alongside the exact text.
        assert_eq!(lines[1]["body_german"], lines[1]["body"]);
        assert_eq!(lines[3]["title_german"], "Fluchtwege");
    }

    // A document OpenSearch refuses fails the whole write (the event is retried).
    *f.fail_bulk_item.lock().unwrap() = true;
    let course = CourseId::new();
    let docs = [doc(small, course, "course", "A", "a", "en"), doc(small, course, "lesson", "B", "b", "en")];
    let err = os.replace_course(small, course, &docs).await.unwrap_err().to_string();
    assert!(err.contains("1 of 2") && err.contains("mapper_parsing_exception"), "{err}");
    // So does a cluster that does not answer.
    *f.unavailable.lock().unwrap() = true;
    let err = os.delete_course(small, course).await.unwrap_err().to_string();
    assert!(err.contains("503"), "{err}");
    *f.unavailable.lock().unwrap() = false;
    // Emptying (a rebuild) clears every index behind the prefix.
    f.seen.lock().unwrap().clear();
    os.clear().await.unwrap();
    let seen = f.seen.lock().unwrap().clone();
    assert_eq!(seen[0].path, "/mirai-search-*/_delete_by_query");
    assert_eq!(serde_json::from_str::<Value>(&seen[0].body).unwrap()["query"], json!({ "match_all": {} }));
}

#[tokio::test]
async fn every_query_carries_the_tenant_filter_and_answers_are_read_as_documented() {
    let (f, url) = fake().await;
    let tenant = TenantId::new();
    let os = Os::new(&url, "mirai-search", HashSet::new()).unwrap();
    let course = Uuid::now_v7();
    let lesson = Uuid::now_v7();
    *f.hits.lock().unwrap() = json!([
        { "_index": "mirai-search-shared-v1", "_id": lesson, "_score": 2.5,
          "_source": { "course_id": course, "kind": "lesson", "title": "Ladders & you", "locale": "en" },
          "highlight": { "body": ["Check the <mark>ladder</mark> feet", "a &lt;b&gt; <mark>ladders</mark>"] } },
        { "_index": "mirai-search-shared-v1", "_id": course, "_score": 1.25,
          "_source": { "course_id": course, "kind": "course", "title": "Working <at> height", "locale": "en" } }
    ]);
    let hits = os.search(tenant, "ladder", "en-US", Some("lesson"), 20).await.unwrap();
    let seen = f.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.path, "/mirai-search-*/_search");
    let q: Value = serde_json::from_str(&seen.body).unwrap();
    // The tenant filter: the caller's tenant, or public; never anything else.
    assert_eq!(
        q["query"]["bool"]["filter"][0],
        json!({ "bool": { "should": [{ "term": { "tenant_id": tenant } }, { "term": { "visibility": "public" } }], "minimum_should_match": 1 } })
    );
    assert_eq!(q["query"]["bool"]["filter"][1], json!({ "term": { "kind": "lesson" } }));
    let mm = &q["query"]["bool"]["must"][0]["multi_match"];
    assert_eq!(mm["query"], "ladder");
    assert_eq!(mm["fuzziness"], "AUTO", "typos tolerated");
    assert_eq!(mm["fields"], json!(["title^2", "body", "title_english^2", "body_english"]));
    assert_eq!(q["highlight"]["encoder"], "html", "highlights are HTML-escaped");
    assert_eq!(q["size"], 20);

    assert_eq!(hits.len(), 2);
    assert_eq!((hits[0].id, hits[0].kind.as_str(), hits[0].score), (lesson, "lesson", 2.5));
    assert_eq!(hits[0].highlight, "Check the <mark>ladder</mark> feet … a &lt;b&gt; <mark>ladders</mark>");
    // No highlight: the title, escaped.
    assert_eq!(hits[1].highlight, "Working &lt;at&gt; height");

    *f.hits.lock().unwrap() = json!([
        { "_id": Uuid::now_v7(), "_score": 1.0, "_source": { "title": "Ladder safety" } },
        { "_id": Uuid::now_v7(), "_score": 0.9, "_source": { "title": "ladder safety" } },
        { "_id": Uuid::now_v7(), "_score": 0.8, "_source": { "title": "Ladders at height" } }
    ]);
    let titles = os.suggest(tenant, "ladd", 10).await.unwrap();
    assert_eq!(titles, ["Ladder safety", "Ladders at height"], "one of each title, whatever its case");
    let seen = f.seen.lock().unwrap().last().cloned().unwrap();
    let q: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(q["query"]["bool"]["filter"][0]["bool"]["should"][0]["term"]["tenant_id"], json!(tenant));
}
