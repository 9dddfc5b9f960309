//! Invitations: accepted once, by the invited email, before they expire.

use mirai_kit::Role;
use mirai_testkit::assert_problem;
use serde_json::json;
use uuid::Uuid;

use crate::{spawn, tenant};

#[tokio::test]
async fn only_the_invited_user_accepts_once() {
    let app = spawn().await;
    let t = tenant(&app, "invites").await;
    let admin = app.token(Some(t), &[Role::OrgAdmin]);
    let (s, inv) = app
        .post(
            &format!("/api/v1/tenant/tenants/{t}/invitations"),
            Some(&admin),
            json!({ "email": "Ada@Example.com", "roles": ["author"] }),
        )
        .await;
    assert_eq!(s, 201, "{inv}");
    assert_eq!(inv["email"], "ada@example.com");
    let token = inv["token"].as_str().unwrap();

    let mut stranger = app.claims(None, &[]);
    stranger.email = Some("mallory@example.com".into());
    assert_problem(
        &app.post("/api/v1/tenant/invitations/accept", Some(&app.sign(&stranger)), json!({ "token": token })).await,
        403,
        "forbidden",
    );

    let mut ada = app.claims(None, &[]);
    ada.email = Some("ada@example.com".into());
    let ada_id: Uuid = ada.sub.trim_start_matches("user:").parse().unwrap();
    let ada = app.sign(&ada);
    assert_problem(
        &app.post("/api/v1/tenant/invitations/accept", Some(&ada), json!({ "token": "mi_nonsense" })).await,
        422,
        "validation",
    );
    let (s, m) = app.post("/api/v1/tenant/invitations/accept", Some(&ada), json!({ "token": token })).await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["user_id"], ada_id.to_string());
    assert_eq!(m["roles"], json!(["author"]));
    assert_problem(
        &app.post("/api/v1/tenant/invitations/accept", Some(&ada), json!({ "token": token })).await,
        409,
        "conflict",
    );
    let event = app
        .wait_for_event("tenant.invitation.created.v1", std::time::Duration::from_secs(5), |e| {
            e.data["email"] == "ada@example.com"
        })
        .await;
    assert_eq!(event.tenantid, Some(t));
    assert!(event.data.get("token").is_none(), "the token never travels in an event");

    let learner = app.token(Some(t), &[Role::Learner]);
    let res = app
        .post(
            &format!("/api/v1/tenant/tenants/{t}/invitations"),
            Some(&learner),
            json!({ "email": "x@y.z", "roles": ["learner"] }),
        )
        .await;
    assert_problem(&res, 403, "forbidden");
    let res = app
        .post(
            &format!("/api/v1/tenant/tenants/{t}/invitations"),
            Some(&admin),
            json!({ "email": "not-an-email", "roles": ["learner"] }),
        )
        .await;
    assert_problem(&res, 422, "validation");
    app.stop().await;
}
