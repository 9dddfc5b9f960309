//! API keys: created once with their secret, verified locally by every service, revoked
//! within a second, usable as Bearer, HTTP Basic and OAuth2 client credentials.

use std::time::Duration;

use base64::Engine;
use mirai_kit::Role;
use mirai_testkit::{TestApp, assert_problem, wait_until};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::spawn;

async fn me_status(app: &TestApp, auth: &str) -> u16 {
    app.http.get(app.url("/api/v1/identity/me")).header("authorization", auth).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn create_use_list_and_revoke() {
    let app = spawn().await;
    let tenant = Uuid::now_v7();
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    let (status, key) = app
        .post("/api/v1/identity/api-keys", Some(&admin), json!({ "name": "lms sync", "scopes": ["statements/write"] }))
        .await;
    assert_eq!(status, 201, "{key}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    let id = key["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("mk_"));
    assert_eq!(key["roles"], json!(["org_admin"]));

    let bearer = format!("Bearer {secret}");
    wait_until("the key reaches the key store", Duration::from_secs(5), || async {
        me_status(&app, &bearer).await == 200
    })
    .await;
    let (_, me) = app.get("/api/v1/identity/me", &secret).await;
    assert_eq!(me["tenant_id"], tenant.to_string());
    assert_eq!(me["subject"], format!("apikey:{id}"));

    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{}", key["basic_password"].as_str().unwrap()))
    );
    assert_eq!(me_status(&app, &basic).await, 200, "HTTP Basic key:secret works (xAPI clients)");
    let wrong =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:not-the-secret-at-all")));
    assert_eq!(me_status(&app, &wrong).await, 401);

    // Client credentials: the key buys a short-lived JWT with its tenant and roles.
    let res = app
        .http
        .post(app.url("/api/v1/identity/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", key["basic_password"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tok: serde_json::Value = res.json().await.unwrap();
    let (_, me) = app.get("/api/v1/identity/me", tok["access_token"].as_str().unwrap()).await;
    assert_eq!(me["subject"], format!("client:{id}"));
    assert_eq!(me["scopes"], json!(["statements/write"]));

    let (status, page) = app.get("/api/v1/identity/api-keys", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert!(page["data"][0].get("secret").is_none(), "the secret is never listed");

    // Another tenant's admin cannot see or revoke it.
    let other = app.token(Some(Uuid::now_v7()), &[Role::OrgAdmin]);
    assert_problem(
        &app.call(Method::DELETE, &format!("/api/v1/identity/api-keys/{id}"), Some(&other), None).await,
        404,
        "not-found",
    );
    assert_eq!(app.get("/api/v1/identity/api-keys", &other).await.1["data"], json!([]));

    let (status, revoked) =
        app.call(Method::DELETE, &format!("/api/v1/identity/api-keys/{id}"), Some(&admin), None).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    wait_until("the revoked key is refused", Duration::from_secs(1), || async {
        me_status(&app, &bearer).await == 401
    })
    .await;
    let res = app.get("/api/v1/identity/me", &secret).await;
    assert_problem(&res, 401, "unauthenticated");
    assert!(res.1["detail"].as_str().unwrap().contains("revoked"));
    app.stop().await;
}

#[tokio::test]
async fn keys_cannot_escalate_and_need_a_tenant_admin() {
    let app = spawn().await;
    let tenant = Uuid::now_v7();
    let admin = app.token(Some(tenant), &[Role::OrgAdmin]);
    let res = app.post("/api/v1/identity/api-keys", Some(&admin), json!({ "name": "x", "roles": ["author"] })).await;
    assert_problem(&res, 422, "validation");
    let res = app.post("/api/v1/identity/api-keys", Some(&admin), json!({ "name": "x", "scopes": ["root"] })).await;
    assert_problem(&res, 422, "validation");
    let res = app
        .post("/api/v1/identity/api-keys", Some(&admin), json!({ "name": "x", "expires_at": "2001-01-01T00:00:00Z" }))
        .await;
    assert_problem(&res, 422, "validation");
    let learner = app.token(Some(tenant), &[Role::Learner]);
    assert_problem(
        &app.post("/api/v1/identity/api-keys", Some(&learner), json!({ "name": "x" })).await,
        403,
        "forbidden",
    );
    let no_tenant = app.token(None, &[Role::OrgAdmin]);
    assert_problem(
        &app.post("/api/v1/identity/api-keys", Some(&no_tenant), json!({ "name": "x" })).await,
        403,
        "forbidden",
    );
    assert_problem(&app.post("/api/v1/identity/api-keys", None, json!({ "name": "x" })).await, 401, "unauthenticated");

    // A scoped key delegates at most its scopes: no wider, and not "everything" by omission.
    let (s, reader) = app
        .post("/api/v1/identity/api-keys", Some(&admin), json!({ "name": "reader", "scopes": ["statements/read"] }))
        .await;
    assert_eq!(s, 201, "{reader}");
    let reader = reader["secret"].as_str().unwrap().to_owned();
    wait_until("the reader key is known", Duration::from_secs(5), || async {
        app.get("/api/v1/identity/me", &reader).await.0 == 200
    })
    .await;
    for body in [
        json!({ "name": "wider", "scopes": ["statements/write"] }),
        json!({ "name": "all", "scopes": ["all"] }),
        json!({ "name": "unscoped" }),
    ] {
        let res = app.post("/api/v1/identity/api-keys", Some(&reader), body).await;
        assert_problem(&res, 422, "validation");
    }
    let (s, narrow) = app
        .post("/api/v1/identity/api-keys", Some(&reader), json!({ "name": "same", "scopes": ["statements/read"] }))
        .await;
    assert_eq!(s, 201, "{narrow}");
    app.stop().await;
}
