//! `mirai dev --demo`: the seed is idempotent and its credentials work.

use serde_json::{Value, json};

#[tokio::test]
async fn demo_seed_is_idempotent_and_its_credentials_work() {
    let app = crate::spawn_fleet().await;
    let dir = std::env::temp_dir().join(format!("mirai-demo-{}", uuid::Uuid::new_v4()));
    let path = dir.join("demo.json");
    mirai::demo::seed(app.fleet(), &path).await.unwrap();
    let first: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    mirai::demo::seed(app.fleet(), &path).await.unwrap();
    let second: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(first, second, "re-seeding changes nothing");
    assert_eq!(second["fleet_url"], app.url.as_str());
    let users = second["users"].as_array().unwrap();
    assert_eq!(users.len(), 7, "one user per role");
    let tenant = second["tenant_id"].as_str().unwrap();
    for u in users.iter().filter(|u| u["roles"][0] != "platform_admin") {
        let (s, login) = app
            .post(
                "/api/v1/identity/login",
                None,
                json!({ "email": u["email"], "password": u["password"], "tenant_id": tenant }),
            )
            .await;
        assert_eq!(s, 200, "{u}: {login}");
        assert_eq!(login["roles"], u["roles"]);
    }
    let key = second["api_key"].as_str().unwrap();
    let (s, me) = app.get("/api/v1/identity/me", key).await;
    assert_eq!(s, 200);
    assert_eq!(me["roles"], json!(["org_admin"]));
    assert_eq!(me["tenant_id"], tenant);
    // The LRS credentials work with HTTP Basic, as any xAPI client would use them.
    let lrs = &second["lrs"];
    assert_eq!(lrs["endpoint"], format!("{}/api/v1/lrs/xapi/", app.url));
    let res = app
        .http
        .post(format!("{}statements", lrs["endpoint"].as_str().unwrap()))
        .basic_auth(lrs["key"].as_str().unwrap(), lrs["secret"].as_str())
        .header("x-experience-api-version", "1.0.3")
        .json(&json!({ "actor": { "mbox": "mailto:demo@example.com" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" }, "object": { "id": "http://example.com/demo" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    std::fs::remove_dir_all(dir).unwrap();
    app.stop().await;
}
