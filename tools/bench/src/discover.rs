//! Author → publish → discover: publish-to-searchable and publish-to-catalog latency
//! (authoring's commit → the search index / catalog answers), search queries/s and p99
//! at 10k and 100k indexed lessons (loaded in SQL), catalog list p99 under 8 clients, and
//! a 50 MB SCORM import. Each beside its raw figure in the same run: the same SQL on bare
//! Postgres connections, and the same zip inflated by the zip crate alone.

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

/// `clients` connections, each running `per_client` executions of `sql` (bound to one of
/// `args` in turn): executions/s and sorted latencies in ms.
async fn raw_sql(
    url: &str,
    clients: usize,
    per_client: usize,
    sql: &str,
    args: &[&str],
) -> anyhow::Result<(f64, Vec<f64>)> {
    let mut conns = Vec::new();
    for _ in 0..clients {
        conns.push(<sqlx::PgConnection as sqlx::Connection>::connect(url).await?);
    }
    let start = Instant::now();
    let results = futures::future::join_all(conns.into_iter().enumerate().map(|(c, mut conn)| async move {
        let mut lat = Vec::with_capacity(per_client);
        for i in 0..per_client {
            let t = Instant::now();
            let q = sqlx::query(sql);
            let q = if args.is_empty() { q } else { q.bind(args[(c + i) % args.len()]) };
            q.fetch_all(&mut conn).await.unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        lat
    }))
    .await;
    let per_sec = (clients * per_client) as f64 / start.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = results.into_iter().flatten().collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok((per_sec, lat))
}

/// A SCORM 1.2 package of about `mb` MB: 100 SCOs, each a page and an incompressible
/// "video", like a real media-heavy course; `seed` makes each one's bytes its own.
fn big_package(mb: usize, seed: u64) -> Vec<u8> {
    use std::io::Write;
    let scos = 100;
    let mut items = String::new();
    let mut resources = String::new();
    for i in 0..scos {
        items.push_str(&format!("<item identifier=\"i{i}\" identifierref=\"r{i}\"><title>Lesson {i}</title></item>"));
        resources.push_str(&format!(
            "<resource identifier=\"r{i}\" type=\"webcontent\" adlcp:scormtype=\"sco\" href=\"sco{i}/index.html\">\
             <file href=\"sco{i}/index.html\"/><file href=\"sco{i}/clip.mp4\"/></resource>"
        ));
    }
    let manifest = format!(
        "<manifest identifier=\"bench\" xmlns:adlcp=\"http://www.adlnet.org/xsd/adlcp_rootv1p2\"><metadata><schema>ADL SCORM</schema>\
         <schemaversion>1.2</schemaversion></metadata><organizations default=\"o\"><organization identifier=\"o\"><title>Bench</title>\
         {items}</organization></organizations><resources>{resources}</resources></manifest>"
    );
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    z.start_file("imsmanifest.xml", o).unwrap();
    z.write_all(manifest.as_bytes()).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (seed + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let clip = mb * (1 << 20) / scos;
    for i in 0..scos {
        z.start_file(format!("sco{i}/index.html"), o).unwrap();
        z.write_all(format!("<html><body>Lesson {i}: {}</body></html>", "words of the lesson ".repeat(200)).as_bytes())
            .unwrap();
        z.start_file(format!("sco{i}/clip.mp4"), o).unwrap();
        let bytes: Vec<u8> = (0..clip)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        z.write_all(&bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// The process's peak resident memory so far, in MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

pub async fn rows() -> anyhow::Result<Vec<String>> {
    let app = TestApp::spawn(&[
        mirai_authoring::service(),
        mirai_catalog::service(),
        mirai_search::service(),
        mirai_content::service(),
    ])
    .await;
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
        // Their words, as the service records them on indexing (for typo corrections).
        sqlx::query(
            "INSERT INTO search.words (tenant_id, visibility, word) \
             SELECT DISTINCT tenant_id, visibility, w FROM search.documents, \
               unnest(tsvector_to_array(to_tsvector('simple', title || ' ' || body))) w \
             WHERE length(w) BETWEEN 3 AND 40 ON CONFLICT DO NOTHING",
        )
        .execute(&mut db)
        .await?;
        sqlx::query("INSERT INTO search.lexicon (word) SELECT DISTINCT word FROM search.words ON CONFLICT DO NOTHING")
            .execute(&mut db)
            .await?;
        sqlx::query("ANALYZE search.documents").execute(&mut db).await?;
        sqlx::query("ANALYZE search.words").execute(&mut db).await?;
        sqlx::query("ANALYZE search.lexicon").execute(&mut db).await?;
        // A fresh session for each measurement (test tokens live five minutes).
        let learner = app.token(Some(tenant), &[Role::Learner]);
        for (label, queries) in [
            ("a word", vec!["forklift", "ladder", "chemical", "hazard"]),
            ("a typo", vec!["forklft", "evacuaton", "ergonomcs", "chemcal"]),
        ] {
            let n = 400;
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
            // Raw: the bare full-text (or trigram) match on 4 plain connections, no HTTP,
            // no tenant transaction, no highlight.
            let sql = if label == "a word" {
                "SELECT id FROM search.documents WHERE tsv @@ websearch_to_tsquery('english', $1) \
                 ORDER BY ts_rank(tsv, websearch_to_tsquery('english', $1)) DESC LIMIT 20"
            } else {
                "WITH c AS (SELECT word FROM search.lexicon WHERE word OPERATOR(public.%) $1 \
                   ORDER BY public.similarity(word, $1) DESC LIMIT 3) \
                 SELECT id FROM search.documents, (SELECT websearch_to_tsquery('english', string_agg(word, ' or ')) AS q FROM c) c \
                 WHERE tsv @@ c.q ORDER BY ts_rank(tsv, c.q) DESC LIMIT 20"
            };
            let (raw_per_sec, raw) =
                raw_sql(&mirai_testkit::url_for_db(&app.database), 4, n / 4, sql, &queries).await?;
            rows.push(format!(
                "| raw Postgres: the same match in SQL at {target}, 4 connections | {raw_per_sec:.0} queries/s (service at {:.2}×) | p50 {:.1} ms, p99 {:.1} ms |",
                per_sec / raw_per_sec,
                pct(&raw, 0.5),
                pct(&raw, 0.99)
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
    let (raw_per_sec, raw) = raw_sql(
        &mirai_testkit::url_for_db(&app.database),
        8,
        100,
        "SELECT course_id, title, summary, outline FROM catalog.entries WHERE retired_at IS NULL \
         ORDER BY published_at DESC, course_id DESC LIMIT 20",
        &[],
    )
    .await?;
    rows.push(format!(
        "| raw Postgres: the same page in SQL, 8 connections | {raw_per_sec:.0} queries/s (service at {:.2}×) | p50 {:.1} ms, p99 {:.1} ms |",
        per_sec / raw_per_sec,
        pct(&raw, 0.5),
        pct(&raw, 0.99)
    ));
    eprintln!("{}", rows.last().unwrap());

    // A 50 MB SCORM 1.2 import (the request sent → 201: inspect, inflate, store 201 files,
    // commit), three times (different bytes each, so none is a repeat), beside the zip
    // crate inflating the same archive alone.
    let author = app.token(Some(tenant), &[Role::Author]);
    let (mut took, mut raw_took, mut size) = (vec![], vec![], 0);
    for run in 0..3 {
        let zip = big_package(50, run);
        size = zip.len();
        let raw_zip = zip.clone();
        let t = Instant::now();
        tokio::task::spawn_blocking(move || {
            let mut a = zip::ZipArchive::new(std::io::Cursor::new(raw_zip)).unwrap();
            for i in 0..a.len() {
                let mut f = a.by_index(i).unwrap();
                std::io::copy(&mut f, &mut std::io::sink()).unwrap();
            }
        })
        .await?;
        raw_took.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let res = app
            .http
            .post(app.url("/api/v1/content/packages"))
            .bearer_auth(&author)
            .header("content-type", "application/zip")
            .body(zip)
            .send()
            .await?;
        anyhow::ensure!(res.status() == 201, "bench import: {}", res.status());
        took.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    took.sort_by(|a, b| a.partial_cmp(b).unwrap());
    raw_took.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows.push(format!(
        "| SCORM 1.2 import, {:.0} MB zip (100 SCOs, 201 files) to the local store, 3 runs | median {:.0} ms ({:.0} MB/s); peak RSS of the bench process {:.0} MiB | raw: the zip crate inflating it alone, median {:.0} ms (import at {:.1}×) |",
        size as f64 / 1e6,
        pct(&took, 0.5),
        size as f64 / 1e6 / (pct(&took, 0.5) / 1000.0),
        peak_rss_mib(),
        pct(&raw_took, 0.5),
        pct(&took, 0.5) / pct(&raw_took, 0.5)
    ));
    eprintln!("{}", rows.last().unwrap());
    app.stop().await;
    Ok(rows)
}
