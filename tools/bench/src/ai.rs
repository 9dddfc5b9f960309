//! The ai-gateway: its overhead per call (the gateway's chat against a local
//! OpenAI-compatible server answering at once, beside the same request sent to that server
//! directly), its SSE time-to-first-token overhead (first `delta` through the gateway
//! beside the first `data:` chunk straight from the server), embeddings/s with the local
//! model (through the gateway's API beside the library called in-process), and the vector
//! query p99 at 100k chunks (the gateway's similarity query, RLS and the tenant filter
//! included, beside the bare HNSW query on a superuser connection).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, routing::post};
use mirai_kit::Role;
use mirai_testkit::{TestApp, poll};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::pct;

const ANSWER: &str = "Leave by the nearest marked exit and gather at the assembly point.";

async fn chat(axum::Json(body): axum::Json<Value>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if body["stream"] == true {
        let frames: Vec<Result<String, std::convert::Infallible>> = ANSWER
            .split(' ')
            .map(|w| {
                Ok(format!(
                    "data: {}\n\n",
                    json!({ "choices": [{ "index": 0, "delta": { "content": format!("{w} ") } }] })
                ))
            })
            .chain([
                Ok(format!(
                    "data: {}\n\n",
                    json!({ "choices": [], "usage": { "prompt_tokens": 20, "completion_tokens": 12 } })
                )),
                Ok("data: [DONE]\n\n".to_owned()),
            ])
            .collect();
        return axum::response::Response::builder()
            .header("content-type", "text/event-stream")
            .body(axum::body::Body::from_stream(futures::stream::iter(frames)))
            .unwrap();
    }
    axum::Json(json!({
        "id": "b", "object": "chat.completion", "model": body["model"],
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": ANSWER }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32 }
    }))
    .into_response()
}

async fn vendor() -> String {
    let app = Router::new().route("/v1/chat/completions", post(chat));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// `clients` loops of `n` requests made by `send`, which returns the latency it measured
/// (ms): requests/s and the sorted latencies.
async fn run<F, Fut>(clients: usize, n: usize, send: F) -> (f64, Vec<f64>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let send = &send;
    let start = Instant::now();
    let all = futures::future::join_all((0..clients).map(|_| async move {
        let mut l = Vec::with_capacity(n);
        for _ in 0..n {
            l.push(send().await);
        }
        l
    }))
    .await;
    let rate = (clients * n) as f64 / start.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = all.into_iter().flatten().collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (rate, lat)
}

fn row(what: &str, ours: (f64, &[f64]), raw: (f64, &[f64]), unit: &str) -> String {
    format!(
        "| {what} | {:.0} {unit} (raw {:.0}, ratio {:.2}) | p50 {:.2} ms, p99 {:.2} ms (raw p50 {:.2}, p99 {:.2}; overhead p50 {:.2} ms) |",
        ours.0,
        raw.0,
        ours.0 / raw.0,
        pct(ours.1, 0.5),
        pct(ours.1, 0.99),
        pct(raw.1, 0.5),
        pct(raw.1, 0.99),
        pct(ours.1, 0.5) - pct(raw.1, 0.5),
    )
}

async fn first_chunk(req: reqwest::RequestBuilder, marker: &str) -> f64 {
    use futures::StreamExt;
    let t = Instant::now();
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let mut seen = String::new();
    let mut first = None;
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if first.is_none() && seen.contains(marker) {
            first = Some(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    first.expect("a first token")
}

pub async fn rows() -> anyhow::Result<Vec<String>> {
    let app = TestApp::spawn(&[mirai_tenant::service(), mirai_ai_gateway::service()]).await;
    let url = vendor().await;
    let slug = format!("bench-ai-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let (s, t) = app
        .post(
            "/api/v1/tenant/tenants",
            Some(&app.platform_admin()),
            json!({ "kind": "provider", "name": slug, "slug": slug }),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let tenant: Uuid = t["id"].as_str().unwrap().parse()?;
    let admin = app.token(Some(tenant), &[Role::ProviderAdmin]);
    let author = app.token(Some(tenant), &[Role::Author]);
    let org = app.token(Some(tenant), &[Role::OrgAdmin]);
    for flag in ["ai.authoring", "ai.semantic_search"] {
        let path = format!("/api/v1/tenant/tenants/{tenant}/feature-flags/{flag}");
        let (s, _) = app.call(reqwest::Method::PUT, &path, Some(&org), Some(json!({ "enabled": true }))).await;
        assert_eq!(s, 200);
    }
    let put = |path: &'static str, body: Value| {
        let req = app.http.put(app.url(&format!("/api/v1/ai-gateway{path}"))).bearer_auth(&admin).json(&body);
        async move { assert_eq!(req.send().await.unwrap().status(), 200, "{path}") }
    };
    put("/providers/local-vendor", json!({ "kind": "openai", "base_url": url, "api_key": "sk-bench", "cloud": true }))
        .await;
    put("/routes/authoring.chat", json!({ "targets": [{ "provider": "local-vendor", "model": "m", "input_micros_per_1k": 150, "output_micros_per_1k": 600 }] })).await;
    put("/routes/search.embed", json!({ "targets": [{ "provider": "local", "model": "all-MiniLM-L6-v2" }] })).await;
    let message = json!({ "feature": "authoring.chat", "messages": [{ "role": "user", "content": "How do I leave the building? Write to me at jane@example.com." }], "max_tokens": 64 });
    let chat_url = app.url("/api/v1/ai-gateway/chat");
    poll("the gateway sees the flags", Duration::from_secs(20), || async {
        let r = app.http.post(&chat_url).bearer_auth(&author).json(&message).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let mut rows = vec![];

    // Overhead per call: 4 clients, 300 calls each.
    let raw_url = format!("{url}/chat/completions");
    let raw_body = json!({ "model": "m", "messages": message["messages"], "max_tokens": 64 });
    let http = app.http.clone();
    let (raw_rate, raw_lat) = run(4, 300, || {
        let req = http.post(&raw_url).bearer_auth("sk-bench").json(&raw_body);
        async move {
            let t = Instant::now();
            assert_eq!(req.send().await.unwrap().status(), 200);
            t.elapsed().as_secs_f64() * 1000.0
        }
    })
    .await;
    let (rate, lat) = run(4, 300, || {
        let req = http.post(&chat_url).bearer_auth(&author).json(&message);
        async move {
            let t = Instant::now();
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await;
            t.elapsed().as_secs_f64() * 1000.0
        }
    })
    .await;
    rows.push(row(
        "ai-gateway chat (flag, route, key, PII redaction, budget reservation, audit event) vs the provider alone, 4 clients",
        (rate, &lat),
        (raw_rate, &raw_lat),
        "calls/s",
    ));
    eprintln!("{}", rows.last().unwrap());

    // SSE time to first token.
    let stream_url = app.url("/api/v1/ai-gateway/chat/stream");
    let raw_stream = json!({ "model": "m", "messages": message["messages"], "max_tokens": 64, "stream": true });
    let (raw_rate, raw_lat) = run(2, 100, || first_chunk(http.post(&raw_url).json(&raw_stream), "data:")).await;
    let (rate, lat) =
        run(2, 100, || first_chunk(http.post(&stream_url).bearer_auth(&author).json(&message), "event: delta")).await;
    rows.push(row(
        "ai-gateway SSE time to first token vs the provider's first chunk, 2 clients",
        (rate, &lat),
        (raw_rate, &raw_lat),
        "streams/s",
    ));
    eprintln!("{}", rows.last().unwrap());

    // Embeddings with the local model: the library in-process vs the gateway's API.
    let sentences: Vec<String> =
        (0..32).map(|i| format!("Sentence {i} about evacuation routes, fire doors and the assembly point.")).collect();
    mirai_embed::embed(sentences.clone()).await.map_err(anyhow::Error::msg)?;
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(5) {
        mirai_embed::embed(sentences.clone()).await.map_err(anyhow::Error::msg)?;
        n += sentences.len();
    }
    let raw = n as f64 / start.elapsed().as_secs_f64();
    let embed_url = app.url("/api/v1/ai-gateway/embeddings");
    let body = json!({ "feature": "search.embed", "input": sentences });
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(5) {
        let r = http.post(&embed_url).bearer_auth(&author).json(&body).send().await?;
        assert_eq!(r.status(), 200);
        n += 32;
    }
    let ours = n as f64 / start.elapsed().as_secs_f64();
    rows.push(format!(
        "| local embeddings (all-MiniLM-L6-v2, candle, CPU, batches of 32) through the gateway's API vs the library in-process | {ours:.0} sentences/s (raw {raw:.0}, ratio {:.2}) | |",
        ours / raw
    ));
    eprintln!("{}", rows.last().unwrap());

    // Vector query p99 at 100k chunks (and 20k of another tenant's).
    rows.push(vector_query(&app, tenant, &author).await?);
    eprintln!("{}", rows.last().unwrap());
    app.stop().await;
    Ok(rows)
}

async fn vector_query(app: &TestApp, tenant: Uuid, author: &str) -> anyhow::Result<String> {
    use sqlx::{Connection, Executor};
    let url = mirai_testkit::url_for_db(&app.database);
    let mut db = sqlx::PgConnection::connect(&url).await?;
    db.execute("DROP INDEX ai_gateway.chunks_hnsw_lessons").await?;
    let other = Uuid::now_v7();
    let t = Instant::now();
    for (owner, count) in [(tenant, 100_000usize), (other, 20_000)] {
        for batch in 0..count / 5_000 {
            sqlx::query(
                "INSERT INTO ai_gateway.chunks (tenant_id, source_type, source_id, chunk, title, text, model, embedding) \
                 SELECT $1, 'lesson', gen_random_uuid(), 0, 'Lesson ' || i, 'text ' || i, 'all-MiniLM-L6-v2', \
                   (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 384) WHERE i > 0)::public.vector \
                 FROM generate_series($2::int, $2::int + 4999) AS i",
            )
            .bind(owner)
            .bind((batch * 5_000 + 1) as i32)
            .execute(&mut db)
            .await?;
        }
    }
    let loaded = t.elapsed();
    let t = Instant::now();
    db.execute(
        "CREATE INDEX chunks_hnsw_lessons ON ai_gateway.chunks USING hnsw (embedding public.vector_cosine_ops) \
         WHERE source_type = 'lesson'",
    )
    .await?;
    db.execute("ANALYZE ai_gateway.chunks").await?;
    let indexed = t.elapsed();
    eprintln!("bench: 120k chunks loaded in {loaded:?}, HNSW built in {indexed:?}");

    // Ours: POST /similar (embeds the query with the local model, then the RLS-scoped
    // HNSW query); the query embedding is timed apart and taken out.
    let similar = app.url("/api/v1/ai-gateway/similar");
    let queries: Vec<String> = (0..20).map(|i| format!("what do I do in an emergency number {i}")).collect();
    let queries = Arc::new(queries);
    let http = app.http.clone();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (ours_rate, lat) = run(4, 100, || {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let q = queries[i % queries.len()].clone();
        let req = http.post(&similar).bearer_auth(author).json(&json!({ "query": q, "limit": 10 }));
        async move {
            let t = Instant::now();
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["data"].as_array().unwrap().len(), 10, "10 neighbours despite the tenant filter");
            t.elapsed().as_secs_f64() * 1000.0
        }
    })
    .await;
    // One client alone: no queueing for the CPU the query embeddings share.
    let next1 = std::sync::atomic::AtomicUsize::new(0);
    let (_, alone) = run(1, 100, || {
        let i = next1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let req =
            http.post(&similar).bearer_auth(author).json(&json!({ "query": queries[i % queries.len()], "limit": 10 }));
        async move {
            let t = Instant::now();
            assert_eq!(req.send().await.unwrap().status(), 200);
            t.elapsed().as_secs_f64() * 1000.0
        }
    })
    .await;
    let vectors = mirai_embed::embed(queries.to_vec()).await.map_err(anyhow::Error::msg)?;
    let literals: Vec<String> = vectors.iter().map(|v| mirai_embed::to_pg(v)).collect();
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut c = sqlx::PgConnection::connect(&url).await?;
        c.execute("SET hnsw.iterative_scan = relaxed_order").await?;
        c.execute("SET hnsw.ef_search = 100").await?;
        conns.push(c);
    }
    let literals = &literals;
    let start = Instant::now();
    let all = futures::future::join_all(conns.into_iter().map(|mut c| async move {
        let mut l = vec![];
        for i in 0..100 {
            let t = Instant::now();
            sqlx::query(
                "SELECT source_id, 1 - (embedding OPERATOR(public.<=>) $1::public.vector) FROM ai_gateway.chunks \
                 WHERE tenant_id = $2 AND source_type = 'lesson' ORDER BY embedding OPERATOR(public.<=>) $1::public.vector LIMIT 10",
            )
            .bind(&literals[i % literals.len()])
            .bind(tenant)
            .fetch_all(&mut c)
            .await
            .unwrap();
            l.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        l
    }))
    .await;
    let raw_rate = 400.0 / start.elapsed().as_secs_f64();
    let mut raw: Vec<f64> = all.into_iter().flatten().collect();
    raw.sort_by(|a, b| a.partial_cmp(b).unwrap());
    // The query's own embedding, for the reader to subtract.
    let t = Instant::now();
    for q in queries.iter() {
        mirai_embed::embed(vec![q.clone()]).await.map_err(anyhow::Error::msg)?;
    }
    let embed_ms = t.elapsed().as_secs_f64() * 1000.0 / queries.len() as f64;
    Ok(format!(
        "| vector query, 100k chunks of the tenant + 20k of another (POST /similar: query embedding {embed_ms:.1} ms + RLS-scoped HNSW, top 10) vs the bare HNSW query (superuser, tenant in the WHERE), 4 clients | {ours_rate:.0} queries/s (raw {raw_rate:.0}) | p50 {:.2} ms, p99 {:.2} ms; one client alone p50 {:.2}, p99 {:.2} (raw p50 {:.2}, p99 {:.2}) |",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&alone, 0.5),
        pct(&alone, 0.99),
        pct(&raw, 0.5),
        pct(&raw, 0.99),
    ))
}
