//! Identity's stream is compacted per key (`COMPACTED_CONTEXTS`): one message per event
//! type and key, so it neither grows with churn nor ages keys out, and a key store that
//! replays it from the start still learns every live key, every revocation and the
//! newest access of every member.

use std::time::Duration;

use futures::StreamExt;
use mirai_kit::Role;
use mirai_testkit::{TestApp, poll, wait_until};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_key_store_replaying_the_compacted_stream_still_knows_every_key_and_revocation() {
    let a = crate::spawn_fleet().await;
    let tenant = Uuid::now_v7();
    let admin = a.token(Some(tenant), &[Role::OrgAdmin]);
    let me = |app: &TestApp, cred: String| {
        let req = app.http.get(app.url("/api/v1/identity/me")).bearer_auth(cred);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // Keys created, one revoked.
    let mut keys = Vec::new();
    for name in ["kept-1", "revoked", "kept-2"] {
        let (s, key) = a.post("/api/v1/identity/api-keys", Some(&admin), json!({ "name": name })).await;
        assert_eq!(s, 201, "{key}");
        keys.push((key["id"].as_str().unwrap().to_owned(), key["secret"].as_str().unwrap().to_owned()));
    }
    let (s, _) = a.call(Method::DELETE, &format!("/api/v1/identity/api-keys/{}", keys[1].0), Some(&admin), None).await;
    assert_eq!(s, 200);

    // A member whose roles change three times: three access changes, one kept.
    let root = a.platform_admin();
    let (s, t) = a
        .post(
            "/api/v1/tenant/tenants",
            Some(&root),
            json!({ "kind": "org", "name": "Keys", "slug": format!("keys-{}", Uuid::now_v7().simple()) }),
        )
        .await;
    assert_eq!(s, 201);
    let org = t["id"].as_str().unwrap().to_owned();
    let email = format!("m-{}@example.com", Uuid::now_v7().simple());
    let password = "correct horse battery staple";
    let (_, user) =
        a.post("/api/v1/identity/users", Some(&root), json!({ "email": email, "password": password })).await;
    let user = user["id"].as_str().unwrap().to_owned();
    let memberships = format!("/api/v1/tenant/tenants/{org}/memberships");
    for roles in [json!(["org_admin"]), json!(["author"]), json!(["learner"])] {
        let (s, _) = a.post(&memberships, Some(&root), json!({ "user_id": user, "roles": roles })).await;
        assert_eq!(s, 201);
    }
    let login = || async {
        let (s, body) = a
            .post("/api/v1/identity/login", None, json!({ "email": email, "password": password, "tenant_id": org }))
            .await;
        (s == 200 && body["roles"] == json!(["learner"])).then(|| body["access_token"].as_str().unwrap().to_owned())
    };
    let learner = poll("identity projects the last change", Duration::from_secs(5), login).await;

    // The stream keeps one message per subject, and the key subjects are keyed.
    let admin_bus = mirai_testkit::bus(&a.prefix).await;
    let mut stream = admin_bus.stream("identity").await.unwrap();
    assert_eq!(stream.info().await.unwrap().config.max_messages_per_subject, 1, "identity's stream is compacted");
    let access = admin_bus.subject("identity.access.changed.v1.>");
    wait_until("the access changes are published", Duration::from_secs(5), || {
        let stream = stream.clone();
        let access = access.clone();
        async move {
            let mut subjects = stream.info_with_subjects(access).await.unwrap();
            let mut counts = Vec::new();
            while let Some(Ok((_, n))) = subjects.next().await {
                counts.push(n);
            }
            counts == vec![1]
        }
    })
    .await;
    let mut all = stream.info_with_subjects(admin_bus.subject(">")).await.unwrap();
    while let Some(Ok((subject, n))) = all.next().await {
        assert_eq!(n, 1, "{subject} holds one message");
        assert!(subject.split('.').count() >= 6, "{subject} is keyed");
    }

    // A new instance replays the compacted stream: live keys work, the revoked one does
    // not, and the member's tokens from before the last change are refused.
    let b = TestApp::replica_of(&mirai::services(), &a).await.unwrap();
    for (i, (_, secret)) in keys.iter().enumerate() {
        let want = if i == 1 { 401 } else { 200 };
        wait_until(&format!("key {i} answers {want} on the new instance"), Duration::from_secs(5), || async {
            me(&b, secret.clone()).await == want
        })
        .await;
    }
    assert_eq!(me(&b, learner.clone()).await, 200, "the newest access verifies");
    b.stop_instance().await;
    a.stop().await;
}
