//! tenant's black-box tests: the service on port 0 with its own database and NATS prefix.

mod invitations;
mod memberships;
mod settings;
mod tenants;

use mirai_testkit::TestApp;
use serde_json::json;
use uuid::Uuid;

pub async fn spawn() -> TestApp {
    TestApp::spawn(&[mirai_tenant::service()]).await
}

/// Creates a tenant as a platform admin; returns its id.
pub async fn tenant(app: &TestApp, slug: &str) -> Uuid {
    let (s, t) = app
        .post(
            "/api/v1/tenant/tenants",
            Some(&app.platform_admin()),
            json!({ "kind": "org", "name": slug, "slug": slug }),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    t["id"].as_str().unwrap().parse().unwrap()
}
