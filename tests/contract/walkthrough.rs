//! The README's curl walkthrough, as a test against `mirai dev`-style wiring: bootstrap →
//! create a tenant → invite and create an org admin → log in → create an API key → call
//! with it → revoke it. Every call goes through the clients generated from the committed
//! OpenAPI documents (`mirai-client`), so a status or a body its document does not
//! describe fails the test.

use std::time::Duration;

use mirai_client::Clients;
use mirai_client::identity::types::{CreateApiKey, CreateUser, LoginRequest};
use mirai_client::identity::{Error, ResponseValue};
use mirai_client::tenant::types::{AcceptInvitation, CreateInvitation, CreateTenant, TenantKind};
use mirai_testkit::{assert_problem, wait_until};
use uuid::Uuid;

const GRACE: &str = "grace@acme.example";
const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn integrator_walkthrough() {
    let app = crate::spawn_fleet().await;
    let anonymous = Clients::anonymous(&app.url).unwrap();

    // 1. Bootstrap the platform admin (printed once by `mirai admin bootstrap`) and log in.
    let ctx = app.fleet().service("identity").unwrap();
    let root = mirai_identity::bootstrap(ctx, "admin@mirai.local").await.unwrap().unwrap();
    let login = anonymous.identity.login(&login_request(&root.email, &root.password, None)).await.expect("admin login");
    assert_eq!(login.status(), 200);
    let admin = Clients::bearer(&app.url, &login.access_token).unwrap();

    // 2. Create a tenant.
    let acme = admin
        .tenant
        .create_tenant(&CreateTenant { kind: TenantKind::Org, name: "Acme".into(), slug: "acme".into() })
        .await
        .expect("create the tenant");
    assert_eq!(acme.status(), 201);

    // 3. Invite the org admin, create their account, and let them accept.
    let invite = admin
        .tenant
        .create_invitation(&acme.id, &CreateInvitation { email: GRACE.into(), roles: vec!["org_admin".into()] })
        .await
        .expect("invite grace");
    assert_eq!(invite.status(), 201);
    let user = admin
        .identity
        .create_user(&CreateUser { email: GRACE.into(), password: PASSWORD.into(), display_name: Some("Grace".into()) })
        .await
        .expect("create grace's account");
    assert_eq!(user.status(), 201);
    let first = anonymous.identity.login(&login_request(GRACE, PASSWORD, None)).await.expect("grace's first login");
    let grace = Clients::bearer(&app.url, &first.access_token).unwrap();
    let membership = grace
        .tenant
        .accept_invitation(&AcceptInvitation { token: invite.token.clone() })
        .await
        .expect("grace accepts the invitation");
    assert_eq!(membership.status(), 200);
    assert_eq!(membership.roles, ["org_admin"]);

    // 4. Log in to the tenant: the membership event reached identity's read model.
    let in_acme = login_request(GRACE, PASSWORD, Some(acme.id));
    wait_until("identity learns the membership", Duration::from_secs(5), || async {
        documented("login to the tenant", anonymous.identity.login(&in_acme).await)
            .is_some_and(|session| session.status() == 200 && session.roles == ["org_admin"])
    })
    .await;
    let session = anonymous.identity.login(&in_acme).await.expect("grace logs in to the tenant");
    assert_eq!(session.tenant_id, Some(acme.id));
    let org_admin = Clients::bearer(&app.url, &session.access_token).unwrap();

    // 5. Create an API key and call with it.
    let key = org_admin
        .identity
        .create_api_key(&CreateApiKey { name: "hr-sync".into(), expires_at: None, roles: None, scopes: vec![] })
        .await
        .expect("create the API key");
    assert_eq!(key.status(), 201);
    let with_key = Clients::bearer(&app.url, &key.secret).unwrap();
    let list_members = || with_key.tenant.list_memberships(&acme.id, None, None);
    wait_until("the key works", Duration::from_secs(5), || async {
        documented("list members with the key", list_members().await).is_some_and(|page| page.status() == 200)
    })
    .await;
    let members = list_members().await.expect("list members with the key");
    assert_eq!(members.data[0].user_id, user.id);

    // 6. Revoke it: refused from then on.
    let revoked = org_admin.identity.revoke_api_key(&key.id).await.expect("revoke the key");
    assert_eq!(revoked.status(), 200);
    wait_until("the key is refused", Duration::from_secs(1), || async {
        documented("list members with the revoked key", list_members().await).is_none()
    })
    .await;
    match list_members().await {
        Err(Error::ErrorResponse(problem)) => {
            let status = problem.status();
            assert_problem(&(status, serde_json::to_value(problem.into_inner()).unwrap()), 401, "unauthenticated");
        }
        other => panic!("a revoked key is refused with a problem document: {:?}", other.map(|page| page.status())),
    }
    app.stop().await;
}

fn login_request(email: &str, password: &str, tenant_id: Option<Uuid>) -> LoginRequest {
    LoginRequest { email: email.into(), password: password.into(), tenant_id }
}

/// A call made while waiting for something asynchronous: its success, or `None` for an
/// error its document lists (what is awaited has not happened yet). A status the document
/// does not list, or a body that does not match it, fails the test.
fn documented<T, E>(call: &str, result: Result<ResponseValue<T>, Error<E>>) -> Option<ResponseValue<T>>
where
    Error<E>: std::fmt::Display,
{
    match result {
        Ok(response) => Some(response),
        Err(Error::ErrorResponse(_)) => None,
        Err(e) => panic!("{call}: {e}"),
    }
}
