//! search's black-box test: authoring publishes, search indexes; a tenant finds its own
//! and public courses by their body text (stemmed, typo-tolerant), never another
//! tenant's non-public ones.

mod opensearch;

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{TestApp, poll};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

async fn publish(
    app: &TestApp,
    tenant: Uuid,
    title: &str,
    visibility: &str,
    locale: &str,
    lessons: &[(&str, &str)],
) -> String {
    let admin = app.token(Some(tenant), &[Role::ProviderAdmin]);
    let lessons: Vec<Value> = lessons
        .iter()
        .map(|(t, text)| json!({ "title": t, "blocks": [{ "kind": "text", "content": { "markdown": text } }] }))
        .collect();
    let body = json!({ "title": title, "locale": locale, "visibility": visibility, "modules": [{ "title": "M", "lessons": lessons }] });
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

async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let (s, v) = app.call(Method::GET, &format!("/api/v1/search/search?{query}"), Some(token), None).await;
    assert_eq!(s, 200, "{v}");
    v
}

fn titles(v: &Value) -> Vec<String> {
    v["hits"].as_array().unwrap().iter().map(|h| h["title"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_tenant_finds_its_own_and_public_courses_by_their_words() {
    let app = TestApp::spawn(&[mirai_authoring::service(), mirai_search::service()]).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let fire = publish(
        &app,
        a,
        "Fire Safety",
        "public",
        "en-US",
        &[
            ("Evacuation", "When the alarm sounds, walk calmly to the nearest evacuation route. Running causes falls."),
            ("Extinguishers", "Pull the pin, aim at the base of the fire, squeeze and sweep."),
        ],
    )
    .await;
    publish(
        &app,
        a,
        "Alpha Ledger Procedures",
        "tenant",
        "en-US",
        &[("Closing", "The quarterly ledger reconciliation checklist.")],
    )
    .await;
    publish(&app, a, "Alpha Private Draft", "private", "en-US", &[("Secret", "zebraword appears only here.")]).await;
    publish(
        &app,
        b,
        "Brandschutz",
        "public",
        "de-DE",
        &[("Löschen", "Feuerlöscher richtig bedienen und Brände löschen.")],
    )
    .await;
    let (learner_a, learner_b) = (app.token(Some(a), &[Role::Learner]), app.token(Some(b), &[Role::Learner]));
    poll("search indexes the publications", Duration::from_secs(15), || async {
        (!titles(&search(&app, &learner_a, "q=reconciliation").await).is_empty()
            && !titles(&search(&app, &learner_b, "q=Feuerl%C3%B6scher").await).is_empty())
        .then_some(())
    })
    .await;

    // A word from the body finds the lesson and the course, highlighted.
    let found = search(&app, &learner_b, "q=extinguishers%20squeeze").await;
    assert!(titles(&found).contains(&"Extinguishers".to_owned()), "{found}");
    let hit = found["hits"].as_array().unwrap().iter().find(|h| h["kind"] == "lesson").unwrap();
    assert_eq!(hit["course_id"], fire.as_str());
    assert!(hit["highlight"].as_str().unwrap().contains("<mark>squeeze</mark>"), "{hit}");
    // Stemming: "run" finds "Running"; "löschen" finds "Löschen"/"löschen" in German.
    assert!(titles(&search(&app, &learner_b, "q=run&kind=lesson").await).contains(&"Evacuation".to_owned()));
    assert!(titles(&search(&app, &learner_b, "q=brand&locale=de-DE").await).contains(&"Brandschutz".to_owned()));
    // Typos: "evacuaton", "extinguishrs".
    assert!(titles(&search(&app, &learner_b, "q=evacuaton").await).contains(&"Evacuation".to_owned()));
    assert!(
        titles(&search(&app, &learner_b, "q=extinguishrs&kind=lesson").await).contains(&"Extinguishers".to_owned())
    );

    // Tenants: B never finds A's tenant-only course; A does. Nobody finds a private one.
    assert!(titles(&search(&app, &learner_b, "q=reconciliation").await).is_empty(), "A's tenant-only course is A's");
    assert!(
        titles(&search(&app, &learner_a, "q=reconciliation").await).contains(&"Alpha Ledger Procedures".to_owned())
    );
    assert!(titles(&search(&app, &learner_a, "q=zebraword").await).is_empty(), "private courses are not indexed");
    // Corrections come only from what the caller can see: A's typo finds A's course, B's
    // same typo finds nothing (A's words are not B's dictionary).
    assert!(titles(&search(&app, &learner_a, "q=reconcilation").await).contains(&"Alpha Ledger Procedures".to_owned()));
    assert!(titles(&search(&app, &learner_b, "q=reconcilation").await).is_empty());
    assert!(titles(&search(&app, &learner_a, "q=zebrawrd").await).is_empty(), "nor from private courses");

    // Autocomplete.
    let (s, sugg) = app.call(Method::GET, "/api/v1/search/suggest?q=fir", Some(&learner_b), None).await;
    assert_eq!(s, 200);
    assert_eq!(sugg[0], "Fire Safety", "{sugg}");
    let (_, none) = app.call(Method::GET, "/api/v1/search/suggest?q=Alpha%20Led", Some(&learner_b), None).await;
    assert_eq!(none, json!([]), "suggestions respect tenants too");

    // Bad input is a 422, never a 500 (tsquery syntax is forgiving: websearch).
    for q in ["q=", "q=%22unclosed", "q=a%20%26%20%7C%20!", "q=((((", "q=x&kind=video", "q=x&limit=0"] {
        let (s, v) = app.call(Method::GET, &format!("/api/v1/search/search?{q}"), Some(&learner_a), None).await;
        assert!(s == 200 || s == 422, "{q}: {s} {v}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_index_is_rebuilt_from_the_event_streams() {
    let app = TestApp::spawn(&[mirai_authoring::service(), mirai_search::service()]).await;
    let a = Uuid::now_v7();
    publish(&app, a, "Ladder Safety", "tenant", "en-US", &[("Climbing", "Three points of contact on every rung.")])
        .await;
    let learner = app.token(Some(a), &[Role::Learner]);
    poll("search indexes it", Duration::from_secs(15), || async {
        (!titles(&search(&app, &learner, "q=rung").await).is_empty()).then_some(())
    })
    .await;
    let mut db =
        <sqlx::PgConnection as sqlx::Connection>::connect(&mirai_testkit::url_for_db(&app.database)).await.unwrap();
    sqlx::query("DELETE FROM search.documents").execute(&mut db).await.unwrap();
    assert!(titles(&search(&app, &learner, "q=rung").await).is_empty());
    // `mirai rebuild search`.
    mirai_kit::fleet::rebuild(&mirai_testkit::config(&app.database, &app.prefix), &mirai_search::service())
        .await
        .unwrap();
    poll("the index is rebuilt from the stream", Duration::from_secs(20), || async {
        (titles(&search(&app, &learner, "q=rung").await) == ["Climbing", "Ladder Safety"]
            || titles(&search(&app, &learner, "q=rung").await) == ["Ladder Safety", "Climbing"])
        .then_some(())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn semantic_and_hybrid_results_rank_by_meaning_once_the_tenant_turns_them_on() {
    let app = TestApp::spawn(&[mirai_tenant::service(), mirai_authoring::service(), mirai_search::service()]).await;
    let body = json!({ "kind": "org", "name": "Semantic Co", "slug": format!("sem-{}", &Uuid::now_v7().simple().to_string()[20..]) });
    let (s, t) = app.post("/api/v1/tenant/tenants", Some(&app.platform_admin()), body).await;
    assert_eq!(s, 201, "{t}");
    let a: Uuid = t["id"].as_str().unwrap().parse().unwrap();
    let b = Uuid::now_v7();
    let reader = app.token(Some(a), &[Role::Learner]);
    publish(
        &app,
        a,
        "Workplace Basics",
        "tenant",
        "en-US",
        &[
            ("Ledger closing", "Reconcile the accounts payable ledger against supplier statements every quarter."),
            ("Evacuation", "When the alarm sounds, walk calmly to the nearest exit and gather at the assembly point."),
            ("Password hygiene", "Use a password manager and a long passphrase for every account."),
        ],
    )
    .await;
    // Another tenant's course on the same topic, visible to that tenant only.
    publish(
        &app,
        b,
        "Beta Safety",
        "tenant",
        "en-US",
        &[("Beta drill", "When the fire alarm rings, leave by the exit.")],
    )
    .await;
    // Meaning, not words: no word of this query is in the evacuation lesson.
    let q = "q=leaving+the+premises+during+an+emergency+blaze";

    let (s, v) = app.call(Method::GET, &format!("/api/v1/search/search?{q}&mode=hybrid"), Some(&reader), None).await;
    assert_eq!(s, 403, "off until the tenant turns it on: {v}");
    assert!(v["type"].as_str().unwrap().ends_with("/ai-disabled"));
    let admin = app.token(Some(a), &[Role::OrgAdmin]);
    let flag = format!("/api/v1/tenant/tenants/{a}/feature-flags/ai.semantic_search");
    let (s, f) = app.call(Method::PUT, &flag, Some(&admin), Some(json!({ "enabled": true }))).await;
    assert_eq!(s, 200, "{f}");
    let hybrid = poll("hybrid results", Duration::from_secs(60), || async {
        let v = search(&app, &reader, q).await;
        (v["mode"] == "hybrid" && !v["hits"].as_array().unwrap().is_empty()).then_some(v)
    })
    .await;
    assert_eq!(titles(&hybrid)[0], "Evacuation", "{hybrid}");
    let semantic = search(&app, &reader, &format!("{q}&mode=semantic&kind=lesson")).await;
    assert_eq!(titles(&semantic)[0], "Evacuation", "{semantic}");
    assert!(!titles(&semantic).contains(&"Beta drill".to_owned()), "never another tenant's: {semantic}");
    let lexical = search(&app, &reader, &format!("{q}&mode=lexical")).await;
    assert!(!titles(&lexical).contains(&"Evacuation".to_owned()), "words alone miss it: {lexical}");
    // Both sides count in the fusion: a word match that is also the nearest in meaning wins.
    let both = search(&app, &reader, "q=password+manager&mode=hybrid&kind=lesson").await;
    assert_eq!(titles(&both)[0], "Password hygiene", "{both}");
    let res = app.call(Method::GET, "/api/v1/search/search?q=x&mode=vibes", Some(&reader), None).await;
    assert_eq!(res.0, 422);
}
