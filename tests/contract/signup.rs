//! People join a tenant by invitation. Accounts are platform-wide, so an org admin can
//! neither create one nor learn whether an address is registered; the invitee signs up
//! with the invitation's token (owning it proves owning the address) and accepts it.

use std::time::Duration;

use mirai_kit::Role;
use mirai_testkit::{poll, wait_until};
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn an_org_admin_invites_and_the_invitee_signs_up_and_accepts() {
    let app = crate::spawn_fleet().await;
    let root = app.platform_admin();
    let slug = format!("acme-{}", Uuid::now_v7().simple());
    let (s, tenant) =
        app.post("/api/v1/tenant/tenants", Some(&root), json!({ "kind": "org", "name": "Acme", "slug": slug })).await;
    assert_eq!(s, 201, "{tenant}");
    let tenant: Uuid = tenant["id"].as_str().unwrap().parse().unwrap();
    let org_admin = app.token(Some(tenant), &[Role::OrgAdmin]);

    // Someone already registered on the platform (in another tenant, say).
    let known = format!("known-{}@example.com", Uuid::now_v7().simple());
    let (s, _) = app.post("/api/v1/identity/users", Some(&root), json!({ "email": known, "password": PASSWORD })).await;
    assert_eq!(s, 201);
    // An org admin cannot create accounts, so cannot probe addresses with the 409.
    for email in [known.as_str(), "nobody@example.com"] {
        let (s, body) =
            app.post("/api/v1/identity/users", Some(&org_admin), json!({ "email": email, "password": PASSWORD })).await;
        assert_eq!(s, 403, "{body}");
    }

    let invite = |email: String| {
        let (app, org_admin) = (&app, org_admin.clone());
        async move {
            let path = format!("/api/v1/tenant/tenants/{tenant}/invitations");
            let (s, inv) = app.post(&path, Some(&org_admin), json!({ "email": email, "roles": ["learner"] })).await;
            assert_eq!(s, 201, "{inv}");
            inv["token"].as_str().unwrap().to_owned()
        }
    };
    let signup = |token: String| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/identity/signup",
                None,
                json!({ "invitation_token": token, "password": PASSWORD, "display_name": "Ada" }),
            )
            .await
        }
    };

    // The invitee signs up with the token (once identity has learned the invitation).
    let ada = format!("ada-{}@example.com", Uuid::now_v7().simple());
    let token = invite(ada.clone()).await;
    let created = poll("identity learns the invitation", Duration::from_secs(5), || async {
        let (s, body) = signup(token.clone()).await;
        (s == 201).then_some(body)
    })
    .await;
    assert_eq!(created["email"], json!(ada), "the account is for the invited address");
    // Only the token's holder learns the account exists now.
    let (s, again) = signup(token.clone()).await;
    assert_eq!(s, 409, "{again}");

    // Log in, accept, and log in to the tenant as a learner.
    let login = |tenant_id: Option<Uuid>| {
        let (app, ada) = (&app, ada.clone());
        async move {
            app.post(
                "/api/v1/identity/login",
                None,
                json!({ "email": ada, "password": PASSWORD, "tenant_id": tenant_id }),
            )
            .await
        }
    };
    let (s, session) = login(None).await;
    assert_eq!(s, 200, "{session}");
    let session = session["access_token"].as_str().unwrap().to_owned();
    let (s, membership) =
        app.post("/api/v1/tenant/invitations/accept", Some(&session), json!({ "token": token })).await;
    assert_eq!(s, 200, "{membership}");
    wait_until("a login to the tenant", Duration::from_secs(5), || async {
        let (s, body) = login(Some(tenant)).await;
        s == 200 && body["roles"] == json!(["learner"])
    })
    .await;

    // Someone else holding the (used) token learns nothing about it: the address check
    // comes before whether it was accepted or expired.
    let (s, _) = app.post("/api/v1/identity/login", None, json!({ "email": known, "password": PASSWORD })).await;
    assert_eq!(s, 200);
    let (_, other) = app.post("/api/v1/identity/login", None, json!({ "email": known, "password": PASSWORD })).await;
    let other = other["access_token"].as_str().unwrap().to_owned();
    let (s, body) = app.post("/api/v1/tenant/invitations/accept", Some(&other), json!({ "token": token })).await;
    assert_eq!(s, 403, "{body}");

    // An invitation to an address that already has an account: sign-up says to log in.
    let token = invite(known.clone()).await;
    let answer: (u16, Value) = poll("identity learns the second invitation", Duration::from_secs(5), || async {
        let (s, body) = signup(token.clone()).await;
        (s != 422).then_some((s.as_u16(), body))
    })
    .await;
    assert_eq!(answer.0, 409, "{}", answer.1);
    assert!(answer.1["detail"].as_str().unwrap().contains("log in and accept"), "{}", answer.1);

    // A made-up token is just invalid.
    let (s, _) = signup(format!("mi_{}_{}", tenant.simple(), "0".repeat(64))).await;
    assert_eq!(s, 422);
    let (s, _) = signup("garbage".into()).await;
    assert_eq!(s, 422);
    app.stop().await;
}
