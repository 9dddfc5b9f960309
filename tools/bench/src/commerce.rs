//! The value stream's hot paths. **Order to license**: 60 orders one after another, each
//! paid at once with a card through billing's Stripe adapter against localstripe, from
//! the order's answer to its license being readable; beside the same PaymentIntent
//! (create + confirm) asked of localstripe directly. **Enrollments under contention**:
//! 16 managers enrolling 1600 distinct members into one course (one pool, one row lock);
//! beside bare Postgres doing the same transaction shape (lock one counter row, bump it,
//! insert a row) from 16 connections.

use std::time::{Duration, Instant};

use mirai_kit::Role;
use mirai_testkit::{Localstripe, TestApp, localstripe::SECRET_KEY, poll};
use serde_json::json;
use uuid::Uuid;

use crate::pct;

async fn publish_and_list(app: &TestApp, pricing: serde_json::Value) -> anyhow::Result<String> {
    let provider = Uuid::now_v7();
    let seller = app.token(Some(provider), &[Role::ProviderAdmin]);
    let body = json!({ "title": "Bench course", "summary": "", "locale": "en", "tags": [], "visibility": "public",
        "modules": [{ "title": "M", "lessons": [{ "title": "L", "blocks": [{ "kind": "text", "content": { "markdown": "Text." } }] }] }] });
    let (_, c) = app.post("/api/v1/authoring/courses", Some(&seller), body).await;
    let course = c["id"].as_str().unwrap().to_owned();
    app.http
        .post(app.url(&format!("/api/v1/authoring/courses/{course}/publish")))
        .bearer_auth(&seller)
        .header("if-match", "\"1\"")
        .send()
        .await?;
    let mut listing = pricing;
    listing["course_id"] = json!(course);
    listing["version"] = json!(1);
    let id = poll("marketplace knows the version", Duration::from_secs(30), || async {
        let (s, l) = app.post("/api/v1/marketplace/listings", Some(&seller), listing.clone()).await;
        (s == 201).then(|| l["id"].as_str().unwrap().to_owned())
    })
    .await;
    Ok(id)
}

async fn order_to_license() -> anyhow::Result<Vec<String>> {
    let fake = Localstripe::start().await;
    let base = fake.base.clone();
    let stripe = base.clone();
    let app = TestApp::spawn_with(
        &[mirai_authoring::service(), mirai_marketplace::service(), mirai_billing::service()],
        move |c| {
            let s = &mut c.service_settings;
            s.insert("MIRAI_BILLING__STRIPE_API_BASE".into(), stripe);
            s.insert("MIRAI_BILLING__STRIPE_SECRET_KEY".into(), SECRET_KEY.into());
        },
    )
    .await?;
    let listing = publish_and_list(&app, json!({ "pricing": "one_time", "prices": { "EUR": 4900 } })).await?;
    let buyer = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);

    // Raw: the payment alone, asked of the provider directly.
    let http = reqwest::Client::new();
    let mut raw = vec![];
    for _ in 0..60 {
        let t = Instant::now();
        http.post(format!("{base}/v1/payment_intents"))
            .bearer_auth(SECRET_KEY)
            .form(&[("amount", "4900"), ("currency", "eur"), ("payment_method", "pm_card_visa"), ("confirm", "true")])
            .send()
            .await?
            .error_for_status()?;
        raw.push(t.elapsed().as_secs_f64() * 1e3);
    }
    raw.sort_by(|a, b| a.partial_cmp(b).unwrap());

    let mut ours = vec![];
    for _ in 0..60 {
        let t = Instant::now();
        let (_, o) = app
            .post(
                "/api/v1/marketplace/orders",
                Some(&buyer),
                json!({ "listing_id": listing, "seats": 1, "currency": "EUR", "payment_method": "pm_card_visa" }),
            )
            .await;
        let id = o["id"].as_str().unwrap().to_owned();
        // Asked every 2 ms (the testkit's poll waits 25 ms between tries, too coarse here).
        loop {
            let (_, o) = app.get(&format!("/api/v1/marketplace/orders/{id}"), &buyer).await;
            if o["status"] == "completed" {
                break;
            }
            anyhow::ensure!(t.elapsed() < Duration::from_secs(30), "order {id} was not licensed in 30 s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        ours.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ours.sort_by(|a, b| a.partial_cmp(b).unwrap());
    app.stop().await;
    Ok(vec![format!(
        "| order to license (card paid at once through billing's Stripe adapter on localstripe; marketplace → billing → marketplace over the bus) | — | p50 {:.1} ms, p99 {:.1} ms (the PaymentIntent alone, straight to localstripe: p50 {:.1}, p99 {:.1}; overhead p50 {:.1} ms) |",
        pct(&ours, 0.5),
        pct(&ours, 0.99),
        pct(&raw, 0.5),
        pct(&raw, 0.99),
        pct(&ours, 0.5) - pct(&raw, 0.5)
    )])
}

async fn enrollments() -> anyhow::Result<Vec<String>> {
    let app = TestApp::spawn_with(
        &[
            mirai_tenant::service(),
            mirai_authoring::service(),
            mirai_marketplace::service(),
            mirai_enrollment::service(),
        ],
        |c| c.db_pool_size = 20,
    )
    .await?;
    let root = app.platform_admin();
    let slug = format!("bench-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let (_, t) =
        app.post("/api/v1/tenant/tenants", Some(&root), json!({ "kind": "org", "name": slug, "slug": slug })).await;
    let tenant: Uuid = t["id"].as_str().unwrap().parse()?;
    const N: usize = 1600;
    let members: Vec<Uuid> = (0..N).map(|_| Uuid::now_v7()).collect();
    for chunk in members.chunks(100) {
        futures::future::join_all(chunk.iter().map(|m| {
            let (app, root) = (&app, &root);
            async move {
                app.post(
                    &format!("/api/v1/tenant/tenants/{tenant}/memberships"),
                    Some(root),
                    json!({ "user_id": m, "roles": ["learner"] }),
                )
                .await
            }
        }))
        .await;
    }
    let listing = publish_and_list(&app, json!({ "pricing": "free" })).await?;
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    let (_, o) =
        app.post("/api/v1/marketplace/orders", Some(&admin), json!({ "listing_id": listing, "seats": N })).await;
    assert_eq!(o["status"], "completed", "{o}");
    let (_, l) = app.get("/api/v1/marketplace/licenses", &admin).await;
    let course = l["data"][0]["course_id"].as_str().unwrap().to_owned();
    let manager = app.token(Some(tenant), &[Role::OrgManager]);
    let last = members[N - 1];
    poll("enrollment knows the members and the pool", Duration::from_secs(60), || async {
        let (_, p) = app.get("/api/v1/enrollment/pools", &manager).await;
        let pool = p["data"].get(0).is_some();
        let (s, _) = app
            .post(
                "/api/v1/enrollment/enrollments",
                Some(&manager),
                json!({ "user_id": last, "course_id": Uuid::now_v7() }),
            )
            .await;
        (pool && s == 409).then_some(())
    })
    .await;

    let start = Instant::now();
    let lat: Vec<Vec<f64>> = futures::future::join_all(members.chunks(N / 16).map(|chunk| {
        let (app, manager, course) = (&app, &manager, &course);
        async move {
            let mut l = vec![];
            for m in chunk {
                let t = Instant::now();
                let (s, e) = app
                    .post("/api/v1/enrollment/enrollments", Some(manager), json!({ "user_id": m, "course_id": course }))
                    .await;
                assert_eq!(s, 201, "{e}");
                l.push(t.elapsed().as_secs_f64() * 1e3);
            }
            l
        }
    }))
    .await;
    let rate = N as f64 / start.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = lat.into_iter().flatten().collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());

    // Raw: the same transaction shape on bare Postgres, 16 connections, one counter row.
    use sqlx::Connection;
    let url = mirai_testkit::url_for_db(&app.database);
    let mut admin_conn = sqlx::PgConnection::connect(&url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_pool (id int PRIMARY KEY, in_use int NOT NULL)")
        .execute(&mut admin_conn)
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_seat (id uuid PRIMARY KEY, user_id uuid NOT NULL)")
        .execute(&mut admin_conn)
        .await?;
    sqlx::query("INSERT INTO bench_pool VALUES (1, 0) ON CONFLICT DO NOTHING").execute(&mut admin_conn).await?;
    let start = Instant::now();
    futures::future::join_all((0..16).map(|_| {
        let url = url.clone();
        async move {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            for _ in 0..N / 16 {
                let mut tx = c.begin().await.unwrap();
                sqlx::query("SELECT in_use FROM bench_pool WHERE id = 1 FOR UPDATE").execute(&mut *tx).await.unwrap();
                sqlx::query("UPDATE bench_pool SET in_use = in_use + 1 WHERE id = 1").execute(&mut *tx).await.unwrap();
                sqlx::query("INSERT INTO bench_seat VALUES ($1, $2)")
                    .bind(Uuid::now_v7())
                    .bind(Uuid::now_v7())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        }
    }))
    .await;
    let raw = N as f64 / start.elapsed().as_secs_f64();
    app.stop().await;
    Ok(vec![format!(
        "| enrollments under contention ({N} members, one pool, 16 managers at once) | {rate:.0} enrollments/s, p50 {:.1} ms, p99 {:.1} ms (bare Postgres, same lock-bump-insert from 16 connections: {raw:.0}/s, ratio {:.2}) | — |",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        rate / raw
    )])
}

pub async fn rows() -> anyhow::Result<Vec<String>> {
    let mut rows = order_to_license().await?;
    rows.extend(enrollments().await?);
    Ok(rows)
}
