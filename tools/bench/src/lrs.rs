//! The LRS: ingest in statements/s for 1, 10, 100 and 1,000 statements per POST with 4
//! and 16 clients (p50/p99 per request), each beside the raw Postgres rate for the same
//! rows (a plain multi-row insert of the same JSON into an unindexed table, same batch and
//! concurrency); query latency at 1M stored statements for agent, verb + activity,
//! registration and `since` paging; bytes stored per statement.

use std::time::Instant;

use base64::Engine;
use mirai_kit::Role;
use mirai_testkit::TestApp;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::pct;

/// A statement as a content package sends it: actor, verb with display, an activity with
/// a definition, a result, a registration and a parent context activity.
fn statement(i: usize) -> Value {
    json!({
        "actor": { "objectType": "Agent", "name": format!("Learner {}", i % 1000), "mbox": format!("mailto:learner{}@example.com", i % 1000) },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/completed", "display": { "en-US": "completed" } },
        "object": { "objectType": "Activity", "id": format!("http://example.com/activity/{}", i % 100),
            "definition": { "name": { "en-US": format!("Activity {}", i % 100) }, "type": "http://adlnet.gov/expapi/activities/lesson" } },
        "result": { "score": { "scaled": 0.8 }, "success": true, "completion": true, "duration": "PT4M30S" },
        "context": { "registration": Uuid::from_u128(i as u128 / 10 + 1).to_string(),
            "contextActivities": { "parent": [{ "id": "http://example.com/course/1" }] } },
        "timestamp": "2026-11-30T10:00:00.000Z",
    })
}

struct Run {
    per_sec: f64,
    p50: f64,
    p99: f64,
}

/// `clients` concurrent loops sending `total` statements in requests of `batch`.
async fn ingest(app: &TestApp, auth: &str, batch: usize, clients: usize, total: usize, offset: usize) -> Run {
    let url = app.url("/api/v1/lrs/xapi/statements");
    let per_client = (total / batch / clients).max(1);
    let start = Instant::now();
    let results = futures::future::join_all((0..clients).map(|c| {
        let (http, url, auth) = (app.http.clone(), url.clone(), auth.to_owned());
        async move {
            let mut lat = Vec::with_capacity(per_client);
            for r in 0..per_client {
                let first = offset + (c * per_client + r) * batch;
                let body = serde_json::to_vec(&(first..first + batch).map(statement).collect::<Vec<_>>()).unwrap();
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .header("authorization", &auth)
                    .header("x-experience-api-version", "1.0.3")
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
                let _ = res.bytes().await;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }
    }))
    .await;
    let elapsed = start.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = results.into_iter().flatten().collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Run { per_sec: (per_client * clients * batch) as f64 / elapsed, p50: pct(&lat, 0.5), p99: pct(&lat, 0.99) }
}

/// The same rows (the statement as the LRS stores it, twice: returned and submitted
/// forms) in plain multi-row inserts into an unindexed table.
async fn raw(db_url: &str, batch: usize, clients: usize, total: usize) -> anyhow::Result<Run> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(db_url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_raw (body jsonb NOT NULL, submitted jsonb NOT NULL)")
        .execute(&mut admin)
        .await?;
    sqlx::query("TRUNCATE bench_raw").execute(&mut admin).await?;
    let per_client = (total / batch / clients).max(1);
    let start = Instant::now();
    let results = futures::future::join_all((0..clients).map(|c| async move {
        let mut conn = sqlx::PgConnection::connect(db_url).await.unwrap();
        let mut lat = Vec::with_capacity(per_client);
        for r in 0..per_client {
            let first = (c * per_client + r) * batch;
            let rows: Vec<Value> = (first..first + batch)
                .map(|i| {
                    let mut s = statement(i);
                    s["id"] = json!(Uuid::now_v7().to_string());
                    s["stored"] = json!("2026-11-30T10:00:00.123Z");
                    s["version"] = json!("1.0.0");
                    s["authority"] =
                        json!({ "objectType": "Agent", "account": { "homePage": "http://bench", "name": "k" } });
                    s
                })
                .collect();
            let t = Instant::now();
            let mut q = sqlx::QueryBuilder::new("INSERT INTO bench_raw (body, submitted) ");
            q.push_values(&rows, |mut b, s| {
                b.push_bind(sqlx::types::Json(s)).push_bind(sqlx::types::Json(s));
            });
            q.build().execute(&mut conn).await.unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        lat
    }))
    .await;
    let elapsed = start.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = results.into_iter().flatten().collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok(Run { per_sec: (per_client * clients * batch) as f64 / elapsed, p50: pct(&lat, 0.5), p99: pct(&lat, 0.99) })
}

/// The process's peak RSS since the last [`reset_peak_rss`] (`VmHWM`), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets `VmHWM` to the current RSS (Linux: `5` to `clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub async fn rows() -> anyhow::Result<Vec<String>> {
    let app = TestApp::spawn(&[mirai_lrs::service()]).await;
    let tenant = Uuid::now_v7();
    let (id, secret) = app.api_key(tenant, &[Role::Learner], &["all"]);
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")));
    let db_url = mirai_testkit::url_for_db(&app.database);
    let mut rows = vec![];
    // `MIRAI_BENCH_LRS=ingest|queries` runs one half (to profile it).
    let part = std::env::var("MIRAI_BENCH_LRS").unwrap_or_default();
    // Warm the pool, the prepared statements and the tenant's first rows.
    ingest(&app, &auth, 100, 4, 2_000, 900_000_000).await;
    let mut offset = 0;
    let batches: &[usize] = if part == "queries" { &[] } else { &[1, 10, 100, 1000] };
    for &batch in batches {
        for clients in [4usize, 16] {
            let total = match batch {
                1 => 3_000,
                10 => 10_000,
                100 => 20_000,
                _ => 32_000,
            };
            reset_peak_rss();
            let ours = ingest(&app, &auth, batch, clients, total, offset).await;
            let peak = peak_rss_mb();
            offset += total;
            let bare = raw(&db_url, batch, clients, total).await?;
            rows.push(format!(
                "| LRS POST of {batch} statement(s), {clients} clients | {:.0} statements/s; raw Postgres insert of the same rows {:.0} rows/s; ratio {:.2} | request p50 {:.1} ms, p99 {:.1} ms (raw insert p50 {:.1} ms, p99 {:.1} ms); peak RSS of LRS + clients {peak:.0} MB |",
                ours.per_sec,
                bare.per_sec,
                ours.per_sec / bare.per_sec,
                ours.p50,
                ours.p99,
                bare.p50,
                bare.p99,
            ));
            eprintln!("{}", rows.last().unwrap());
        }
    }
    if part != "ingest" {
        rows.extend(queries(&app, &auth, tenant).await?);
    }
    app.stop().await;
    Ok(rows)
}

/// Query latency at 1M statements, loaded in SQL with a realistic spread: 10k actors,
/// 50 verbs, 2k activities, 50k registrations.
async fn queries(app: &TestApp, auth: &str, tenant: Uuid) -> anyhow::Result<Vec<String>> {
    let mut rows = vec![];
    let mut admin =
        <sqlx::PgConnection as sqlx::Connection>::connect(&mirai_testkit::url_for_db(&app.database)).await?;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM lrs.statements").fetch_one(&mut admin).await?;
    let load = Instant::now();
    sqlx::query(
        "INSERT INTO lrs.statements (tenant_id, id, stored, ts, version, actor, verb, object_activity, registration, authority, agents, activities, body, submitted) \
         SELECT $1, gen_random_uuid(), now() - make_interval(secs => (1000000 - g) / 10.0), now() - make_interval(secs => (1000000 - g) / 10.0), '1.0.0', \
                'mbox:mailto:l' || (g % 10000) || '@example.com', 'http://example.com/verbs/v' || (g % 50), 'http://example.com/act/' || (g % 2000), \
                md5((g % 50000)::text)::uuid, 'account:bench|k', ARRAY['mbox:mailto:l' || (g % 10000) || '@example.com'], \
                ARRAY['http://example.com/act/' || (g % 2000), 'http://example.com/course/' || (g % 20)], b.body, b.body \
         FROM generate_series(1, 1000000 - $2) g, LATERAL (SELECT jsonb_build_object( \
                'id', gen_random_uuid(), 'actor', jsonb_build_object('mbox', 'mailto:l' || (g % 10000) || '@example.com'), \
                'verb', jsonb_build_object('id', 'http://example.com/verbs/v' || (g % 50), 'display', jsonb_build_object('en-US', 'did')), \
                'object', jsonb_build_object('id', 'http://example.com/act/' || (g % 2000)), \
                'result', jsonb_build_object('score', jsonb_build_object('scaled', 0.5), 'success', true), \
                'context', jsonb_build_object('registration', md5((g % 50000)::text)::uuid, \
                   'contextActivities', jsonb_build_object('parent', jsonb_build_array(jsonb_build_object('id', 'http://example.com/course/' || (g % 20))))), \
                'timestamp', now(), 'stored', now(), 'version', '1.0.0', \
                'authority', jsonb_build_object('account', jsonb_build_object('homePage', 'bench', 'name', 'k'))) AS body) b",
    )
    .bind(tenant)
    .bind(before as i32)
    .execute(&mut admin)
    .await?;
    sqlx::query("VACUUM ANALYZE lrs.statements").execute(&mut admin).await?;
    let loaded = load.elapsed().as_secs_f64();
    let (count, bytes, table): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), pg_total_relation_size('lrs.statements'), pg_table_size('lrs.statements') FROM lrs.statements",
    )
    .fetch_one(&mut admin)
    .await?;
    rows.push(format!(
        "| LRS storage at {count} statements (loaded in {loaded:.0}s) | {} bytes/statement (table + all indexes; table alone {}) | |",
        bytes / count.max(1),
        table / count.max(1)
    ));
    let registrations: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT registration FROM lrs.statements TABLESAMPLE SYSTEM (1) WHERE registration IS NOT NULL LIMIT 200",
    )
    .fetch_all(&mut admin)
    .await?;
    let url = app.url("/api/v1/lrs/xapi/statements");
    let enc = mirai_testkit::percent_encode;
    let get = |q: String| {
        let (http, auth) = (app.http.clone(), auth.to_owned());
        let url = if q.starts_with('/') { app.url(&q) } else { format!("{url}?{q}") };
        async move {
            let t = Instant::now();
            let res = http
                .get(url)
                .header("authorization", auth)
                .header("x-experience-api-version", "1.0.3")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let body: Value = res.json().await.unwrap();
            (t.elapsed().as_secs_f64() * 1000.0, body)
        }
    };
    for (label, make) in [
        (
            "by agent",
            Box::new(|i: usize| {
                format!("agent={}", enc(&format!("{{\"mbox\":\"mailto:l{}@example.com\"}}", i * 37 % 10000)))
            }) as Box<dyn Fn(usize) -> String>,
        ),
        (
            "by verb + activity",
            Box::new(|i: usize| {
                format!(
                    "verb={}&activity={}",
                    enc(&format!("http://example.com/verbs/v{}", i % 50)),
                    enc(&format!("http://example.com/act/{}", i * 13 % 2000))
                )
            }),
        ),
        (
            "by registration",
            Box::new(move |i: usize| format!("registration={}", registrations[i % registrations.len()])),
        ),
        (
            "by related activity (a course's 50k statements)",
            Box::new(|i: usize| {
                format!("activity={}&related_activities=true", enc(&format!("http://example.com/course/{}", i % 20)))
            }),
        ),
    ] {
        let mut lat = vec![];
        for i in 0..200 {
            lat.push(get(format!("{}&limit=25", make(i))).await.0);
        }
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        rows.push(format!(
            "| LRS GET query {label}, limit 25, at 1M statements | | p50 {:.1} ms, p99 {:.1} ms |",
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        ));
        eprintln!("{}", rows.last().unwrap());
    }
    // `since` paging: a reader catching up from a day ago, 100 pages of 100 by `more`.
    let since = (chrono::Utc::now() - chrono::Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut next = format!("since={}&ascending=true&limit=100", enc(&since));
    let mut lat = vec![];
    for _ in 0..100 {
        let (ms, body) = get(next.clone()).await;
        lat.push(ms);
        match body["more"].as_str() {
            Some(m) if !m.is_empty() => next = m.to_owned(),
            _ => break,
        }
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows.push(format!(
        "| LRS GET `since` paging by `more`, {} pages of 100, at 1M statements | | p50 {:.1} ms, p99 {:.1} ms per page |",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    ));
    eprintln!("{}", rows.last().unwrap());
    Ok(rows)
}
