//! Author → publish → discover: publish-to-searchable and publish-to-catalog latency
//! (authoring's commit → the search index / catalog answers), search queries/s and p99
//! at 10k and 100k indexed lessons (loaded in SQL), catalog list p99 under 8 clients.

use std::time::{Duration, Instant};

use mirai_kit::Role;
use mirai_testkit::TestApp;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::pct;

async fn publish(app: &TestApp, admin: &str, i: usize) -> String {
    let body = json!({ "title": format!("Bench course {i}"), "locale": "en-US", "visibility": "public", "modules": [{ "title": "M",
        "lessons": [{ "title": "L", "blocks": [{ "kind": "text", "content": { "markdown": format!("unique{i}word and some words about safety") } }] }] }] });
    let (s, c) = app.post("/api/v1/authoring/courses", Some(admin), body).await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();
    let res = app
        .http
        .post(app.url(&format!("/api/v1/authoring/courses/{id}/publish")))
        .bearer_auth(admin)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    id
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.http.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// `clients` concurrent loops, each sending `per_client` requests (`make(client, i)`),
/// every answer a 200: requests/s and the sorted latencies in ms.
async fn load(
    clients: usize,
    per_client: usize,
    make: impl Fn(usize, usize) -> reqwest::RequestBuilder,
) -> (f64, Vec<f64>) {
    let make = &make;
    let start = Instant::now();
    let results = futures::future::join_all((0..clients).map(|c| async move {
        let mut lat = Vec::with_capacity(per_client);
        for i in 0..per_client {
            let t = Instant::now();
            let res = make(c, i).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let _ = res.bytes().await;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        lat
    }))
    .await;
    let per_sec = (clients * per_client) as f64 / start.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = results.into_iter().flatten().collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (per_sec, lat)
}

pub async fn rows() -> anyhow::Result<Vec<String>> {
    let app = TestApp::spawn(&[mirai_authoring::service(), mirai_catalog::service(), mirai_search::service()]).await;
    let tenant = Uuid::now_v7();
    let admin = app.token(Some(tenant), &[Role::ProviderAdmin]);
    let learner = app.token(Some(tenant), &[Role::Learner]);
    let mut rows = vec![];
    // Publish → searchable / in the catalog, one course at a time.
    let (mut to_search, mut to_catalog) = (vec![], vec![]);
    for i in 0..50 {
        let t = Instant::now();
        let id = publish(&app, &admin, i).await;
        let (mut searched, mut listed) = (None, None);
        while searched.is_none() || listed.is_none() {
            if searched.is_none()
                && !get(&app, &learner, &format!("/api/v1/search/search?q=unique{i}word")).await["hits"]
                    .as_array()
                    .unwrap()
                    .is_empty()
            {
                searched = Some(t.elapsed());
            }
            if listed.is_none() {
                let res = app
                    .http
                    .get(app.url(&format!("/api/v1/catalog/courses/{id}")))
                    .bearer_auth(&learner)
                    .send()
                    .await?;
                if res.status() == 200 {
                    listed = Some(t.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        to_search.push(searched.unwrap().as_secs_f64() * 1000.0);
        to_catalog.push(listed.unwrap().as_secs_f64() * 1000.0);
    }
    for (what, mut lat) in [("searchable", to_search), ("in the catalog", to_catalog)] {
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        rows.push(format!(
            "| publish → {what} (authoring's publish request sent → first answer that has it), 50 courses | | p50 {:.1} ms, p99 {:.1} ms |",
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        ));
        eprintln!("{}", rows.last().unwrap());
    }
    // Search at 10k and 100k indexed lessons: documents loaded in SQL with varied text.
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&mirai_testkit::url_for_db(&app.database)).await?;
    let words = [
        "safety",
        "ladder",
        "fire",
        "evacuation",
        "first aid",
        "hazard",
        "chemical",
        "electrical",
        "forklift",
        "ergonomics",
    ];
    let mut loaded = 0i64;
    for target in [10_000i64, 100_000] {
        sqlx::query(
            "INSERT INTO search.documents (id, tenant_id, course_id, kind, locale, config, visibility, title, body, version, published_at) \
             SELECT gen_random_uuid(), $1, gen_random_uuid(), 'lesson', 'en-US', 'english', 'public', \
                    'Lesson ' || g || ' on ' || ($3::text[])[1 + g % 10], \
                    'This lesson covers ' || ($3::text[])[1 + g % 10] || ' and ' || ($3::text[])[1 + (g / 10) % 10] || \
                    ' procedures, with checklist item ' || g || ' and a short story about workplace practice.', 1, now() \
             FROM generate_series($2 + 1, $4) g",
        )
        .bind(tenant)
        .bind(loaded)
        .bind(&words[..])
        .bind(target)
        .execute(&mut db)
        .await?;
        loaded = target;
        sqlx::query("ANALYZE search.documents").execute(&mut db).await?;
        // A fresh session for each measurement (test tokens live five minutes).
        let learner = app.token(Some(tenant), &[Role::Learner]);
        for (label, queries) in [
            ("a word", vec!["forklift", "ladder", "chemical", "hazard"]),
            ("a typo", vec!["forklft", "evacuaton", "ergonomcs", "chemcal"]),
        ] {
            // Fewer typo queries: the trigram phase is the slow one (see the note).
            let n = if label == "a typo" { 40 } else { 400 };
            let url = app.url("/api/v1/search/search");
            let (per_sec, lat) = load(4, n / 4, |c, i| {
                app.http
                    .get(&url)
                    .query(&[("q", queries[(c + i) % queries.len()]), ("limit", "20")])
                    .bearer_auth(&learner)
            })
            .await;
            rows.push(format!(
                "| search for {label} at {target} indexed lessons, 4 clients | {per_sec:.0} queries/s | p50 {:.1} ms, p99 {:.1} ms |",
                pct(&lat, 0.5),
                pct(&lat, 0.99)
            ));
            eprintln!("{}", rows.last().unwrap());
        }
    }
    // Catalog list under 8 clients (50 public courses).
    let learner = app.token(Some(tenant), &[Role::Learner]);
    let url = app.url("/api/v1/catalog/courses?limit=20");
    let (per_sec, lat) = load(8, 100, |_, _| app.http.get(&url).bearer_auth(&learner)).await;
    rows.push(format!(
        "| catalog list (20 per page), 8 clients | {per_sec:.0} requests/s | p50 {:.1} ms, p99 {:.1} ms |",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    ));
    eprintln!("{}", rows.last().unwrap());
    app.stop().await;
    Ok(rows)
}
