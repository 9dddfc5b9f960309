//! Memberships and their events.

use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use mirai_kit::Role;
use mirai_testkit::assert_problem;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::{spawn, tenant};

#[tokio::test]
async fn grant_list_revoke_and_publish_events() {
    let app = spawn().await;
    let t = tenant(&app, "members").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let path = format!("/api/v1/tenant/tenants/{t}/memberships");
    let user = Uuid::now_v7();
    // People join by invitation: an org admin cannot pull an arbitrary account in by id.
    let (s, refused) = app.post(&path, Some(&admin), json!({ "user_id": user, "roles": ["learner"] })).await;
    assert_eq!(s, 422, "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("invitation"), "{refused}");
    let (s, m) = app
        .post(&path, Some(&app.platform_admin()), json!({ "user_id": user, "roles": ["learner", "author", "learner"] }))
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["roles"], json!(["author", "learner"]), "sorted and deduplicated");
    let (s, _) = app.post(&path, Some(&admin), json!({ "user_id": user, "roles": ["org_manager"] })).await;
    assert_eq!(s, 201, "re-granting replaces roles");
    assert_problem(
        &app.post(&path, Some(&admin), json!({ "user_id": user, "roles": ["platform_admin"] })).await,
        422,
        "validation",
    );
    assert_problem(
        &app.post(&path, Some(&admin), json!({ "user_id": user, "roles": ["wizard"] })).await,
        422,
        "validation",
    );
    assert_problem(&app.post(&path, Some(&admin), json!({ "user_id": user, "roles": [] })).await, 422, "validation");
    let (_, page) = app.get(&path, &admin).await;
    assert_eq!(page["data"][0]["roles"], json!(["org_manager"]));

    assert_eq!(app.call(Method::DELETE, &format!("{path}/{user}"), Some(&admin), None).await.0, 204);
    assert_eq!(app.call(Method::DELETE, &format!("{path}/{user}"), Some(&admin), None).await.0, 204, "idempotent");
    assert_problem(
        &app.call(Method::DELETE, &format!("{path}/{}", Uuid::now_v7()), Some(&admin), None).await,
        404,
        "not-found",
    );
    assert_eq!(app.get(&path, &admin).await.1["data"], json!([]));

    // The three changes went out as events with increasing revisions, under the tenant.
    let bus = &mirai_testkit::bus(&app.prefix).await;
    let stream = bus.ensure_stream("tenant").await.unwrap();
    let reader = stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: bus.subject("tenant.membership.>"),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = reader.messages().await.unwrap();
    let mut seen = vec![];
    while seen.len() < 3 {
        let msg =
            tokio::time::timeout(Duration::from_secs(5), messages.next()).await.expect("events").unwrap().unwrap();
        let env: mirai_events::Envelope = serde_json::from_slice(&msg.payload).unwrap();
        assert_eq!(env.tenantid, Some(t));
        assert_eq!(env.actor.as_deref().map(|a| a.starts_with("user:")), Some(true));
        assert!(env.traceparent.is_some(), "the request's trace rides on the event");
        seen.push((env.kind, env.data["revision"].as_i64().unwrap()));
    }
    assert_eq!(
        seen,
        [
            ("tenant.membership.granted.v1".to_owned(), 1),
            ("tenant.membership.granted.v1".to_owned(), 2),
            ("tenant.membership.revoked.v1".to_owned(), 3)
        ]
    );
    app.stop().await;
}
