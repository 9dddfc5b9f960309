//! marketplace with authoring: what providers may list, who sees a listing, free orders
//! licensed at once. The paid saga (with billing and a Stripe fake) is in billing's tests.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, poll};
use serde_json::{Value, json};
use uuid::Uuid;

async fn publish(app: &TestApp, provider: Uuid, visibility: &str) -> String {
    let admin = app.token(Some(provider), &[Role::ProviderAdmin]);
    let body = json!({ "title": "Fire drills", "summary": "How", "locale": "en", "tags": [], "visibility": visibility,
        "modules": [{ "title": "M", "lessons": [{ "title": "L", "blocks": [{ "kind": "text", "content": { "markdown": "Walk, do not run." } }] }] }] });
    let (s, c) = app.post("/api/v1/authoring/courses", Some(&admin), body).await;
    assert_eq!(s, 201, "{c}");
    let course = c["id"].as_str().unwrap().to_owned();
    let res = app
        .http
        .post(app.url(&format!("/api/v1/authoring/courses/{course}/publish")))
        .bearer_auth(&admin)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    course
}

async fn list(app: &TestApp, token: &str, body: Value) -> (reqwest::StatusCode, Value) {
    poll("marketplace knows the published version", Duration::from_secs(20), || async {
        let r = app.post("/api/v1/marketplace/listings", Some(token), body.clone()).await;
        (r.0 != 404).then_some(r)
    })
    .await
}

#[tokio::test]
async fn providers_list_what_they_published_to_whom_they_choose_and_free_orders_are_licensed_at_once() {
    let app = TestApp::spawn(&[mirai_authoring::service(), mirai_marketplace::service()]).await;
    let provider = Uuid::now_v7();
    let seller = app.token(Some(provider), &[Role::ProviderAdmin]);
    let course = publish(&app, provider, "public").await;
    let (friend, stranger) = (Uuid::now_v7(), Uuid::now_v7());
    let friend_admin = app.token(Some(friend), &[Role::OrgAdmin]);
    let stranger_admin = app.token(Some(stranger), &[Role::OrgAdmin]);

    // Terms are checked.
    for (bad, field) in [
        (json!({ "pricing": "free", "prices": { "EUR": 100 } }), "prices"),
        (json!({ "pricing": "one_time" }), "prices"),
        (json!({ "pricing": "one_time", "prices": { "eur": 100 } }), "prices"),
        (json!({ "pricing": "subscription", "prices": { "EUR": 100 } }), "interval"),
        (json!({ "pricing": "one_time", "prices": { "EUR": 100 }, "seat_packs": [0] }), "seat_packs"),
        (json!({ "pricing": "free", "visibility": "private" }), "visible_to"),
    ] {
        let mut body = bad.clone();
        body["course_id"] = json!(course);
        body["version"] = json!(1);
        let r = list(&app, &seller, body).await;
        assert_problem(&r, 422, "validation");
        assert_eq!(r.1["errors"][0]["field"], field, "{bad}");
    }
    // Only a provider admin lists, only its own published versions.
    let body = json!({ "course_id": course, "version": 1, "pricing": "free", "visibility": "private", "visible_to": [friend] });
    let (s, _) = app.post("/api/v1/marketplace/listings", Some(&friend_admin), body.clone()).await;
    assert!(s == 403 || s == 404, "{s}");
    let (s, _) = app
        .post(
            "/api/v1/marketplace/listings",
            Some(&seller),
            json!({ "course_id": course, "version": 2, "pricing": "free" }),
        )
        .await;
    assert_eq!(s, 404);
    let (s, l) = list(&app, &seller, body).await;
    assert_eq!(s, 201, "{l}");
    let listing = l["id"].as_str().unwrap().to_owned();
    assert_eq!(l["revenue_share_bps"], 2000);

    // A private listing is seen (and bought) by the tenants it names only.
    let (_, seen) = app.get("/api/v1/marketplace/listings", &friend_admin).await;
    assert_eq!(seen["data"].as_array().unwrap().len(), 1);
    assert!(seen["data"][0].get("visible_to").is_none(), "a shopper does not see who else may buy");
    let (_, unseen) = app.get("/api/v1/marketplace/listings", &stranger_admin).await;
    assert_eq!(unseen["data"].as_array().unwrap().len(), 0);
    let (s, _) = app.get(&format!("/api/v1/marketplace/listings/{listing}"), &stranger_admin).await;
    assert_eq!(s, 404);
    let (s, _) = app
        .post("/api/v1/marketplace/orders", Some(&stranger_admin), json!({ "listing_id": listing, "seats": 3 }))
        .await;
    assert_eq!(s, 404);
    let (s, _) =
        app.post("/api/v1/marketplace/orders", Some(&seller), json!({ "listing_id": listing, "seats": 3 })).await;
    assert!(s == 403 || s == 409, "{s}");

    // A free order is licensed at once.
    let (s, o) =
        app.post("/api/v1/marketplace/orders", Some(&friend_admin), json!({ "listing_id": listing, "seats": 3 })).await;
    assert_eq!(s, 201, "{o}");
    assert_eq!(o["status"], "completed");
    assert_eq!(o["amount"], 0);
    let (_, owned) = app.get("/api/v1/marketplace/licenses", &friend_admin).await;
    assert_eq!(owned["data"][0]["seats"], 3);
    assert_eq!(owned["data"][0]["id"], o["license_id"]);
    let (_, none) = app.get("/api/v1/marketplace/licenses", &stranger_admin).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    // The provider sees its sale; the stranger does not see the order.
    let (_, sold) = app.get("/api/v1/marketplace/orders?sold=true", &seller).await;
    assert_eq!(sold["data"][0]["id"], o["id"]);
    let (s, _) = app.get(&format!("/api/v1/marketplace/orders/{}", o["id"].as_str().unwrap()), &stranger_admin).await;
    assert_eq!(s, 404);

    // Retired, it is offered to nobody (the license stays).
    let (s, r) = app
        .call(reqwest::Method::POST, &format!("/api/v1/marketplace/listings/{listing}/retire"), Some(&seller), None)
        .await;
    assert_eq!((s.as_u16(), r["status"].as_str()), (200, Some("retired")));
    let (_, seen) = app.get("/api/v1/marketplace/listings", &friend_admin).await;
    assert_eq!(seen["data"].as_array().unwrap().len(), 0);
    let (s, _) =
        app.post("/api/v1/marketplace/orders", Some(&friend_admin), json!({ "listing_id": listing, "seats": 1 })).await;
    assert_eq!(s, 404);
    let (_, owned) = app.get("/api/v1/marketplace/licenses", &friend_admin).await;
    assert_eq!(owned["data"][0]["status"], "active");

    // The platform sets a provider's share; listings carry it from then on.
    let (s, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/marketplace/providers/{provider}/revenue-share"),
            Some(&seller),
            Some(json!({ "revenue_share_bps": 0 })),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/marketplace/providers/{provider}/revenue-share"),
            Some(&app.platform_admin()),
            Some(json!({ "revenue_share_bps": 1500 })),
        )
        .await;
    assert_eq!(s, 200);
    let (s, l) = list(&app, &seller, json!({ "course_id": course, "version": 1, "pricing": "subscription", "interval": "year", "prices": { "EUR": 1200 } })).await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["revenue_share_bps"], 1500);
}
