//! A revoked API key is refused within one second on every instance.

use std::time::{Duration, Instant};

use mirai_kit::Role;
use mirai_testkit::{TestApp, poll, wait_until};
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

/// Refused (401) on every instance within a second of `since`.
async fn refused_everywhere(apps: &[&TestApp], creds: &[(&str, Cred)], since: Instant) {
    for app in apps {
        for (what, cred) in creds {
            wait_until(&format!("{what} is refused"), Duration::from_secs(1), || async {
                cred.status(app, "/api/v1/identity/me").await == 401
            })
            .await;
        }
    }
    assert!(since.elapsed() < Duration::from_secs(1), "refused everywhere in {:?}", since.elapsed());
}

async fn works(app: &TestApp, cred: Cred) -> bool {
    cred.status(app, "/api/v1/identity/me").await == 200
}

#[derive(Clone)]
enum Cred {
    Bearer(String),
    Basic(String, String),
}

impl Cred {
    async fn status(&self, app: &TestApp, path: &str) -> u16 {
        let req = app.http.get(app.url(path));
        let req = match self {
            Cred::Bearer(t) => req.bearer_auth(t),
            Cred::Basic(u, p) => req.basic_auth(u, Some(p)),
        };
        req.send().await.unwrap().status().as_u16()
    }
}

/// A client token issued from a key, and keys created by the key or by its token, all die
/// with the key, on every instance, within a second.
#[tokio::test]
async fn revoking_a_key_ends_its_client_tokens_and_every_key_it_created() {
    let a = crate::spawn_fleet().await;
    let b = TestApp::replica_of(&mirai::services(), &a).await.unwrap();
    let tenant = Uuid::now_v7();
    let admin = a.token(Some(tenant), &[Role::OrgAdmin]);
    let (s, parent) = a.post("/api/v1/identity/api-keys", Some(&admin), json!({ "name": "parent" })).await;
    assert_eq!(s, 201, "{parent}");
    let parent_id = parent["id"].as_str().unwrap().to_owned();
    let parent_secret = parent["secret"].as_str().unwrap().to_owned();
    wait_until("the parent key works", Duration::from_secs(5), || works(&a, Cred::Bearer(parent_secret.clone()))).await;

    // A client-credentials token bought with the key.
    let res = a
        .http
        .post(a.url("/api/v1/identity/token"))
        .basic_auth(&parent_id, Some(parent["basic_password"].as_str().unwrap()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let client_token = res.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    // A key created by the key, and one created through its client token.
    let (s, child) = a.post("/api/v1/identity/api-keys", Some(&parent_secret), json!({ "name": "child" })).await;
    assert_eq!(s, 201, "{child}");
    let (s, grandchild) =
        a.post("/api/v1/identity/api-keys", Some(&client_token), json!({ "name": "via-token" })).await;
    assert_eq!(s, 201, "{grandchild}");
    let creds = [
        ("the key", Cred::Bearer(parent_secret.clone())),
        (
            "the key as HTTP Basic",
            Cred::Basic(parent_id.clone(), parent["basic_password"].as_str().unwrap().to_owned()),
        ),
        ("its client token", Cred::Bearer(client_token.clone())),
        ("the key it created", Cred::Bearer(child["secret"].as_str().unwrap().to_owned())),
        ("the key its token created", Cred::Bearer(grandchild["secret"].as_str().unwrap().to_owned())),
    ];
    for app in [&a, &b] {
        for (what, cred) in &creds {
            wait_until(&format!("{what} works"), Duration::from_secs(5), || works(app, cred.clone())).await;
        }
    }
    // An unrelated key of the same tenant stays.
    let (_, bystander) = a.post("/api/v1/identity/api-keys", Some(&admin), json!({ "name": "bystander" })).await;
    let bystander = Cred::Bearer(bystander["secret"].as_str().unwrap().to_owned());
    wait_until("the bystander works", Duration::from_secs(5), || works(&b, bystander.clone())).await;

    let (s, _) = a.call(Method::DELETE, &format!("/api/v1/identity/api-keys/{parent_id}"), Some(&admin), None).await;
    assert_eq!(s, 200);
    refused_everywhere(&[&a, &b], &creds, Instant::now()).await;
    assert_eq!(bystander.status(&b, "/api/v1/identity/me").await, 200, "other keys are untouched");
    b.stop_instance().await;
    a.stop().await;
}

/// A member removed from a tenant, or whose roles change, loses the access their token
/// was issued under on every instance within a second; a new login gets the new access.
#[tokio::test]
async fn a_membership_change_ends_the_access_tokens_issued_before_it() {
    let a = crate::spawn_fleet().await;
    let b = TestApp::replica_of(&mirai::services(), &a).await.unwrap();
    let root = a.platform_admin();
    let (s, tenant) = a
        .post(
            "/api/v1/tenant/tenants",
            Some(&root),
            json!({ "kind": "org", "name": "Acme", "slug": format!("acme-{}", Uuid::now_v7().simple()) }),
        )
        .await;
    assert_eq!(s, 201, "{tenant}");
    let tenant = tenant["id"].as_str().unwrap().to_owned();
    let email = format!("ada-{}@example.com", Uuid::now_v7().simple());
    let password = "correct horse battery staple";
    let (s, user) =
        a.post("/api/v1/identity/users", Some(&root), json!({ "email": email, "password": password })).await;
    assert_eq!(s, 201, "{user}");
    let user = user["id"].as_str().unwrap().to_owned();
    let memberships = format!("/api/v1/tenant/tenants/{tenant}/memberships");
    let (s, _) = a.post(&memberships, Some(&root), json!({ "user_id": user, "roles": ["org_admin"] })).await;
    assert_eq!(s, 201);
    let login = || async {
        let (s, body) = a
            .post("/api/v1/identity/login", None, json!({ "email": email, "password": password, "tenant_id": tenant }))
            .await;
        (s == 200).then(|| (body["access_token"].as_str().unwrap().to_owned(), body["roles"].clone()))
    };
    let (as_admin, roles) = poll("identity learns the membership", Duration::from_secs(5), login).await;
    assert_eq!(roles, json!(["org_admin"]));
    let token = Cred::Bearer(as_admin.clone());
    for app in [&a, &b] {
        wait_until("the token works", Duration::from_secs(5), || async {
            token.status(app, &memberships).await == 200
        })
        .await;
    }

    // Demoted: the org-admin token dies everywhere; a new login carries the new role.
    let (s, _) = a.post(&memberships, Some(&root), json!({ "user_id": user, "roles": ["learner"] })).await;
    assert_eq!(s, 201);
    refused_everywhere(&[&a, &b], &[("the token issued before the demotion", token)], Instant::now()).await;
    let (learner, _) = poll("a new login is a learner", Duration::from_secs(5), || async {
        login().await.filter(|(_, roles)| *roles == json!(["learner"]))
    })
    .await;
    let as_learner = Cred::Bearer(learner);
    for app in [&a, &b] {
        assert_eq!(as_learner.status(app, "/api/v1/identity/me").await, 200, "the new token works");
    }

    // Removed: the learner token dies everywhere too, and login to the tenant is refused.
    let (s, _) = a.call(Method::DELETE, &format!("{memberships}/{user}"), Some(&root), None).await;
    assert!(s.is_success(), "{s}");
    refused_everywhere(&[&a, &b], &[("the token of a removed member", as_learner)], Instant::now()).await;
    wait_until("login to the tenant is refused", Duration::from_secs(5), || async { login().await.is_none() }).await;
    b.stop_instance().await;
    a.stop().await;
}
