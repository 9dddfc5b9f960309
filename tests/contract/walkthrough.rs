//! The README's curl walkthrough, as a test against `mirai dev`-style wiring: bootstrap →
//! create a tenant → invite and create an org admin → log in → create an API key → call
//! with it → revoke it.

use std::time::Duration;

use mirai_testkit::{assert_problem, wait_until};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn integrator_walkthrough() {
    let app = crate::spawn_fleet().await;

    // 1. Bootstrap the platform admin (printed once by `mirai admin bootstrap`) and log in.
    let ctx = app.fleet().service("identity").unwrap();
    let root = mirai_identity::bootstrap(ctx, "admin@mirai.local").await.unwrap().unwrap();
    let (status, login) =
        app.post("/api/v1/identity/login", None, json!({ "email": root.email, "password": root.password })).await;
    assert_eq!(status, 200, "{login}");
    let admin = login["access_token"].as_str().unwrap().to_owned();

    // 2. Create a tenant.
    let (status, tenant) = app
        .post("/api/v1/tenant/tenants", Some(&admin), json!({ "kind": "org", "name": "Acme", "slug": "acme" }))
        .await;
    assert_eq!(status, 201, "{tenant}");
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();

    // 3. Invite the org admin, create their account, and let them accept.
    let (status, invite) = app
        .post(
            &format!("/api/v1/tenant/tenants/{tenant_id}/invitations"),
            Some(&admin),
            json!({ "email": "grace@acme.example", "roles": ["org_admin"] }),
        )
        .await;
    assert_eq!(status, 201, "{invite}");
    let (status, user) = app
        .post(
            "/api/v1/identity/users",
            Some(&admin),
            json!({ "email": "grace@acme.example", "password": "correct horse battery", "display_name": "Grace" }),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let (_, first) = app
        .post(
            "/api/v1/identity/login",
            None,
            json!({ "email": "grace@acme.example", "password": "correct horse battery" }),
        )
        .await;
    let (status, membership) = app
        .post(
            "/api/v1/tenant/invitations/accept",
            Some(first["access_token"].as_str().unwrap()),
            json!({ "token": invite["token"] }),
        )
        .await;
    assert_eq!(status, 200, "{membership}");
    assert_eq!(membership["roles"], json!(["org_admin"]));

    // 4. Log in to the tenant: the membership event reached identity's read model.
    let login_body =
        json!({ "email": "grace@acme.example", "password": "correct horse battery", "tenant_id": tenant_id });
    wait_until("identity learns the membership", Duration::from_secs(5), || async {
        let (s, b) = app.post("/api/v1/identity/login", None, login_body.clone()).await;
        s == 200 && b["roles"] == json!(["org_admin"])
    })
    .await;
    let (_, session) = app.post("/api/v1/identity/login", None, login_body).await;
    assert_eq!(session["tenant_id"], tenant_id.as_str());
    let org_admin = session["access_token"].as_str().unwrap().to_owned();

    // 5. Create an API key and call with it.
    let (status, key) = app.post("/api/v1/identity/api-keys", Some(&org_admin), json!({ "name": "hr-sync" })).await;
    assert_eq!(status, 201, "{key}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/tenant/tenants/{tenant_id}/memberships");
    wait_until("the key works", Duration::from_secs(5), || async { app.get(&path, &secret).await.0 == 200 }).await;
    let (_, members) = app.get(&path, &secret).await;
    assert_eq!(members["data"][0]["user_id"], user["id"]);

    // 6. Revoke it: refused from then on.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/identity/api-keys/{}", key["id"].as_str().unwrap()),
            Some(&org_admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    wait_until("the key is refused", Duration::from_secs(1), || async { app.get(&path, &secret).await.0 == 401 }).await;
    assert_problem(&app.get(&path, &secret).await, 401, "unauthenticated");
    app.stop().await;
}
