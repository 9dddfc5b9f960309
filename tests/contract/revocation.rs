//! A revoked API key is refused within one second on every instance.

use std::time::{Duration, Instant};

use mirai_kit::Role;
use mirai_testkit::{TestApp, wait_until};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

async fn status(app: &TestApp, key: &str) -> u16 {
    app.get("/api/v1/identity/me", key).await.0.as_u16()
}

#[tokio::test]
async fn revocation_reaches_every_instance_within_a_second() {
    let a = crate::spawn_fleet().await;
    // A second replica of the whole fleet: same database, same bus.
    let b = TestApp::start_on(&mirai::services(), &a.database, &a.prefix).await.unwrap();
    let tenant = Uuid::now_v7();
    let admin = a.token(Some(tenant), &[Role::OrgAdmin]);
    let (s, key) = a.post("/api/v1/identity/api-keys", Some(&admin), json!({ "name": "k" })).await;
    assert_eq!(s, 201);
    let secret = key["secret"].as_str().unwrap().to_owned();
    for app in [&a, &b] {
        wait_until("the key is known", Duration::from_secs(5), || async { status(app, &secret).await == 200 }).await;
    }
    let (s, _) = a
        .call(Method::DELETE, &format!("/api/v1/identity/api-keys/{}", key["id"].as_str().unwrap()), Some(&admin), None)
        .await;
    assert_eq!(s, 200);
    let revoked_at = Instant::now();
    for app in [&a, &b] {
        wait_until("the revoked key is refused", Duration::from_secs(1), || async {
            status(app, &secret).await == 401
        })
        .await;
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(1), "both refused it in {:?}", revoked_at.elapsed());
    b.stop_instance().await;
    a.stop().await;
}
