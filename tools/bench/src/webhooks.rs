//! notification's webhooks: deliveries/s (a replay of 2000 messages to a local receiver
//! that answers at once, every attempt signed and logged) beside the same receiver taking
//! bare POSTs of the same body from 8 clients; and event-to-delivered latency at a steady
//! 20 events/s (an org unit created through tenant's API to its webhook arriving) beside
//! one bare POST's round trip.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, extract::State, routing::post};
use mirai_kit::Role;
use mirai_testkit::{TestApp, poll};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::pct;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receive(State(seen): State<Arrivals>, body: String) -> axum::http::StatusCode {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let key = v["data"]["org_unit_id"].as_str().unwrap_or("raw").to_owned();
    seen.lock().unwrap().entry(key).or_insert_with(Instant::now);
    axum::http::StatusCode::NO_CONTENT
}

async fn receiver() -> (Arrivals, String) {
    let seen: Arrivals = Arc::default();
    let app = Router::new().route("/hook", post(receive)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (seen, url)
}

pub async fn rows() -> anyhow::Result<Vec<String>> {
    let (seen, url) = receiver().await;
    let app = TestApp::spawn_with(&[mirai_tenant::service(), mirai_notification::service()], |c| {
        // The chart's pool, so the default 8 attempts run at once.
        c.db_pool_size = 10;
    })
    .await?;
    let slug = format!("bench-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let (_, t) = app
        .post(
            "/api/v1/tenant/tenants",
            Some(&app.platform_admin()),
            json!({ "kind": "org", "name": slug, "slug": slug }),
        )
        .await;
    let tenant: Uuid = t["id"].as_str().unwrap().parse()?;
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    let units = format!("/api/v1/tenant/tenants/{tenant}/org-units");

    // Raw: the receiver taking the same body straight from 8 clients.
    let body = json!({ "type": "tenant.org_unit.created.v1", "timestamp": chrono::Utc::now(),
        "data": { "tenant_id": tenant, "org_unit_id": "raw", "name": "Unit 00000", "parent_id": null } })
    .to_string();
    let http = reqwest::Client::new();
    let start = Instant::now();
    let lat: Vec<Vec<f64>> = futures::future::join_all((0..8).map(|_| {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        async move {
            let mut l = vec![];
            for _ in 0..250 {
                let t = Instant::now();
                http.post(&url).header("content-type", "application/json").body(body.clone()).send().await.unwrap();
                l.push(t.elapsed().as_secs_f64() * 1e3);
            }
            l
        }
    }))
    .await;
    let raw_rate = 2000.0 / start.elapsed().as_secs_f64();
    let mut raw_lat: Vec<f64> = lat.into_iter().flatten().collect();
    raw_lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    seen.lock().unwrap().clear();

    // Ours, throughput: 2000 messages in the log, then an endpoint replays them all.
    for chunk in 0..8 {
        futures::future::join_all((0..250).map(|i| {
            let (app, units) = (&app, &units);
            let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
            async move {
                let (s, _) = app.post(units, Some(&admin), json!({ "name": format!("Unit {chunk}-{i}") })).await;
                assert_eq!(s, 201);
            }
        }))
        .await;
    }
    poll("notification has the 2000 messages", Duration::from_secs(120), || async {
        let (_, m) = app.get("/api/v1/notification/messages?after=1990&limit=20", &admin).await;
        (m["data"].as_array().map_or(0, Vec::len) >= 10).then_some(())
    })
    .await;
    let (_, ep) = app.post("/api/v1/notification/endpoints", Some(&admin), json!({ "url": url })).await;
    let ep = ep["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let (s, r) =
        app.post(&format!("/api/v1/notification/endpoints/{ep}/replay"), Some(&admin), json!({ "after": 0 })).await;
    assert_eq!(s, 202, "{r}");
    let queued = r["queued"].as_i64().unwrap_or(0) as usize;
    poll("every replayed message arrives", Duration::from_secs(600), || async {
        (seen.lock().unwrap().len() >= queued).then_some(())
    })
    .await;
    let last = seen.lock().unwrap().values().max().copied().unwrap();
    let rate = queued as f64 / (last - start).as_secs_f64();

    // Ours, latency: 200 org units at 20/s, each from its creation's answer to its arrival.
    let mut created: Vec<(String, Instant)> = vec![];
    for i in 0..200 {
        let tick = Instant::now();
        let (_, u) = app.post(&units, Some(&admin), json!({ "name": format!("Paced {i}") })).await;
        created.push((u["id"].as_str().unwrap().to_owned(), Instant::now()));
        tokio::time::sleep(Duration::from_millis(50).saturating_sub(tick.elapsed())).await;
    }
    poll("the paced messages arrive", Duration::from_secs(60), || async {
        let seen = seen.lock().unwrap();
        created.iter().all(|(id, _)| seen.contains_key(id)).then_some(())
    })
    .await;
    let mut lat: Vec<f64> = {
        let seen = seen.lock().unwrap();
        created.iter().map(|(id, at)| (seen[id].saturating_duration_since(*at)).as_secs_f64() * 1e3).collect()
    };
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    app.stop().await;
    let rows = vec![
        format!(
            "| webhook deliveries (replay of {queued}, signed, logged; 8 in flight) | {rate:.0} deliveries/s (raw POSTs to the same receiver {raw_rate:.0}/s, ratio {:.2}) | — |",
            rate / raw_rate
        ),
        format!(
            "| webhook event-to-delivered at 20 events/s (org unit committed → receiver) | — | p50 {:.1} ms, p99 {:.1} ms (raw POST round trip p50 {:.2}, p99 {:.2}) |",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&raw_lat, 0.5),
            pct(&raw_lat, 0.99)
        ),
    ];
    for r in &rows {
        eprintln!("{r}");
    }
    Ok(rows)
}
