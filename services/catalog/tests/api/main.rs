//! catalog's black-box test: authoring publishes, the catalog projects; each tenant sees
//! the public catalog and its own courses, filtered, paged, with ETags.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{TestApp, poll};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// Creates and publishes a course in `tenant`; returns its id.
async fn publish(
    app: &TestApp,
    tenant: Uuid,
    title: &str,
    visibility: &str,
    locale: &str,
    tags: &[&str],
    words: usize,
) -> String {
    let admin = app.token(Some(tenant), &[Role::ProviderAdmin]);
    let text = vec!["word"; words].join(" ");
    let body = json!({ "title": title, "summary": format!("About {title}"), "locale": locale, "tags": tags, "visibility": visibility,
        "modules": [{ "title": "M", "lessons": [{ "title": "L", "blocks": [{ "kind": "text", "content": { "markdown": text } }] }] }] });
    let (s, c) = app.post("/api/v1/authoring/courses", Some(&admin), body).await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();
    let res = app
        .http
        .post(app.url(&format!("/api/v1/authoring/courses/{id}/publish")))
        .bearer_auth(&admin)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    id
}

async fn catalog(app: &TestApp, token: &str, query: &str) -> Value {
    let (s, v) = app.call(Method::GET, &format!("/api/v1/catalog/courses{query}"), Some(token), None).await;
    assert_eq!(s, 200, "{v}");
    v
}

fn titles(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn each_tenant_sees_the_public_catalog_and_its_own_courses() {
    let app = TestApp::spawn(&[mirai_authoring::service(), mirai_catalog::service()]).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let public = publish(&app, a, "Fire Safety", "public", "en-US", &["safety"], 1000).await;
    publish(&app, a, "Alpha Internal Onboarding", "tenant", "en-US", &["onboarding"], 100).await;
    publish(&app, a, "Alpha Draft Notes", "private", "en-US", &[], 10).await;
    publish(&app, b, "Brandschutz", "public", "de-DE", &["safety"], 100).await;
    let learner_a = app.token(Some(a), &[Role::Learner]);
    let learner_b = app.token(Some(b), &[Role::Learner]);
    let seen = poll("the catalog projects four publications", Duration::from_secs(15), || async {
        let page = catalog(&app, &learner_a, "?sort=title").await;
        (titles(&page).len() == 3).then_some(page)
    })
    .await;
    assert_eq!(
        titles(&seen),
        ["Alpha Internal Onboarding", "Brandschutz", "Fire Safety"],
        "private courses are not offered"
    );
    let b_sees = catalog(&app, &learner_b, "?sort=title").await;
    assert_eq!(titles(&b_sees), ["Brandschutz", "Fire Safety"], "A's tenant-only course is A's alone");
    let (s, _) = app.call(Method::GET, &format!("/api/v1/catalog/courses/{public}"), Some(&learner_b), None).await;
    assert_eq!(s, 200, "a public course is readable by every tenant");

    // Filters.
    assert_eq!(
        titles(&catalog(&app, &learner_a, "?scope=tenant&sort=title").await),
        ["Alpha Internal Onboarding", "Fire Safety"]
    );
    assert_eq!(titles(&catalog(&app, &learner_a, "?scope=public&sort=title").await), ["Brandschutz", "Fire Safety"]);
    assert_eq!(titles(&catalog(&app, &learner_a, "?locale=de-DE").await), ["Brandschutz"]);
    // Tags compare case-insensitively, and a language takes its regions.
    assert_eq!(titles(&catalog(&app, &learner_a, "?locale=de-de").await), ["Brandschutz"]);
    assert_eq!(titles(&catalog(&app, &learner_a, "?locale=de").await), ["Brandschutz"]);
    assert_eq!(titles(&catalog(&app, &learner_a, "?tag=SAFETY&sort=title").await), ["Brandschutz", "Fire Safety"]);
    assert_eq!(titles(&catalog(&app, &learner_a, &format!("?provider={b}")).await), ["Brandschutz"]);
    assert_eq!(
        titles(&catalog(&app, &learner_a, "?max_minutes=1&sort=title").await),
        ["Alpha Internal Onboarding", "Brandschutz"]
    );
    let (s, p) = app.call(Method::GET, "/api/v1/catalog/courses?sort=price", Some(&learner_a), None).await;
    assert_eq!(s, 422, "{p}");

    // Cursor pages, in both sorts, cover every entry once.
    for sort in ["newest", "title"] {
        let (mut all, mut query) = (vec![], format!("?sort={sort}&limit=1"));
        loop {
            let page = catalog(&app, &learner_a, &query).await;
            all.extend(titles(&page));
            match page["next_cursor"].as_str() {
                Some(c) => query = format!("?sort={sort}&limit=1&cursor={c}"),
                None => break,
            }
        }
        all.sort();
        assert_eq!(all, ["Alpha Internal Onboarding", "Brandschutz", "Fire Safety"], "{sort}");
    }

    // ETag and 304.
    let res = app.http.get(app.url("/api/v1/catalog/courses")).bearer_auth(&learner_a).send().await.unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .http
        .get(app.url("/api/v1/catalog/courses"))
        .bearer_auth(&learner_a)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // A retirement removes the course; the ETag moves with the content.
    let admin_a = app.token(Some(a), &[Role::ProviderAdmin]);
    let res = app
        .http
        .post(app.url(&format!("/api/v1/authoring/courses/{public}/retire")))
        .bearer_auth(&admin_a)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    poll("the retirement reaches the catalog", Duration::from_secs(15), || async {
        (titles(&catalog(&app, &learner_b, "").await) == ["Brandschutz"]).then_some(())
    })
    .await;
    let changed = app
        .http
        .get(app.url("/api/v1/catalog/courses"))
        .bearer_auth(&learner_a)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let (s, _) = app.call(Method::GET, &format!("/api/v1/catalog/courses/{public}"), Some(&learner_b), None).await;
    assert_eq!(s, 404);
    app.stop().await;
}

#[tokio::test]
async fn the_catalog_is_rebuilt_from_the_event_streams() {
    let app = TestApp::spawn(&[mirai_authoring::service(), mirai_catalog::service()]).await;
    let a = Uuid::now_v7();
    let id = publish(&app, a, "Rebuilt Course", "public", "en-US", &[], 10).await;
    publish(&app, a, "Second Course", "tenant", "en-US", &[], 10).await;
    let learner = app.token(Some(a), &[Role::Learner]);
    poll("the catalog projects both", Duration::from_secs(15), || async {
        (titles(&catalog(&app, &learner, "?sort=title").await).len() == 2).then_some(())
    })
    .await;
    // The read model drifts (a bug, a bad restore): an entry is lost, another corrupted.
    let mut db =
        <sqlx::PgConnection as sqlx::Connection>::connect(&mirai_testkit::url_for_db(&app.database)).await.unwrap();
    sqlx::query("DELETE FROM catalog.entries WHERE title = 'Second Course'").execute(&mut db).await.unwrap();
    sqlx::query("UPDATE catalog.entries SET title = 'corrupted'").execute(&mut db).await.unwrap();
    assert_eq!(titles(&catalog(&app, &learner, "").await), ["corrupted"]);
    // `mirai rebuild catalog`: the running service replays authoring's stream from the start.
    mirai_kit::fleet::rebuild(&mirai_testkit::config(&app.database, &app.prefix), &mirai_catalog::service())
        .await
        .unwrap();
    poll("the catalog is rebuilt from the stream", Duration::from_secs(20), || async {
        (titles(&catalog(&app, &learner, "?sort=title").await) == ["Rebuilt Course", "Second Course"]).then_some(())
    })
    .await;
    let (s, e) = app.call(Method::GET, &format!("/api/v1/catalog/courses/{id}"), Some(&learner), None).await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["version"], 1);
    app.stop().await;
}

/// Publishes an event on authoring's stream as authoring's relay would (the test stands
/// in for the relay, so it publishes to JetStream directly).
#[allow(clippy::disallowed_methods)]
async fn deliver(app: &TestApp, event: mirai_events::NewEvent) {
    let bus = mirai_testkit::bus(&app.prefix).await;
    let envelope = event.into_envelope("authoring", &mirai_events::EventMeta::default());
    let subject = bus.subject(&envelope.kind);
    bus.js.publish(subject, serde_json::to_vec(&envelope).unwrap().into()).await.unwrap().await.unwrap();
}

fn published(tenant: Uuid, course: Uuid, version: i32, title: &str) -> mirai_events::NewEvent {
    mirai_contracts::events::authoring::CoursePublished {
        tenant_id: tenant.into(),
        course_id: course.into(),
        version,
        title: title.into(),
        summary: String::new(),
        locale: "en-US".into(),
        tags: vec![],
        visibility: "public".into(),
        content_hash: format!("sha256:{}", "0".repeat(64)),
        outline: vec![],
        published_at: chrono::Utc::now(),
    }
    .into()
}

#[tokio::test]
async fn events_out_of_order_never_roll_the_catalog_back() {
    let app = TestApp::spawn(&[mirai_catalog::service()]).await;
    let tenant = Uuid::now_v7();
    let learner = app.token(Some(tenant), &[Role::Learner]);
    // Version 2 arrives before version 1 (a redelivery, another pod).
    let course = Uuid::now_v7();
    deliver(&app, published(tenant, course, 2, "Second edition")).await;
    deliver(&app, published(tenant, course, 1, "First edition")).await;
    // A retirement arrives before the publication it follows.
    let gone = Uuid::now_v7();
    deliver(
        &app,
        mirai_contracts::events::authoring::CourseRetired {
            tenant_id: tenant.into(),
            course_id: gone.into(),
            last_version: Some(1),
            retired_at: chrono::Utc::now(),
        }
        .into(),
    )
    .await;
    deliver(&app, published(tenant, gone, 1, "Retired already")).await;
    // A marker published last: once it is in, everything before it was handled.
    deliver(&app, published(tenant, Uuid::now_v7(), 1, "Zz marker")).await;
    poll("the catalog handles the events", Duration::from_secs(15), || async {
        titles(&catalog(&app, &learner, "?sort=title").await).contains(&"Zz marker".to_owned()).then_some(())
    })
    .await;
    assert_eq!(titles(&catalog(&app, &learner, "?sort=title").await), ["Second edition", "Zz marker"]);
    app.stop().await;
}
